"""The library's visual groups, cached per model and kept up to date as photos come and go.

:func:`library_groups` clusters once (groups.cluster + name_groups) and keeps the result in
``<data dir>/groups-<key>.npz``, key = sha256(model identity, vocabulary labels)[:16]: the
catalog ids, each one's group, the group centres (k, D) and names, and the catalog's
generation and id when it was made. A later call reads the library's vectors and compares ids
with the cache: the same photos give the cached groups back (no clustering, well under a second
for 100,000 photos); photos indexed since, and photos embedded again under the same id (the
catalog stamps each vector with the generation that wrote it: ``vectors.seq``), are put in
the group of their nearest centre (one (n, D) x (D, k) product, as groups.cluster assigns every
photo outside its fitting sample) and photos gone are dropped, and the cache is rewritten;
when more than :data:`REFIT_GROWTH` of the photos are new, or ``refit=True`` ("Regroup"), it
clusters again. A cache file that cannot be read, or was made for vectors of another dimension,
is ignored, and so is one made from another catalog (its id) or from a later generation than
the catalog's; one that cannot be written is skipped (the groups are still returned).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .groups import Group, cluster, groups_from, name_groups
from .jobs import Progress, check_cancel, report

__all__ = ["REFIT_GROWTH", "cache_path", "library_groups"]

REFIT_GROWTH = 0.5   # new photos, as a share of the cached ones, that make a full re-cluster


def cache_path(data_dir: str | os.PathLike, identity: str, labels: list[str]) -> Path:
    """Where the groups of ``identity`` named from ``labels`` are cached."""
    key = hashlib.sha256("\n".join([identity, *labels]).encode()).hexdigest()[:16]
    return Path(data_dir) / f"groups-{key}.npz"


def _read(path: Path, dim: int, stamp: tuple[int, str]):
    try:
        with np.load(path, allow_pickle=False) as f:
            cached = {k: f[k] for k in ("ids", "assign", "centres", "names", "scores",
                                        "generation", "catalog_uid")}
    except (OSError, ValueError, KeyError):
        return None
    if cached["centres"].ndim != 2 or cached["centres"].shape[1] != dim:
        return None
    if str(cached["catalog_uid"]) != stamp[1] or int(cached["generation"]) > stamp[0]:
        return None
    return cached


def _write(path: Path, stamp: tuple[int, str], ids, assign, centres, names) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, ids=ids, assign=assign, centres=centres,
                     generation=np.int64(stamp[0]), catalog_uid=np.str_(stamp[1]),
                     names=np.asarray([n for n, _ in names], dtype=str),
                     scores=np.asarray([s for _, s in names], np.float32))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


def library_groups(library, encoder=None, *, model_identity: str | None = None,
                   labels: list[str] | None = None, k: int | None = None, refit: bool = False,
                   cancel=None, progress: Progress | None = None) -> list[Group]:
    """The visual groups of the library's photos (model: ``model_identity``, default the
    library's), largest first, from the cache when it is current (see the module docstring).

    ``encoder``: an Encoder or a zero-argument callable returning one; only needed when the
    vocabulary's text embeddings are not cached yet (vocabulary.label_embeddings).
    ``labels``: the vocabulary (default: the shipped everyday labels). ``k``: the number of
    groups for a fresh clustering (default: chosen). Returns [] for a library without
    vectors. Raises jobs.Cancelled (the cache is unchanged).
    """
    from .vocabulary import label_embeddings, load_labels

    identity = model_identity or library.model_identity()
    report(progress, 0, 1, "reading the library")
    # read before the vectors: a vector written meanwhile counts as changed next time
    stamp = (library.catalog.generation(), library.catalog.catalog_uid())
    ids, vectors = library.all_vectors(identity)
    if not identity or not len(ids):
        return []
    labels = labels or load_labels()
    path = cache_path(library.data_dir, identity, labels)
    cached = None if refit or k is not None else _read(path, vectors.shape[1], stamp)
    check_cancel(cancel)
    if cached is not None:
        model = library.catalog.model(identity)
        changed = library.catalog.vector_ids_since(model.id, int(cached["generation"]))
        known = np.isin(ids, cached["ids"]) & ~np.isin(ids, changed)
        if (~known).sum() <= REFIT_GROWTH * len(cached["ids"]):
            centres = cached["centres"].astype(np.float32)
            assign = np.empty(len(ids), np.int64)
            order = np.argsort(cached["ids"])
            where = np.searchsorted(cached["ids"], ids[known], sorter=order)
            assign[known] = cached["assign"][order[where]]
            new = np.flatnonzero(~known)
            if len(new):
                report(progress, 0, 1, "placing new photos in their groups")
                assign[new] = np.argmax(vectors[new] @ centres.T, axis=1)
            names = [(str(n), float(s)) for n, s in zip(cached["names"], cached["scores"])]
            if len(new) or len(ids) != len(cached["ids"]):
                _write(path, stamp, ids, assign, centres, names)
            report(progress, 1, 1, "groups")
            return groups_from(ids, vectors, assign, centres, names)
    if encoder is not None and not hasattr(encoder, "encode_texts"):
        encoder = encoder()
    if encoder is None:
        from .encoder import Encoder

        encoder = Encoder.load(library.model_spec())
    label_vectors = label_embeddings(encoder, labels)
    assign, centres = cluster(vectors, k, cancel=cancel, progress=progress)
    names = name_groups(centres, label_vectors, labels)
    _write(path, stamp, ids, assign, centres, names)
    return groups_from(ids, vectors, assign, centres, names)
