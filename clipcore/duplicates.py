"""Near-duplicate and exact-duplicate photos.

Two photos are duplicates when

- their files have the same content hash (``scanner.content_hash``): exact copies, or
- they are near-identical: their embeddings are ANN neighbours with cosine similarity >=
  ``threshold`` (the candidates) AND their perceptual hashes differ in at most
  ``max_distance`` of 128 bits (pHash + dHash, the confirmation). The embedding finds copies that are resized,
  recompressed, slightly cropped or edited; the perceptual hash (imagehash's DCT pHash,
  computed at index time from the decode already made, see :func:`perceptual_hash`) rejects
  two different photos of the same scene, which a semantic embedding calls near-identical.

Duplicates are the connected components of the confirmed pairs (union-find). In each group the
suggested photo to keep is the largest (pixel count, then file size), then the oldest (date
taken, else file time); the others can go to the Trash (:func:`trash_others`, send2trash, never
a permanent delete).

Candidate search: k nearest neighbours of every photo, exactly (blocked matrix products) below
``EXACT_BELOW`` photos, else through the library's HNSW index (``knn_all``).

Where the numbers come from: on 20 scikit-image sample photos with 60% JPEG-q70 and 3%-per-side
cropped copies (tests/clipcore/test_duplicates_quality.py builds the set), the summed pHash +
dHash distance (of 128 bits) was <= 25 between copies and >= 42 between distinct photos, at
every decode size from 32 px to full resolution; either hash alone overlapped (pHash: copies up
to 14, distinct photos from 16; dHash: 12 vs 16). 32 sits between the two. Unrelated images
differ in ~64 +- 6 bits (two Binomial(64, 1/2)).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .jobs import Cancelled, Progress, check_cancel, report

__all__ = [
    "DEFAULT_MAX_DISTANCE",
    "DEFAULT_THRESHOLD",
    "Cancelled",
    "DuplicateGroup",
    "components",
    "find_duplicates",
    "group_duplicates",
    "hamming",
    "keep_order",
    "neighbour_pairs",
    "perceptual_hash",
    "trash_others",
]

DEFAULT_THRESHOLD = 0.85     # cosine similarity for a candidate pair (adjustable: --threshold)
DEFAULT_MAX_DISTANCE = 32    # pHash + dHash bits (of 128) that may differ for a confirmed pair
NEIGHBOURS = 10              # candidates per photo (its k nearest, itself excluded)
EXACT_BELOW = 20_000         # exact kNN by matrix blocks below this many photos
_BLOCK = 1024                # query rows per matrix block (1024 x 20k x 4 B = 80 MB)
ANN_BLOCK = 512              # query rows per ANN call: cancel is checked between calls (at
                             # 100,000 photos one call is ~0.4 CPU s; 4,096 took 36 s to
                             # stop under load)


@dataclass
class DuplicateGroup:
    """Photos that are copies of each other. ``ids``: catalog image ids, the suggested keeper
    first; ``similarity``: the lowest cosine similarity between two members (1.0 for exact
    copies); ``exact``: every member has the same file content; ``paths``: the members' paths,
    same order."""

    ids: list[int]
    similarity: float
    exact: bool
    paths: list[str] = field(default_factory=list)


def perceptual_hash(image) -> tuple[int, int]:
    """(pHash, dHash) of a PIL image: imagehash's 64-bit DCT perceptual hash and 64-bit
    difference hash (hash_size 8) of its greyscale version, each as a signed int64 (what
    SQLite stores). Any image of >= 32 px a side works: on the real-photo set of the quality
    test the decode made for a 32 px model changes the pair's summed distance by <= 6 bits."""
    import imagehash

    grey = image.convert("L") if image.mode != "L" else image
    return _int64(imagehash.phash(grey).hash), _int64(imagehash.dhash(grey).hash)


def _int64(bits: np.ndarray) -> int:
    value = int.from_bytes(np.packbits(bits.reshape(-1)).tobytes(), "big")
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming(a, b) -> np.ndarray:
    """Differing bits between int64 hashes ``a`` and ``b`` (broadcast) -> uint8 array."""
    x = np.atleast_1d(np.bitwise_xor(np.asarray(a, np.int64), np.asarray(b, np.int64)))
    return np.bitwise_count(x.view(np.uint64))   # on int64 it would count |x|


