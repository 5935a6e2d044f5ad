"""Auto-tags (smart albums): a tag is words (and optionally example photos) plus a threshold;
a photo has the tag when its zero-shot score passes the threshold.

Score: the tag's vector is the text embedding of its words, moved towards the mean embedding of
its example photos when it has some (``normalise(text + mean(examples))``). A photo's raw score
is the cosine with that vector; raw cosines between images and texts differ from model to model
(0.2-0.35 for OpenCLIP, 0.5-0.6 for the shapes model), so the score is calibrated per photo
against the everyday vocabulary (vocabulary.py): ``z = (cos(photo, tag) - mean_v) / std_v``,
where mean_v and std_v are the photo's cosine mean and standard deviation over the vocabulary's
labels. z says how many standard deviations the tag stands out from what a photo usually
resembles; the same threshold then means about the same on every model. Measured with the
shapes model on 240 drawn shapes (tests/clipcore/test_tags.py): the words "circle" give
circles z >= 2.6 for 95% of them and other shapes z <= 0.75 for 95%, so the default threshold
:data:`DEFAULT_THRESHOLD` = 1.5 sits in the gap. Tags with example photos score higher (images
resemble images more than texts); tune the threshold with the preview.

Membership is stored in the catalog (the tag_members table) and refreshed for new photos after
each index run and in full when a tag changes (:func:`tag_scores` over all vectors: one
(N, D) x (D, V + 1) product, ~1 s for 100,000 photos).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .errors import ClipcoreError

__all__ = ["DEFAULT_THRESHOLD", "TagDef", "tag_vector", "tag_scores", "check_name"]

DEFAULT_THRESHOLD = 1.5
_NAME = re.compile(r"^[\w][\w.-]{0,63}$")
_BLOCK = 16_384


@dataclass
class TagDef:
    """A tag as the user defines it: ``name`` (letters, digits, ``_ . -``; used as ``tag:NAME``
    in queries), ``words`` (the text the photos should match), ``examples`` (paths of example
    photos, may be empty), ``threshold`` (calibrated score z, see the module docstring)."""

    name: str
    words: str
    threshold: float = DEFAULT_THRESHOLD
    examples: list[str] = field(default_factory=list)


def check_name(name: str) -> str:
    """The tag name, or ClipcoreError saying what a tag name may be."""
    if not _NAME.match(name or ""):
        raise ClipcoreError(f"'{name}' cannot be a tag name; use letters, digits, '_', '.' or "
                            "'-' (at most 64), starting with a letter or digit, e.g. 'receipts'.")
    return name


def tag_vector(text_vector: np.ndarray, example_vectors: np.ndarray | None = None) -> np.ndarray:
    """(D,) float32 L2-normalised vector of a tag: its words' embedding (D,), moved to the mean
    of its examples' embeddings (M, D) when there are any."""
    v = np.asarray(text_vector, np.float32).reshape(-1)
    if example_vectors is not None and len(example_vectors):
        mean = np.asarray(example_vectors, np.float32).mean(axis=0)
        v = v / np.linalg.norm(v) + mean / max(float(np.linalg.norm(mean)), 1e-12)
    return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)


def tag_scores(vectors: np.ndarray, tag_vectors: np.ndarray, label_vectors: np.ndarray,
               cancel=None) -> np.ndarray:
    """Calibrated scores z (N, T) float32 of photos ``vectors`` (N, D) for tags ``tag_vectors``
    (T, D), against the vocabulary ``label_vectors`` (V, D) (all L2-normalised); see the module
    docstring. Raises jobs.Cancelled."""
    from .jobs import check_cancel

    tags = np.atleast_2d(np.asarray(tag_vectors, np.float32))
    labels = np.asarray(label_vectors, np.float32)
    out = np.empty((len(vectors), len(tags)), np.float32)
    for start in range(0, len(vectors), _BLOCK):
        check_cancel(cancel)
        block = vectors[start:start + _BLOCK]
        vocab = block @ labels.T
        mean, std = vocab.mean(axis=1, keepdims=True), vocab.std(axis=1, keepdims=True)
        out[start:start + _BLOCK] = (block @ tags.T - mean) / np.maximum(std, 1e-6)
    return out
