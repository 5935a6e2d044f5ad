"""Filtered nearest-neighbour search: which images a filter allows, and the k nearest of them.

A filter (a folder, a date range, a set of ids) is turned into the sorted ids it allows
*before* the k nearest are taken, so a filtered search returns min(k, allowed) hits.

Which ids (:class:`Scopes`), cached per catalog generation (every transaction that changes an
image's path or date bumps it, see catalog/schema.py):

- dates: one column per generation, ``(date_taken bytes, id)`` sorted by date (one SELECT over
  the ``images_date`` index, ~0.1-0.4 s at 100,000 photos); a range is then two binary searches
  and a slice (~0.3 ms), instead of an SQL range read of every matching row per query (17-35
  ms for a one-year range at 100,000 photos under load). The first date filter of a
  generation is that SQL range read; the column is built on the second, so while an index
  run commits batch after batch each filtered query costs only its range;
- folders: the ids under a folder (an SQL range on the path index), kept for the last few
  folders asked for, so the queries typed while a folder is chosen pay it once.

How to search them (:func:`nearest_within`), measured at 100,000 512-d vectors (M=16,
benchmarks/browse.py):

1. few allowed (< ``exact_below``): exact, over their vectors read from the catalog (the
   matrix kept for the last few scopes);
2. a large share allowed: HNSW *unfiltered* with k' = 2k / share, filtered afterwards with a
   binary search in the allowed ids; k' grows 4x until k hits (one-year filter, 10%: 1.5 ms
   at k'=200 instead of 25-124 ms through hnswlib's filter, which calls back into Python for
   every visited node);
3. otherwise, or when 2 runs past :data:`OVERSAMPLE_MAX_K`: hnswlib's filtered search; if it
   finds fewer than min(k, allowed) (the graph can strand allowed nodes), exact over the
   allowed vectors. So a filter never returns fewer than k hits while more exist.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Callable

import numpy as np

from .ann import HnswIndex, exact_knn

__all__ = ["Scopes", "nearest_within", "OVERSAMPLE_MAX_K"]

#: Largest unfiltered k' tried for a filtered query (hnswlib's ef follows it); 1,024 took
#: ~3 ms at 100,000 vectors on one core, quiet.
OVERSAMPLE_MAX_K = 1024
KEEP_SCOPES = 8        # folder scopes / small-scope matrices remembered per generation

Found = tuple[np.ndarray, np.ndarray]      # (ids (n,) int64, cosines (n,) float32), best first


class Scopes:
    """The ids a filter allows, cached per catalog generation. ``catalog`` needs
    ``generation()``, ``snapshot()``, ``image_date_column()`` and ``image_ids_under(folder)``.
    Thread-safe (one lock around the caches; the SQL reads run outside it)."""

    def __init__(self, catalog):
        self.catalog = catalog
        self._lock = threading.Lock()
        self._generation = -1
        self._dates: tuple[np.ndarray, np.ndarray] | None = None   # (sorted dates S, ids)
        self._date_asks = 0        # date filters asked for in this generation
        self._folders: OrderedDict[str, np.ndarray] = OrderedDict()
        self._matrices: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def allowed(self, folder: str | None = None, only: np.ndarray | None = None,
                dates: tuple[str | None, str | None] | None = None
                ) -> tuple[np.ndarray | None, tuple]:
        """(sorted unique ids (n,) int64 the filters allow, or None for no filter; a key
        naming the scope for :meth:`matrix`). ``folder``: absolute path (images anywhere
        inside); ``only``: ids; ``dates``: ``[lo, hi)`` ISO strings (None = open), compared as
        text like the catalog does (an undated image never matches)."""
        parts: list[np.ndarray] = []
        with self.catalog.snapshot():
            generation = self.catalog.generation()
            self._roll(generation)
            if folder is not None:
                parts.append(self._folder(folder))
            if dates is not None:
                parts.append(self._date_range(*dates))
        if only is not None:
            parts.append(np.unique(np.asarray(only, np.int64)))
        if not parts:
            return None, ()
        allowed = parts[0]
        for part in parts[1:]:
            allowed = np.intersect1d(allowed, part, assume_unique=True)
        key = (generation, folder, dates) if only is None else ()
        return allowed, key

    def matrix(self, key: tuple, make: Callable[[], tuple[np.ndarray, np.ndarray]]
               ) -> tuple[np.ndarray, np.ndarray]:
        """``make()`` -> (ids, (n, D) vectors) of a small scope, remembered under ``key`` (from
        :meth:`allowed`; an empty key is never remembered) for this generation."""
        if not key:
            return make()
        with self._lock:
            found = self._matrices.get(key)
            if found is not None:
                self._matrices.move_to_end(key)
                return found
        found = make()
        with self._lock:
            if key[0] == self._generation:
                self._matrices[key] = found
                while len(self._matrices) > KEEP_SCOPES:
                    self._matrices.popitem(last=False)
        return found

    # -- internals -------------------------------------------------------------------------
    def _roll(self, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                self._generation, self._dates, self._date_asks = generation, None, 0
                self._folders.clear()
                self._matrices.clear()

    def _folder(self, folder: str) -> np.ndarray:
        with self._lock:
            ids = self._folders.get(folder)
            if ids is not None:
                self._folders.move_to_end(folder)
                return ids
        ids = np.unique(self.catalog.image_ids_under(folder))
        with self._lock:
            self._folders[folder] = ids
            while len(self._folders) > KEEP_SCOPES:
                self._folders.popitem(last=False)
        return ids

    def _date_range(self, lo: str | None, hi: str | None) -> np.ndarray:
        with self._lock:
            column = self._dates
            self._date_asks += 1
            first = self._date_asks == 1
        if column is None and first:
            # the first date filter of a generation: an SQL range read (cost ~ the matches)
            # rather than the whole column, which a stable generation builds on the second
            return np.unique(self.catalog.image_ids_taken_between(lo, hi))
        if column is None:
            column = self.catalog.image_date_column()
            with self._lock:
                self._dates = column
        dates, ids = column
        if not len(ids):
            return ids
        a = 0 if lo is None else int(np.searchsorted(dates, _key(lo, dates), "left"))
        b = len(dates) if hi is None else int(np.searchsorted(dates, _key(hi, dates), "left"))
        return np.sort(ids[a:max(a, b)])


def _key(bound: str, dates: np.ndarray) -> np.ndarray:
    """``bound`` as a key for np.searchsorted on the bytes column ``dates`` (a key longer than
    the column's width would be cut by the cast, so the comparison is then widened)."""
    raw = bound.encode("utf-8")
    if len(raw) > dates.dtype.itemsize:
        return np.array(raw)      # numpy compares differently sized byte strings correctly
    return np.array(raw, dtype=dates.dtype)


def nearest_within(hnsw: HnswIndex, allowed: np.ndarray, query: np.ndarray, k: int,
                   exact_below: int, text: bool,
                   gather: Callable[[], tuple[np.ndarray, np.ndarray]]) -> Found:
    """The k nearest of ``allowed`` (sorted unique ids (n,) int64) to ``query`` (D,) float32
    in ``hnsw`` (see the module docstring for the three ways); ``text``: a text query (the
    wider beam, see ``IndexParams.ef_for``). ``gather()`` returns (ids,
    (m, D) float32 vectors) of the allowed images that have a vector (for exact search).
    Returns min(k, allowed with a vector) hits, best first."""
    n = len(allowed)
    if n == 0 or k <= 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    if n < exact_below:
        return exact_knn(*_reshape(gather()), query, k)
    share = n / max(1, hnsw.live)
    wanted = max(2 * k, math.ceil(2 * k / share))
    while wanted <= OVERSAMPLE_MAX_K:
        ids, scores = hnsw.search(query, wanted, text=text)
        inside = _members(allowed, ids)
        if inside.sum() >= k:
            return ids[inside][:k], scores[inside][:k]
        if len(ids) < wanted:          # the whole index was seen
            break
        wanted *= 4
    found = hnsw.search(query, k, set(allowed.tolist()), text=text)
    if len(found[0]) < min(k, n):      # hnswlib's filtered search can strand allowed nodes
        return exact_knn(*_reshape(gather()), query, k)
    return found


def _members(allowed: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Boolean (len(ids),): which ``ids`` are in the sorted array ``allowed``."""
    at = np.searchsorted(allowed, ids)
    at[at == len(allowed)] = 0
    return allowed[at] == ids


def _reshape(found: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) -> (vectors, ids) as exact_knn takes them."""
    return found[1], found[0]