def neighbour_pairs(vectors: np.ndarray, threshold: float, k: int = NEIGHBOURS, *,
                    knn_all: Callable | None = None, cancel=None,
                    progress: Progress | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs: each row's ``k`` nearest other rows with cosine >= ``threshold``.

    ``vectors``: (N, D) float32, L2-normalised. ``knn_all``: optional callable(start, stop, k)
    -> (neighbour rows (n, k) int64 with -1 for none, cosines (n, k) float32) for rows
    start:stop (an ANN index), called for :data:`ANN_BLOCK` rows at a time; default exact
    blocked matrix products. ``cancel``: a threading.Event checked between blocks (raises
    jobs.Cancelled). Returns (rows_a, rows_b, cosine) with rows_a < rows_b, unique pairs.
    """
    n = len(vectors)
    k = min(k, n - 1)
    if k <= 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    found_a, found_b, found_s = [], [], []
    block = _BLOCK if knn_all is None else ANN_BLOCK
    for start in range(0, n, block):
        check_cancel(cancel)
        stop = min(n, start + block)
        if knn_all is None:
            sims = vectors[start:stop] @ vectors.T
            sims[np.arange(stop - start), np.arange(start, stop)] = -2.0     # not itself
            nb = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            cos = np.take_along_axis(sims, nb, axis=1)
        else:
            nb, cos = knn_all(start, stop, k)
        rows = np.repeat(np.arange(start, stop), nb.shape[1])
        nb, cos = nb.reshape(-1), cos.reshape(-1)
        keep = (cos >= threshold) & (nb >= 0) & (nb != rows)
        found_a.append(np.minimum(rows[keep], nb[keep]))
        found_b.append(np.maximum(rows[keep], nb[keep]))
        found_s.append(cos[keep].astype(np.float32))
        report(progress, stop, n, "comparing photos")
    a, b, s = np.concatenate(found_a), np.concatenate(found_b), np.concatenate(found_s)
    _, first = np.unique(a * n + b, return_index=True)
    return a[first], b[first], s[first]


def components(n: int, a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    """Connected components (size >= 2) of the graph on rows 0..n-1 with edges (a[i], b[i]),
    by union-find with path halving. Returns arrays of rows, each sorted."""
    parent = np.arange(n)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in zip(a.tolist(), b.tolist()):
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    roots = np.array([find(x) for x in range(n)]) if n else np.empty(0, np.int64)
    order = np.argsort(roots, kind="stable")
    bounds = np.flatnonzero(np.diff(roots[order])) + 1
    return [g for g in np.split(order, bounds) if len(g) >= 2]


def keep_order(rows: list) -> list:
    """``rows`` (objects with width, height, size, date_taken, mtime_ns) sorted so the photo to
    keep comes first: most pixels, then largest file, then oldest (date taken, else file time)."""
    def key(r):
        pixels = (r.width or 0) * (r.height or 0)
        when = r.date_taken or _iso_from_ns(r.mtime_ns)
        return (-pixels, -(r.size or 0), when)
    return sorted(rows, key=key)


def _iso_from_ns(ns: int | None) -> str:
    import datetime

    if not ns:
        return "9999"
    return datetime.datetime.fromtimestamp(ns / 1e9).isoformat(timespec="seconds")


def group_duplicates(vectors: np.ndarray, hashes: list, content_hashes: list,
                     threshold: float = DEFAULT_THRESHOLD,
                     max_distance: int = DEFAULT_MAX_DISTANCE, *, k: int = NEIGHBOURS,
                     knn_all: Callable | None = None, cancel=None, progress=None,
                     pairs: tuple[np.ndarray, np.ndarray] | None = None
                     ) -> list[tuple[np.ndarray, float, bool]]:
    """Duplicate groups over rows of ``vectors`` (N, D) float32 L2-normalised.

    ``hashes``: N (pHash, dHash) pairs (see :func:`perceptual_hash`) or None where unknown
    (a pair with an unknown hash is not confirmed). ``content_hashes``: N str or None. Returns [(rows (m,) int64, min cosine,
    exact)] for groups of >= 2 rows, largest group first. ``pairs``: candidate (rows_a,
    rows_b) already found by :func:`neighbour_pairs`. Raises Cancelled.
    """
    n = len(vectors)
    if pairs is None:
        a, b, _ = neighbour_pairs(vectors, threshold, k, knn_all=knn_all, cancel=cancel,
                                  progress=progress)
    else:
        a, b = pairs
    have = np.fromiter((h is not None for h in hashes), bool, n)
    ph = np.fromiter((h[0] if h else 0 for h in hashes), np.int64, n)
    dh = np.fromiter((h[1] if h else 0 for h in hashes), np.int64, n)
    distance = hamming(ph[a], ph[b]).astype(np.int32) + hamming(dh[a], dh[b])
    ok = have[a] & have[b] & (distance <= max_distance)
    a, b = a[ok], b[ok]
    exact_a, exact_b = _same_content(content_hashes)
    a, b = np.concatenate([a, exact_a]), np.concatenate([b, exact_b])
    groups = []
    for rows in components(n, a, b):
        sub = vectors[rows]
        similarity = float(np.clip((sub @ sub.T).min(), -1.0, 1.0))
        digests = {content_hashes[r] for r in rows.tolist()}
        exact = len(digests) == 1 and None not in digests
        groups.append((rows, 1.0 if exact else similarity, exact))
    groups.sort(key=lambda g: (-len(g[0]), -g[1]))
    return groups


def _same_content(content_hashes: list) -> tuple[np.ndarray, np.ndarray]:
    """Edges (a, b) chaining the rows that share a content hash."""
    first: dict[str, int] = {}
    a, b = [], []
    for row, digest in enumerate(content_hashes):
        if digest is None:
            continue
        if digest in first:
            a.append(first[digest])
            b.append(row)
        else:
            first[digest] = row
    return np.asarray(a, np.int64), np.asarray(b, np.int64)


def find_duplicates(library, threshold: float = DEFAULT_THRESHOLD,
                    max_distance: int = DEFAULT_MAX_DISTANCE, *, model_identity: str | None = None,
                    cancel=None, progress: Progress | None = None) -> list[DuplicateGroup]:
    """Duplicate groups among the library's indexed photos (model: the library's by default),
    largest first, each with its paths (the suggested keeper first, see :func:`keep_order`).

    Photos indexed before perceptual hashes existed get theirs computed here (one decode each,
    only for photos that are candidates) and stored. Raises jobs.Cancelled (nothing changed).
    """
    report(progress, 0, 1, "reading the library")
    ids, vectors = library.all_vectors(model_identity)
    check_cancel(cancel)
    knn_all = None
    if len(ids) >= EXACT_BELOW:
        def knn_all(start, stop, k):
            found, cos = library.neighbours(vectors[start:stop], k + 1, model_identity)
            rows = np.searchsorted(ids, found.clip(min=0))
            rows = np.where((found >= 0) & (ids[rows.clip(max=len(ids) - 1)] == found), rows, -1)
            return rows, cos
    cat = library.catalog
    a, b, _ = neighbour_pairs(vectors, threshold, knn_all=knn_all, cancel=cancel, progress=progress)
    candidates = np.unique(np.concatenate([a, b]))
    stored = cat.perceptual_hashes(ids[candidates].tolist())
    _backfill(library, [int(i) for i in ids[candidates] if int(i) not in stored], stored, cancel)
    hashes = [stored.get(int(i)) for i in ids]
    digests = cat.content_hashes()
    content = [digests.get(int(i)) for i in ids]
    groups = group_duplicates(vectors, hashes, content, threshold, max_distance,
                              knn_all=knn_all, cancel=cancel, pairs=(a, b))
    out = []
    for rows, similarity, exact in groups:
        found = library.images(ids[rows].tolist())
        keep = keep_order(found)
        out.append(DuplicateGroup([r.id for r in keep], similarity, exact, [r.path for r in keep]))
    return out


def _backfill(library, missing: list[int], stored: dict, cancel) -> None:
    """Compute and store the perceptual hashes of photos indexed without them."""
    from .errors import ImageError
    from .imaging import decode_image

    if not missing:
        return
    new = {}
    for row in library.images(missing):
        check_cancel(cancel)
        try:
            new[row.id] = perceptual_hash(decode_image(row.path, min_side=64).image)
        except (ImageError, OSError):
            continue
    if new:
        try:
            library.catalog.set_perceptual_hashes(new)
        except Exception:  # a read-only or busy library still gets its answer
            pass
    stored.update(new)


def trash_others(library, group: DuplicateGroup, keep: str | None = None) -> list[str]:
    """Move every photo of ``group`` except ``keep`` (default: the suggested keeper, the first
    path) to the desktop's Trash with send2trash (never a permanent delete), then forget them in
    the catalog. Returns the paths moved. A photo that cannot be moved stays in the library;
    raises ClipcoreError naming the first such file after moving the others."""
    from send2trash import send2trash

    from .catalog import Changes
    from .errors import ClipcoreError

    keep = keep or group.paths[0]
    if keep not in group.paths:
        raise ClipcoreError(f"{keep} is not in this group of duplicates; nothing was moved.")
    moved, removed, failed = [], [], None
    for image_id, path in zip(group.ids, group.paths):
        if path == keep:
            continue
        try:
            send2trash(path)
        except Exception as exc:  # send2trash raises OSError or its own TrashPermissionError
            failed = failed or f"{path} ({exc})"
            continue
        moved.append(path)
        removed.append(image_id)
    if removed:
        library.apply(Changes(removed=removed), save=True)
    if failed:
        raise ClipcoreError(f"Could not move {failed} to the Trash; it is still in the library. "
                            f"{len(moved)} other photo(s) were moved.")
    return moved
