"""The ``vectors`` table: one (D,) float32 little-endian blob per (image, model), with the
generation (``seq``) of the transaction that wrote it.

Every vector read here is checked (:mod:`clipcore.vectorcheck`: finite, L2 norm within 1e-3 of
1). A damaged one -- bytes changed on disk pass SQLite's own checks -- is never returned: it is
left out, logged once, and remembered in :meth:`VectorsTable.damaged_vectors` so that a writer
can forget it (the photo is then embedded again by the next index run)."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator

import numpy as np

from ..vectorcheck import bad_rows
from .base import Table
from .state import bump_generation

__all__ = ["VectorsTable", "delete_image_vectors", "put_vector"]

log = logging.getLogger("clipcore.catalog")
_damaged_lock = threading.Lock()

PARAMS_PER_QUERY = 900   # stay under SQLite's host-parameter limit


def put_vector(c: sqlite3.Connection, image_id: int, model_id: int, seq: int,
               vector: np.ndarray) -> None:
    """Inside a transaction: store (or replace) ``vector`` (D,) float32 for the image/model."""
    c.execute("INSERT OR REPLACE INTO vectors (image_id, model_id, seq, vector) VALUES (?, ?, ?, ?)",
              (image_id, model_id, seq, np.asarray(vector, dtype="<f4").tobytes()))


def delete_image_vectors(c: sqlite3.Connection, image_id: int) -> bool:
    """Inside a transaction: drop every vector of the image; True when there was one."""
    return c.execute("DELETE FROM vectors WHERE image_id = ?", (image_id,)).rowcount > 0


def _unpack(rows: list[tuple[int, bytes]], dim: int | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """(ids (n,) int64, vectors (n, D) float32); a blob of the wrong length (D = ``dim``, else
    the most common length) becomes a row of NaN, which the vector check then refuses."""
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    sizes = [len(r[1]) if isinstance(r[1], bytes) else -1 for r in rows]
    size = dim * 4 if dim else max(set(sizes), key=sizes.count)
    if all(n == size for n in sizes) and size % 4 == 0:
        vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), -1)
        return ids, vecs.astype(np.float32, copy=False)
    vecs = np.full((len(rows), max(size, 0) // 4), np.nan, np.float32)
    for i, (r, n) in enumerate(zip(rows, sizes)):
        if n == size:
            vecs[i] = np.frombuffer(r[1], dtype="<f4")
    return ids, vecs


class VectorsTable(Table):
    def _checked(self, model_id: int, ids: np.ndarray, vecs: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """The rows of (ids, vecs) that are usable embeddings; the others are recorded."""
        bad = bad_rows(vecs) if len(ids) else np.zeros(0, bool)
        if not bad.any():
            return ids, vecs
        with _damaged_lock:
            seen = self.__dict__.setdefault("_damaged", {}).setdefault(model_id, set())
            new = sorted(set(ids[bad].tolist()) - seen)
            seen.update(new)
        if new:
            log.warning("%d stored vector(s) in the catalog %s are damaged (image ids %s); they "
                        "are left out of search, and the photos are embedded again by the "
                        "next 'clipcore index'.", len(new), self.path,
                        ", ".join(map(str, new[:10])) + (" ..." if len(new) > 10 else ""))
        return ids[~bad], vecs[~bad]

    def damaged_vectors(self) -> dict[int, np.ndarray]:
        """model id -> image ids (int64) whose stored vector was found damaged by a read of this
        Catalog object and not forgotten since (see :meth:`forget_vectors`)."""
        with _damaged_lock:
            found = self.__dict__.get("_damaged", {})
            return {m: np.asarray(sorted(ids), np.int64) for m, ids in found.items() if ids}

    def forget_vectors(self, model_id: int, image_ids) -> int:
        """Delete the vectors of ``image_ids`` for the model (their photos keep status ok, so
        the next index run embeds them again) in one transaction; returns its generation."""
        ids = [int(i) for i in image_ids]
        with self.transaction("the damaged vectors") as c:
            for start in range(0, len(ids), PARAMS_PER_QUERY):
                part = ids[start:start + PARAMS_PER_QUERY]
                c.execute(f"DELETE FROM vectors WHERE model_id = ? AND image_id IN "
                          f"({','.join('?' * len(part))})", (model_id, *part))
            generation = bump_generation(c)
        with _damaged_lock:
            self.__dict__.get("_damaged", {}).get(model_id, set()).difference_update(ids)
        return generation

    def find_damaged_vectors(self, model_id: int) -> np.ndarray:
        """Image ids (int64) of every damaged vector of the model: reads them all (the check of
        ``clipcore info --check``); they are recorded as by any other read."""
        for _ in self.iter_vectors(model_id):
            pass
        return self.damaged_vectors().get(model_id, np.empty(0, np.int64))

    def iter_vectors(self, model_id: int, since_seq: int = -1, chunk: int = 20_000,
                     image_ids: np.ndarray | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (ids (n,) int64, vectors (n, D) float32) in chunks: vectors of ``model_id``
        written after generation ``since_seq`` (all by default), or only those of ``image_ids``."""
        c = self.conn()
        if image_ids is not None:
            ids = [int(i) for i in image_ids]
            for start in range(0, len(ids), PARAMS_PER_QUERY):
                part = ids[start:start + PARAMS_PER_QUERY]
                rows = c.execute(
                    f"SELECT image_id, vector FROM vectors WHERE model_id = ? AND image_id IN "
                    f"({','.join('?' * len(part))})", (model_id, *part)).fetchall()
                if rows:
                    yield self._checked(model_id, *_unpack(rows))
            return
        cur = c.execute("SELECT image_id, vector FROM vectors WHERE model_id = ? AND seq > ?",
                        (model_id, since_seq))
        while rows := cur.fetchmany(chunk):
            yield self._checked(model_id, *_unpack(rows))

    def sample_vectors(self, model_id: int, max_seq: int, n: int = 16
                       ) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``n`` (ids, vectors) of the model written at generation <= ``max_seq``, spread
        over the id range (one primary-key probe each, so cheap at any size)."""
        c = self.conn()
        lo, hi = c.execute("SELECT min(image_id), max(image_id) FROM vectors WHERE model_id = ?",
                           (model_id,)).fetchone()
        if lo is None:
            return np.empty(0, np.int64), np.empty((0, 0), np.float32)
        rows = {}
        for start in np.linspace(lo, hi, n).astype(np.int64).tolist():
            row = c.execute("SELECT image_id, vector FROM vectors WHERE image_id >= ? AND "
                            "model_id = ? AND seq <= ? ORDER BY image_id LIMIT 1",
                            (start, model_id, max_seq)).fetchone()
            if row:
                rows[row[0]] = row
        if not rows:
            return np.empty(0, np.int64), np.empty((0, 0), np.float32)
        return self._checked(model_id, *_unpack(list(rows.values())))

    def vector_ids(self, model_id: int) -> np.ndarray:
        """(N,) int64 ids of the images with a vector for ``model_id``."""
        rows = self.conn().execute("SELECT image_id FROM vectors WHERE model_id = ?", (model_id,))
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def vector(self, image_id: int, model_id: int) -> np.ndarray | None:
        """(D,) float32 stored vector (L2-normalised), or None (also for a damaged one)."""
        row = self.conn().execute(
            "SELECT v.vector, m.dim FROM vectors v JOIN models m ON m.id = v.model_id "
            "WHERE v.image_id = ? AND v.model_id = ?", (image_id, model_id)).fetchone()
        if not row:
            return None
        ids, vecs = self._checked(model_id, *_unpack([(image_id, row[0])], row[1]))
        return vecs[0] if len(ids) else None

    def has_vectors(self, model_id: int) -> bool:
        """True when the model has any vector: one index probe, O(log n) (count is O(n))."""
        return bool(self.conn().execute(
            "SELECT EXISTS (SELECT 1 FROM vectors WHERE model_id = ?)", (model_id,)).fetchone()[0])

    def count_vectors(self, model_id: int) -> int:
        return int(self.conn().execute("SELECT count(*) FROM vectors WHERE model_id = ?",
                                       (model_id,)).fetchone()[0])
