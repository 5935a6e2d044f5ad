"""The ``crop_vectors`` table: the vectors of square crops of wide and tall photos (issue 14;
see clipcore/crops.py), float16 like ``vectors``, keyed by (image, model, part >= 1).

Only the vector index reads them (a photo is found by any of its vectors); every other reader
of vectors (find similar, duplicates, groups, map, tags, tombstones) uses ``vectors``, the
whole-image vector. A photo's crops are written with its whole-image vector, in the same
transaction and generation (``seq``), and go with it (ON DELETE CASCADE when the image row
goes; replaced when it is embedded again).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import numpy as np

from .base import Table
from .vectors import PARAMS_PER_QUERY, pack_vector, unpack_vector, unit_rows

__all__ = ["MIGRATION", "CropsTable", "crop_keys", "delete_crops", "put_crops"]

MIGRATION: list[str] = [
    """CREATE TABLE IF NOT EXISTS crop_vectors (
           image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
           model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
           part     INTEGER NOT NULL CHECK (part >= 1),
           seq      INTEGER NOT NULL,
           vector   BLOB NOT NULL,
           PRIMARY KEY (image_id, model_id, part))""",
    "CREATE INDEX IF NOT EXISTS crop_vectors_model_seq ON crop_vectors(model_id, seq)",
]


def crop_keys(c: sqlite3.Connection, image_ids) -> np.ndarray:
    """(r, 2) int64 (image id, part) of every crop vector (any model) of ``image_ids``."""
    ids = [int(i) for i in image_ids]
    out: list[tuple[int, int]] = []
    for start in range(0, len(ids), PARAMS_PER_QUERY):
        part = ids[start:start + PARAMS_PER_QUERY]
        out += c.execute(f"SELECT image_id, part FROM crop_vectors WHERE image_id IN "
                         f"({','.join('?' * len(part))})", part).fetchall()
    return np.asarray(out, np.int64).reshape(-1, 2)


def delete_crops(c: sqlite3.Connection, image_id: int) -> np.ndarray:
    """Inside a transaction: drop the image's crop vectors (every model); returns their
    (r, 2) int64 (image id, part)."""
    keys = crop_keys(c, [image_id])
    if len(keys):
        c.execute("DELETE FROM crop_vectors WHERE image_id = ?", (image_id,))
    return keys


def put_crops(c: sqlite3.Connection, image_id: int, model_id: int, seq: int,
              vectors: np.ndarray | None) -> np.ndarray:
    """Inside a transaction: replace the image's crop vectors for the model by ``vectors``
    (c, D) float32 (parts 1..c; None or empty: none). Returns the parts (r,) int64 that
    existed before and exist no more."""
    old = [r[0] for r in c.execute("SELECT part FROM crop_vectors WHERE image_id = ? AND "
                                   "model_id = ?", (image_id, model_id))]
    n = 0 if vectors is None else len(vectors)
    if old:
        c.execute("DELETE FROM crop_vectors WHERE image_id = ? AND model_id = ?",
                  (image_id, model_id))
    if vectors is not None and n:
        c.executemany("INSERT INTO crop_vectors (image_id, model_id, part, seq, vector) "
                      "VALUES (?, ?, ?, ?, ?)",
                      [(image_id, model_id, p + 1, seq, pack_vector(v))
                       for p, v in enumerate(vectors)])
    return np.asarray([p for p in old if p > n], np.int64)


class CropsTable(Table):
    def iter_crop_vectors(self, model_id: int, since_seq: int = -1, chunk: int = 20_000
                          ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Yield (image ids (n,) int64, parts (n,) int64, vectors (n, D) float32, unit norm)
        of the model's crops written after generation ``since_seq``; damaged ones (not
        finite, norm off by more than 1e-3) are left out."""
        from ..vectorcheck import bad_rows

        c = self.conn()
        row = c.execute("SELECT dim FROM models WHERE id = ?", (model_id,)).fetchone()
        if row is None:
            return
        dim = int(row[0])
        cur = c.execute("SELECT image_id, part, vector FROM crop_vectors WHERE model_id = ? "
                        "AND seq > ?", (model_id, since_seq))
        while rows := cur.fetchmany(chunk):
            ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
            parts = np.fromiter((r[1] for r in rows), np.int64, len(rows))
            vecs = np.stack([unpack_vector(r[2], dim) for r in rows])
            good = ~bad_rows(vecs)
            yield ids[good], parts[good], unit_rows(vecs[good])

    def crop_keys(self, model_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(image ids (n,) int64, parts (n,) int64) of every crop vector of the model."""
        rows = self.conn().execute("SELECT image_id, part FROM crop_vectors WHERE model_id = ?",
                                   (model_id,)).fetchall()
        keys = np.asarray(rows, np.int64).reshape(-1, 2)
        return keys[:, 0], keys[:, 1]

    def count_crops(self, model_id: int) -> int:
        """How many crop vectors the model has."""
        return int(self.conn().execute("SELECT count(*) FROM crop_vectors WHERE model_id = ?",
                                       (model_id,)).fetchone()[0])

    def cropped_photos(self, model_id: int) -> tuple[int, int]:
        """(photos with crop vectors, crop vectors) of the model."""
        row = self.conn().execute("SELECT count(DISTINCT image_id), count(*) FROM crop_vectors "
                                  "WHERE model_id = ?", (model_id,)).fetchone()
        return int(row[0]), int(row[1])

    def crop_count(self, image_id: int, model_id: int) -> int:
        """How many crop vectors one image has for the model."""
        return int(self.conn().execute(
            "SELECT count(*) FROM crop_vectors WHERE image_id = ? AND model_id = ?",
            (image_id, model_id)).fetchone()[0])
