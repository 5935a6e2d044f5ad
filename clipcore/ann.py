"""Approximate nearest neighbours: an hnswlib HNSW index, saved atomically, plus exact search.

The index is a cache of the catalog's vectors for one model (labels = image ids, space "ip" on
L2-normalised vectors, so the score is the cosine similarity). It is saved next to the catalog
as ``ann-<model_id>.hnsw`` with a JSON sidecar ``ann-<model_id>.json`` holding the model
identity, dim, element count, file size and CRC-32, the catalog's id and the catalog generation
("watermark") the index reflects, and the CRC-32 of each 1 MiB block (clipcore.ann_file).
:func:`load_index` refuses (raises :class:`StaleIndex`) a file that is missing, truncated,
corrupt, or from another model or catalog; the caller then rebuilds from the catalog.
:func:`open_index_file` checks only the size, the header and a sample of blocks, and gives
the file's vectors to search at once while :func:`load_index` runs in the background.

hnswlib cannot add and search at the same time (nmslib/hnswlib#562), so every method takes a
reader-writer lock: searches and saves share it, adds/deletes/resizes take it alone.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import struct
import threading
from pathlib import Path
from typing import Callable

import hnswlib
import numpy as np

from .ann_file import BLOCK_BYTES, IndexFile, _Stale, checksums, full_check, quick_check
from .errors import disk_full_error, disk_nearly_full as _nearly_full
from .config import IndexParams

__all__ = ["HnswIndex", "StaleIndex", "RWLock", "exact_knn", "load_index", "index_paths",
           "mismatch", "read_sidecar", "open_index_file"]

SIDECAR_FORMAT = 1


class StaleIndex(Exception):
    """The saved index cannot be used; ``str()`` says why (internal: triggers a rebuild)."""


class RWLock:
    """Many readers or one writer (writers are preferred so adds are not starved)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextlib.contextmanager
    def read(self):
        with self._cond:
            self._cond.wait_for(lambda: not self._writer and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def write(self):
        with self._cond:
            self._writers_waiting += 1
            self._cond.wait_for(lambda: not self._writer and not self._readers)
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


def exact_knn(matrix: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest by inner product: ``matrix`` (N, D) float32, ``ids`` (N,) int64,
    ``query`` (D,) float32 -> (ids (k',) int64, scores (k',) float32), best first, k' = min(k, N)."""
    if len(ids) == 0 or k <= 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    scores = matrix @ query.astype(np.float32, copy=False)
    k = min(k, len(ids))
    top = np.argpartition(-scores, k - 1)[:k] if k < len(ids) else np.arange(len(ids))
    top = top[np.argsort(-scores[top], kind="stable")]
    return ids[top], scores[top]


def index_paths(data_dir: Path, model_id: int) -> tuple[Path, Path]:
    """(index file, JSON sidecar) for a model's HNSW cache in ``data_dir``."""
    return data_dir / f"ann-{model_id}.hnsw", data_dir / f"ann-{model_id}.json"


class HnswIndex:
    """An hnswlib index (space "ip", labels = image ids) that grows as vectors are added.

    ``watermark`` is the catalog generation whose vectors it holds; ``live`` counts the labels
    not marked deleted. Methods are thread-safe (see the module docstring).
    """

    def __init__(self, dim: int, params: IndexParams, capacity: int = 1024,
                 _index: hnswlib.Index | None = None, live: int = 0, watermark: int = 0):
        self.dim = dim
        self.params = params
        self.lock = RWLock()
        if _index is None:
            _index = hnswlib.Index(space="ip", dim=dim)
            _index.init_index(max_elements=max(capacity, 16), M=params.M,
                              ef_construction=params.ef_construction, random_seed=100)
        _index.set_ef(params.ef)
        self._index = _index
        self.live = live
        self.watermark = watermark
        self.blocks: list[int] | None = None    # block CRCs of the file it was loaded from
        self.sidecar: dict | None = None        # and what that file's sidecar said

    def labels(self) -> np.ndarray:
        """(n,) int64 of every label ever added (deleted ones included)."""
        with self.lock.read():
            return np.asarray(self._index.get_ids_list(), dtype=np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray, num_threads: int = 1) -> None:
        """Add or replace ``vectors`` (n, D) float32, L2-normalised, under labels ``ids`` (n,).
        Replacing a deleted label revives it (hnswlib's addPoint). Grows the index (x1.5) when
        it could overflow. The owner keeps ``live`` up to date (it knows the catalog's count)."""
        if len(ids) == 0:
            return
        with self.lock.write():
            index = self._index
            need = index.element_count + len(ids)
            if need > index.get_max_elements():
                index.resize_index(max(need, int(index.get_max_elements() * 1.5)))
            index.add_items(np.ascontiguousarray(vectors, dtype=np.float32),
                            np.asarray(ids, dtype=np.int64), num_threads=num_threads)

    def remove(self, ids) -> None:
        """Mark labels deleted (never returned again); unknown or already deleted ones are ignored."""
        with self.lock.write():
            for i in np.asarray(ids, dtype=np.int64).tolist():
                with contextlib.suppress(RuntimeError):
                    self._index.mark_deleted(i)

    def search(self, query: np.ndarray, k: int, allowed=None, text: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:
        """query (D,) float32 -> (ids, cosine scores) best first, at most k, none deleted.
        ``allowed`` (a set of ids) restricts the result through hnswlib's filter. ``text``: a
        text query (far from the photos: the wider beam of ``IndexParams.ef_for``). Two
        searches at once with different beams may each run with the other's (hnswlib keeps
        one ef per index): a little more or less recall, never a wrong result."""
        k = min(k, self.live if allowed is None else min(self.live, len(allowed)))
        if k <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        filt = (lambda label: label in allowed) if allowed is not None else None
        with self.lock.read():
            ef = self.params.ef_for(self.live, k, text)
            if ef != self._index.ef:
                self._index.set_ef(ef)
            try:
                labels, dists = self._index.knn_query(query.reshape(1, -1), k=k, num_threads=1,
                                                      filter=filt)
            except RuntimeError:  # fewer than k reachable (heavy filtering): take what there is
                return self._search_fewer(query, k, filt)
        return labels[0].astype(np.int64), (1.0 - dists[0]).astype(np.float32)

    def search_many(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """queries (n, D) float32 -> (ids (n, k) int64, cosines (n, k) float32), best first,
        on every core (hnswlib num_threads=-1); rows with fewer than k reachable labels are
        padded with id -1. For all-pairs jobs such as the duplicate finder."""
        k = min(k, self.live)
        if k <= 0 or not len(queries):
            return np.full((len(queries), 0), -1, np.int64), np.zeros((len(queries), 0), np.float32)
        with self.lock.read():
            ef = self.params.ef_for(self.live, k)
            if ef != self._index.ef:
                self._index.set_ef(ef)
            try:
                labels, dists = self._index.knn_query(np.ascontiguousarray(queries, np.float32),
                                                      k=k, num_threads=-1)
            except RuntimeError:   # some row had fewer than k: one by one
                out = [self._search_fewer(q, k, None) for q in queries]
                labels = np.full((len(queries), k), -1, np.int64)
                dists = np.ones((len(queries), k), np.float32)
                for row, (ids, sims) in enumerate(out):
                    labels[row, :len(ids)], dists[row, :len(ids)] = ids, 1.0 - sims
        return labels.astype(np.int64), (1.0 - dists).astype(np.float32)

    def _search_fewer(self, query, k, filt):
        while k > 1:
            k //= 2
            with contextlib.suppress(RuntimeError):
                labels, dists = self._index.knn_query(query.reshape(1, -1), k=k, num_threads=1,
                                                      filter=filt)
                return labels[0].astype(np.int64), (1.0 - dists[0]).astype(np.float32)
        return np.empty(0, np.int64), np.empty(0, np.float32)

    def save(self, index_path: Path, sidecar_path: Path, meta: dict) -> None:
        """Atomically replace ``index_path`` then ``sidecar_path`` (tmp file in the same
        directory, fsync, os.replace). ``meta`` goes into the sidecar with size, CRC-32, count
        and watermark. On failure the old files are untouched; ENOSPC -> DiskFullError."""
        tmp = index_path.with_name(index_path.name + ".tmp")
        tmp_side = sidecar_path.with_name(sidecar_path.name + ".tmp")
        try:
            with self.lock.read():
                self._index.save_index(str(tmp))
                expected = self._index.index_file_size()
                info = dict(meta, format=SIDECAR_FORMAT, dim=self.dim, count=self._index.element_count,
                            live=self.live, watermark=self.watermark, M=self.params.M,
                            ef_construction=self.params.ef_construction)
            info["bytes"], info["crc32"], info["blocks"] = checksums(tmp)
            info["block_bytes"] = BLOCK_BYTES
            if info["bytes"] != expected:   # hnswlib does not check its writes (full disk)
                raise OSError(errno.ENOSPC if _nearly_full(tmp.parent) else errno.EIO,
                              f"hnswlib wrote {info['bytes']} of {expected} bytes")
            _fsync_file(tmp)
            tmp_side.write_text(json.dumps(info))
            _fsync_file(tmp_side)
            os.replace(tmp, index_path)
            os.replace(tmp_side, sidecar_path)
            _fsync_dir(index_path.parent)
        except (OSError, RuntimeError) as exc:
            for p in (tmp, tmp_side):
                with contextlib.suppress(OSError):
                    p.unlink()
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC or _nearly_full(tmp.parent):
                raise disk_full_error("the vector index") from exc
            raise


def read_sidecar(sidecar_path: Path, expect: dict) -> dict:
    """The sidecar's description of an index file, when it matches ``expect`` (model identity,
    dim, catalog uid) and this format; else StaleIndex(reason)."""
    try:
        info = json.loads(sidecar_path.read_text())
    except FileNotFoundError as exc:
        raise StaleIndex("it is missing") from exc
    except (OSError, ValueError) as exc:
        raise StaleIndex("its description file is unreadable") from exc
    if not isinstance(info, dict):
        raise StaleIndex("its description file is unreadable")
    for key, value in expect.items():
        if info.get(key) != value:
            raise StaleIndex(f"it was built for a different {key.replace('_', ' ')}")
    if info.get("format") != SIDECAR_FORMAT:
        raise StaleIndex("it has an unknown format")
    if info.get("blocks") is not None and info.get("block_bytes") != BLOCK_BYTES:
        info.pop("blocks")        # another block size: only the whole-file CRC is used
    return info


def open_index_file(index_path: Path, sidecar_path: Path, expect: dict
                    ) -> tuple[IndexFile, dict] | None:
    """The saved index as an :class:`~clipcore.ann_file.IndexFile` (its vectors searchable at
    once) and its sidecar, after the cheap checks (sidecar as in :func:`read_sidecar`, size,
    header, sampled block CRCs); None when the sidecar lists no block CRCs (written before
    they existed: only the whole-file check of :func:`load_index` can vouch for it).
    Raises StaleIndex when a check fails."""
    info = read_sidecar(sidecar_path, expect)
    if not info.get("blocks"):
        return None
    try:
        quick_check(index_path, info)
        _check_header(index_path, info)
        return IndexFile(index_path, info["dim"]), info
    except _Stale as exc:
        raise StaleIndex(str(exc)) from exc
    except OSError as exc:
        raise StaleIndex(f"it cannot be read ({exc.strerror or exc})") from exc


def load_index(index_path: Path, sidecar_path: Path, params: IndexParams, expect: dict,
               cancel: Callable[[], bool] | None = None,
               stop: Callable[[], bool] | None = None) -> HnswIndex:
    """Load a saved index whose sidecar matches ``expect`` (model identity, dim, catalog uid).

    The whole file is read first (size and CRC-32 as the sidecar says). Raises StaleIndex(reason)
    when the file is missing, truncated, corrupt or belongs to another model or catalog.
    The returned index's ``blocks`` is the file's block CRCs (see clipcore.ann_file) and
    ``sidecar`` what its sidecar said. ``cancel()`` (called once, between the check and the
    load) or ``stop()`` (between blocks of the check) True -> StaleIndex("loading was
    cancelled").
    """
    for _attempt in range(3):  # a writer may replace the pair between our reads: re-read
        info = read_sidecar(sidecar_path, expect)
        try:
            blocks = full_check(index_path, info, stop)
            break
        except _Stale as exc:
            if stop is not None and stop():
                raise StaleIndex(str(exc)) from exc
            try:
                again = json.loads(sidecar_path.read_text())
            except (OSError, ValueError):
                again = None
            if again == info:
                raise StaleIndex(str(exc)) from exc
    else:
        raise StaleIndex("it kept changing while being read")
    _check_header(index_path, info)
    if cancel is not None and cancel():
        raise StaleIndex("loading was cancelled")
    index = hnswlib.Index(space="ip", dim=info["dim"])
    try:
        index.load_index(str(index_path), max_elements=info["count"])
    except RuntimeError as exc:
        raise StaleIndex(f"hnswlib could not read it ({exc})") from exc
    if index.element_count != info["count"]:
        raise StaleIndex("its element count does not match its description")
    hnsw = HnswIndex(info["dim"], params, _index=index, live=info["live"],
                     watermark=info["watermark"])
    hnsw.blocks, hnsw.sidecar = blocks, info
    return hnsw


def _check_header(index_path: Path, info: dict) -> None:
    file_dim, file_count = _header(index_path)
    if file_dim != info["dim"]:           # a hand-edited sidecar: hnswlib trusts the caller's dim
        raise StaleIndex(f"it holds {file_dim}-d vectors, not {info['dim']}-d ones")
    if file_count != info["count"]:
        raise StaleIndex("its element count does not match its description")


def _header(path: Path) -> tuple[int, int]:
    """(dim, element count) from an hnswlib index file's header (hnswalg.h saveIndex: six
    size_t fields offsetLevel0, max_elements, cur_element_count, size_data_per_element,
    label_offset, offsetData; the vector, dim float32, lies between offsetData and label_offset)."""
    with open(path, "rb") as fh:
        raw = fh.read(48)
    if len(raw) < 48:
        raise StaleIndex("it is truncated or corrupt")
    _, _, count, _, label_offset, data_offset = struct.unpack("<6Q", raw)
    return (label_offset - data_offset) // 4, count


def mismatch(index: HnswIndex, ids: np.ndarray, vectors: np.ndarray) -> str | None:
    """Why ``index`` does not hold the catalog's ``vectors`` (n, D) for ``ids`` (a sample of
    vectors not changed since the index was saved), or None when it does (cosine >= 0.999)."""
    with index.lock.read():
        for image_id, vector in zip(ids.tolist(), vectors):
            try:
                held = np.asarray(index._index.get_items([image_id])[0], np.float32)
            except RuntimeError:
                return f"it lacks image #{image_id}"
            if float(held @ vector) < 0.999:
                return f"its vector of image #{image_id} is not the catalog's"
    return None


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
