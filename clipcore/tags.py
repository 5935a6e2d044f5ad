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

__all__ = [
    "DEFAULT_THRESHOLD",
    "TagDef",
    "check_name",
    "define_tag",
    "list_tags",
    "refresh_tags",
    "tag_filter",
    "tag_member_ids",
    "tag_members",
    "tag_scores",
    "tag_vector",
]

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


# -- the library's tags -------------------------------------------------------------------------
def _model_id(library, identity: str | None = None) -> int | None:
    identity = identity or library.model_identity()
    return library.catalog.model_id(identity) if identity else None


def define_tag(library, encoder, tag: TagDef, cancel=None) -> int:
    """Create or redefine ``tag`` in the library: embed its words and examples with ``encoder``
    (the library's model), store it, score every photo. Returns how many photos have it.
    Raises ClipcoreError (bad name, unreadable example), LibraryBusyError, jobs.Cancelled."""
    from .imaging import decode_image

    check_name(tag.name)
    if not tag.words.strip():
        raise ClipcoreError(f"The tag '{tag.name}' needs words describing its photos, e.g. 'a receipt'.")
    text = encoder.encode_texts([tag.words])[0]
    examples = None
    if tag.examples:
        examples = encoder.encode_images([decode_image(p, min_side=encoder.image_size).image
                                          for p in tag.examples])
    model_id = library.catalog.model_id(encoder.identity)
    if model_id is None:
        raise ClipcoreError("No photos are indexed with this model yet; index a folder first.")
    with library.writer_lock.hold():
        tag_id = library.catalog.save_tag(tag.name, tag.words, tag.threshold, list(tag.examples),
                                          {model_id: tag_vector(text, examples)})
    refresh_tags(library, encoder, cancel=cancel, model_identity=encoder.identity)
    return len(library.catalog.tag_members(tag_id, model_id)[0])


def refresh_tags(library, encoder=None, *, cancel=None, model_identity: str | None = None,
                 progress=None) -> int:
    """Score the photos indexed since each tag's last refresh (all photos for a new or changed
    tag) and store who has the tag. ``encoder`` (an Encoder, a zero-argument callable returning
    one, or None) is only needed when the vocabulary's embeddings are not cached yet. Returns
    the number of photos scored. Raises LibraryBusyError, jobs.Cancelled."""
    from .jobs import check_cancel, report
    from .library import gather_vectors

    cat = library.catalog
    identity = model_identity or library.model_identity()
    model_id = _model_id(library, identity)
    tags = cat.tags()
    if model_id is None or not tags:
        return 0
    labels = None
    scored = 0
    generation = cat.generation()
    for n, tag in enumerate(tags):
        check_cancel(cancel)
        report(progress, n, len(tags), "scoring tags")
        stored = cat.tag_vector(tag.id, model_id)
        if stored is None or stored[1] >= generation:
            continue
        vector, scored_to = stored
        ids, vecs = gather_vectors(cat.iter_vectors(model_id, since_seq=scored_to), len(vector))
        if labels is None:
            labels = _vocabulary(library, encoder, identity)
        z = tag_scores(vecs, vector, labels, cancel)[:, 0] if len(ids) else np.empty(0, np.float32)
        keep = z >= tag.threshold
        with library.writer_lock.hold():
            cat.put_tag_members(tag.id, model_id, ids, ids[keep], z[keep], generation)
        scored += len(ids)
    report(progress, len(tags), len(tags), "scoring tags")
    return scored


def _vocabulary(library, encoder, identity: str) -> np.ndarray:
    """The everyday vocabulary's embeddings: from the cache, else encoded by ``encoder`` (an
    Encoder or a callable returning one), else by the library's model loaded here."""
    from .vocabulary import label_embeddings, load_labels

    names = load_labels()

    class _CacheOnly:
        def __init__(self, identity: str):
            self.identity = identity

        def encode_texts(self, texts):
            raise LookupError

    cache_only = _CacheOnly(identity)
    try:
        return label_embeddings(cache_only, names)
    except LookupError:
        pass
    if encoder is not None and not hasattr(encoder, "encode_texts"):
        encoder = encoder()
    if encoder is None:
        from .encoder import Encoder

        encoder = Encoder.load(library.model_spec())
    return label_embeddings(encoder, names)


def list_tags(library) -> list[tuple]:
    """[(TagRow, number of photos with it)] by name, for the library's model."""
    model_id = _model_id(library)
    counts = library.catalog.tag_counts(model_id) if model_id is not None else {}
    return [(t, counts.get(t.id, 0)) for t in library.catalog.tags()]


def tag_member_ids(library, name: str, model_identity: str | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(ids (n,) int64, scores (n,) float32) of the photos with tag ``name``, best first.
    Raises ClipcoreError when there is no such tag."""
    tag = library.catalog.tag(name)
    if tag is None:
        known = ", ".join(t.name for t in library.catalog.tags()) or "none yet"
        raise ClipcoreError(f"There is no tag '{name}' (tags: {known}); add it with "
                            f"'clipcore tag add {name} \"words\"'.")
    model_id = _model_id(library, model_identity)
    if model_id is None:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    return library.catalog.tag_members(tag.id, model_id)


def tag_members(library, name: str) -> list[tuple[str, float]]:
    """[(path, score)] of the photos with tag ``name``, best first. Raises ClipcoreError."""
    ids, scores = tag_member_ids(library, name)
    rows = {r.id: r.path for r in library.images(ids.tolist())}
    return [(rows[i], float(s)) for i, s in zip(ids.tolist(), scores.tolist()) if i in rows]


def tag_filter(library, terms: list, model_identity: str | None = None
               ) -> tuple[np.ndarray, np.ndarray | None]:
    """What the ``tag:`` terms of a query keep: (allowed ids (n,) int64: the photos with every
    positive tag and none of the negative ones; the first positive tag's vector to rank by when
    the query has nothing else, else None). Raises ClipcoreError for an unknown tag,
    QueryError for a query of negative tags only."""
    from .errors import QueryError

    positive = [t.value for t in terms if t.kind == "tag" and t.weight > 0]
    negative = [t.value for t in terms if t.kind == "tag" and t.weight <= 0]
    if not positive and not any(t.kind != "tag" for t in terms):
        raise QueryError("A query of '- tag:...' terms only keeps everything else; add words "
                         "or a tag to look for, e.g. 'beach - tag:screenshots'.")
    model_id = _model_id(library, model_identity)
    if positive:
        allowed = tag_member_ids(library, positive[0], model_identity)[0]
        for name in positive[1:]:
            allowed = np.intersect1d(allowed, tag_member_ids(library, name, model_identity)[0])
    else:
        allowed = library.catalog.vector_ids(model_id) if model_id is not None else np.empty(0, np.int64)
    for name in negative:
        allowed = np.setdiff1d(allowed, tag_member_ids(library, name, model_identity)[0])
    vector = None
    if positive and model_id is not None:
        stored = library.catalog.tag_vector(library.catalog.tag(positive[0]).id, model_id)
        vector = stored[0] if stored else None
    return np.asarray(allowed, np.int64), vector
