"""Label vocabularies and their text embeddings, cached per model.

The everyday vocabulary ships as ``resources/vocabulary.txt`` (one label per line, ``#``
comments). A label is embedded as written (the labels are phrased as captions: "a dog", "a
city street"). Embeddings are cached in the cache directory as
``vocab-<sha256(model identity, labels)[:16]>.npy``, so each model encodes a vocabulary once;
a changed vocabulary or model gets a new file. Used to name visual groups (groups.py) and as
the contrast set that calibrates zero-shot tag scores (tags.py).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .config import resolve_cache_dir, resources_dir
from .errors import ClipcoreError

__all__ = ["DEFAULT_VOCABULARY", "label_embeddings", "load_labels"]

DEFAULT_VOCABULARY = "vocabulary.txt"


def load_labels(path: str | os.PathLike | None = None) -> list[str]:
    """Labels from a vocabulary file (default: the shipped everyday vocabulary), in file order,
    blank lines and ``#`` comments skipped, duplicates dropped. Raises ClipcoreError when the
    file cannot be read or holds no label."""
    path = Path(path) if path else resources_dir() / DEFAULT_VOCABULARY
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ClipcoreError(f"Cannot read the vocabulary {path} ({exc}); give a UTF-8 text file "
                            "with one label per line.") from exc
    labels = list(dict.fromkeys(s.strip() for s in lines if s.strip() and not s.lstrip().startswith("#")))
    if not labels:
        raise ClipcoreError(f"The vocabulary {path} has no labels; write one label per line.")
    return labels


def label_embeddings(encoder, labels: list[str], cache_dir=None) -> np.ndarray:
    """(len(labels), D) float32, L2-normalised text embeddings of ``labels`` by ``encoder``
    (an Encoder: ``identity``, ``encode_texts``), read from the cache when this model already
    encoded this exact list. A cache file that cannot be read or written is ignored."""
    key = hashlib.sha256("\n".join([encoder.identity, *labels]).encode()).hexdigest()[:16]
    path = resolve_cache_dir(cache_dir) / f"vocab-{key}.npy"
    try:
        cached = np.load(path, allow_pickle=False)
        if cached.shape[0] == len(labels):
            return cached.astype(np.float32, copy=False)
    except (OSError, ValueError):
        pass
    vectors = np.asarray(encoder.encode_texts(labels), np.float32)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.save(f, vectors, allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
    return vectors
