"""The ``vectors`` table: one (D,) float32 little-endian blob per (image, model), with the
generation (``seq``) of the transaction that wrote it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import numpy as np

from .base import Table

__all__ = ["VectorsTable", "delete_image_vectors", "put_vector"]

PARAMS_PER_QUERY = 900   # stay under SQLite's host-parameter limit


def put_vector(c: sqlite3.Connection, image_id: int, model_id: int, seq: int,
               vector: np.ndarray) -> None:
    """Inside a transaction: store (or replace) ``vector`` (D,) float32 for the image/model."""
    c.execute("INSERT OR REPLACE INTO vectors (image_id, model_id, seq, vector) VALUES (?, ?, ?, ?)",
              (image_id, model_id, seq, np.asarray(vector, dtype="<f4").tobytes()))


def delete_image_vectors(c: sqlite3.Connection, image_id: int) -> bool:
    """Inside a transaction: drop every vector of the image; True when there was one."""
    return c.execute("DELETE FROM vectors WHERE image_id = ?", (image_id,)).rowcount > 0


def _unpack(rows: list[tuple[int, bytes]]) -> tuple[np.ndarray, np.ndarray]:
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), -1)
    return ids, vecs.astype(np.float32, copy=False)


class VectorsTable(Table):
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
                    yield _unpack(rows)
            return
        cur = c.execute("SELECT image_id, vector FROM vectors WHERE model_id = ? AND seq > ?",
                        (model_id, since_seq))
        while rows := cur.fetchmany(chunk):
            yield _unpack(rows)

    def vector_ids(self, model_id: int) -> np.ndarray:
        """(N,) int64 ids of the images with a vector for ``model_id``."""
        rows = self.conn().execute("SELECT image_id FROM vectors WHERE model_id = ?", (model_id,))
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def vector(self, image_id: int, model_id: int) -> np.ndarray | None:
        """(D,) float32 stored vector (L2-normalised), or None."""
        row = self.conn().execute("SELECT vector FROM vectors WHERE image_id = ? AND model_id = ?",
                                  (image_id, model_id)).fetchone()
        return np.frombuffer(row[0], dtype="<f4").astype(np.float32) if row else None

    def has_vectors(self, model_id: int) -> bool:
        """True when the model has any vector: one index probe, O(log n) (count is O(n))."""
        return bool(self.conn().execute(
            "SELECT EXISTS (SELECT 1 FROM vectors WHERE model_id = ?)", (model_id,)).fetchone()[0])

    def count_vectors(self, model_id: int) -> int:
        return int(self.conn().execute("SELECT count(*) FROM vectors WHERE model_id = ?",
                                       (model_id,)).fetchone()[0])
