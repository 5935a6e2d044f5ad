"""The ``vectors`` table: one (D,) float16 little-endian blob per (image, model), with the
generation (``seq``) of the transaction that wrote it.

Storage format (schema 7, issue 14): vectors are stored as IEEE float16 (2 bytes a value, half
of float32) and read back as float32. An L2-normalised embedding's values lie in [-1, 1], where
float16 keeps 11 significant bits: each value moves by at most 2^-11 of itself, so a cosine
moves by at most ~5e-4 (benchmarks/storage.py measures it: results equal float32 within 1e-3).
Reads scale each vector back to unit L2 norm (float16 rounding leaves norms within ~1e-4 of 1),
after the vector check has seen the stored values. What the catalog hands out is exactly
:func:`stored_form` of what was written, so a vector index fed by the writer (Library.apply)
holds the same numbers as one rebuilt from the catalog.
A blob of 4 x D bytes is a float32 vector written before schema 7 (salvaged from an old file by
``clipcore repair``) and is still read.

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

__all__ = ["MIGRATION_FLOAT16", "VectorsTable", "delete_image_vectors", "pack_vector",
           "put_vector", "stored_form", "unit_rows", "unpack_vector"]

log = logging.getLogger("clipcore.catalog")
_damaged_lock = threading.Lock()

PARAMS_PER_QUERY = 900   # stay under SQLite's host-parameter limit
STORED = np.dtype("<f2")   # how a vector's values are stored (see the module docstring)
LEGACY = np.dtype("<f4")   # before schema 7


def pack_vector(vector: np.ndarray) -> bytes:
    """(D,) float32 -> the stored blob: D little-endian float16 values (2 x D bytes)."""
    return np.asarray(vector, dtype=np.float32).astype(STORED).tobytes()


def stored_form(vectors: np.ndarray) -> np.ndarray:
    """(n, D) or (D,) float32 -> the same shape, float32, L2-normalised, exactly as the catalog
    returns them once stored (rounded to float16, then scaled to unit norm)."""
    v = np.asarray(vectors, dtype=np.float32)
    return unit_rows(v.reshape(-1, v.shape[-1]).astype(STORED).astype(np.float32)).reshape(v.shape)


def unit_rows(vecs: np.ndarray) -> np.ndarray:
    """(n, D) float32 rows scaled to unit L2 norm, in place (rows of norm 0 left alone)."""
    norms = np.sqrt(np.einsum("ij,ij->i", vecs, vecs))
    norms[norms == 0] = 1.0
    vecs /= norms[:, None]
    return vecs


def unpack_vector(blob: bytes, dim: int) -> np.ndarray:
    """A stored blob -> (D,) float32 as stored (not yet scaled to unit norm): float16
    (2 x ``dim`` bytes) or a float32 blob written before schema 7 (4 x ``dim`` bytes); any
    other length -> a row of NaN (the vector check then refuses it)."""
    for dtype in (STORED, LEGACY):
        if isinstance(blob, bytes) and len(blob) == dim * dtype.itemsize:
            return np.frombuffer(blob, dtype=dtype).astype(np.float32)
    return np.full(dim, np.nan, np.float32)


def put_vector(c: sqlite3.Connection, image_id: int, model_id: int, seq: int,
               vector: np.ndarray) -> None:
    """Inside a transaction: store (or replace) ``vector`` (D,) float32 for the image/model
    (as float16, see :func:`pack_vector`)."""
    c.execute("INSERT OR REPLACE INTO vectors (image_id, model_id, seq, vector) VALUES (?, ?, ?, ?)",
              (image_id, model_id, seq, pack_vector(vector)))


def _to_float16(c: sqlite3.Connection) -> None:
    """Migration 7: every float32 blob of ``vectors`` and ``tombstones`` becomes float16, and
    ``vectors`` becomes a rowid table. A WITHOUT ROWID table keeps at most ~1,000 bytes of a
    row on its 4 KiB b-tree page and spills the rest to an overflow page of its own, so a
    512-d vector took a whole page whatever its dtype; a rowid table keeps up to ~4,000 bytes
    inline: three 512-d float16 rows a page."""
    def convert(blob, dim):
        if isinstance(blob, bytes) and dim and len(blob) == 4 * dim:
            return np.frombuffer(blob, LEGACY).astype(STORED).tobytes()
        return blob

    c.create_function("clipcore_float16", 2, convert, deterministic=True)
    c.execute("""CREATE TABLE vectors_f16 (
                     image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
                     model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
                     seq      INTEGER NOT NULL,
                     vector   BLOB NOT NULL,
                     PRIMARY KEY (image_id, model_id))""")
    c.execute("""INSERT INTO vectors_f16 (image_id, model_id, seq, vector)
                 SELECT image_id, model_id, seq, clipcore_float16(vector,
                            (SELECT dim FROM models m WHERE m.id = vectors.model_id))
                   FROM vectors ORDER BY image_id, model_id""")   # key order: no sort
    c.execute("DROP TABLE vectors")
    c.execute("ALTER TABLE vectors_f16 RENAME TO vectors")
    c.execute("CREATE INDEX vectors_model_seq ON vectors(model_id, seq)")
    c.execute("""UPDATE tombstones SET vector = clipcore_float16(vector,
                     (SELECT dim FROM models m WHERE m.id = tombstones.model_id))""")


#: Migration 7 (a step run by Python: SQL cannot convert the blobs).
MIGRATION_FLOAT16 = [_to_float16]


def delete_image_vectors(c: sqlite3.Connection, image_id: int) -> bool:
    """Inside a transaction: drop every vector of the image; True when there was one."""
    return c.execute("DELETE FROM vectors WHERE image_id = ?", (image_id,)).rowcount > 0


def _unpack(rows: list[tuple[int, bytes]], dim: int | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """(ids (n,) int64, vectors (n, D) float32) from float16 blobs (float32 ones of before
    schema 7 too, see :func:`unpack_vector`); a blob of the wrong length (D = ``dim``, else
    from the most common length) becomes a row of NaN, which the vector check then refuses."""
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    sizes = [len(r[1]) if isinstance(r[1], bytes) else -1 for r in rows]
    if not dim:
        dim = max(max(set(sizes), key=sizes.count), 0) // STORED.itemsize
    size = dim * STORED.itemsize
    if all(n == size for n in sizes):
        vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=STORED).reshape(len(rows), dim)
        return ids, vecs.astype(np.float32)
    vecs = np.empty((len(rows), dim), np.float32)
    for i, r in enumerate(rows):
        vecs[i] = unpack_vector(r[1], dim)
    return ids, vecs


class VectorsTable(Table):
    def _dim(self, model_id: int) -> int | None:
        row = self.conn().execute("SELECT dim FROM models WHERE id = ?", (model_id,)).fetchone()
        return int(row[0]) if row else None

    def _checked(self, model_id: int, ids: np.ndarray, vecs: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """The rows of (ids, vecs) that are usable embeddings; the others are recorded."""
        bad = bad_rows(vecs) if len(ids) else np.zeros(0, bool)
        if not bad.any():
            return ids, unit_rows(vecs)
        with _damaged_lock:
            seen = self.__dict__.setdefault("_damaged", {}).setdefault(model_id, set())
            new = sorted(set(ids[bad].tolist()) - seen)
            seen.update(new)
        if new:
            log.warning("%d stored vector(s) in the catalog %s are damaged (image ids %s); they "
                        "are left out of search, and the photos are embedded again by the "
                        "next 'clipcore index'.", len(new), self.path,
                        ", ".join(map(str, new[:10])) + (" ..." if len(new) > 10 else ""))
        return ids[~bad], unit_rows(vecs[~bad])

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
        dim = self._dim(model_id)
        if image_ids is not None:
            ids = [int(i) for i in image_ids]
            for start in range(0, len(ids), PARAMS_PER_QUERY):
                part = ids[start:start + PARAMS_PER_QUERY]
                rows = c.execute(
                    f"SELECT image_id, vector FROM vectors WHERE model_id = ? AND image_id IN "
                    f"({','.join('?' * len(part))})", (model_id, *part)).fetchall()
                if rows:
                    yield self._checked(model_id, *_unpack(rows, dim))
            return
        cur = c.execute("SELECT image_id, vector FROM vectors WHERE model_id = ? AND seq > ?",
                        (model_id, since_seq))
        while rows := cur.fetchmany(chunk):
            yield self._checked(model_id, *_unpack(rows, dim))

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
        return self._checked(model_id, *_unpack(list(rows.values()), self._dim(model_id)))

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

    def vector_ids_since(self, model_id: int, since_seq: int) -> np.ndarray:
        """Ids (n,) int64 of the images whose vector of ``model_id`` was written after
        generation ``since_seq``: new photos and photos embedded again under the same id."""
        rows = self.conn().execute("SELECT image_id FROM vectors WHERE model_id = ? AND seq > ?",
                                   (model_id, since_seq)).fetchall()
        return np.fromiter((r[0] for r in rows), np.int64, len(rows))

    def count_vectors(self, model_id: int) -> int:
        return int(self.conn().execute("SELECT count(*) FROM vectors WHERE model_id = ?",
                                       (model_id,)).fetchone()[0])
