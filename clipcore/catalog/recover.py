"""Salvage a damaged catalog file into a new catalog, row by row (``clipcore repair``).

The damaged file is opened read-only and each table is walked in key order; a statement that
meets a damaged page is abandoned and the walk resumes past it (probing ever further keys), so
every row on a readable page is kept. Rows are copied with the columns both schemas share;
rows whose folder, image or model did not survive are dropped (the next index run finds their
files again). The new catalog keeps the old ids (so vector-index files still name the right
images) but gets a new ``catalog_uid``: every vector-index cache is rebuilt from it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import numpy as np

from .base import Table
from .vectors import put_vector

__all__ = ["Salvage", "RecoverTable"]

_TABLES = {  # table -> its key columns (walk order)
    "settings": ("key",), "models": ("id",), "folders": ("id",), "images": ("id",),
    "vectors": ("image_id", "model_id"),
}
_FIRST = {"key": ""}          # start below every key (text keys; integer keys start at -2**63)


@dataclass
class Salvage:
    """What came through: table -> rows kept, and the rows found unreadable or dropped."""
    kept: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    damaged_stretches: int = 0        # times a walk met a damaged page and skipped ahead


def _walk(db: sqlite3.Connection, table: str, columns: list[str], report: Salvage
          ) -> Iterator[tuple]:
    """Rows of ``table`` in key order, skipping what cannot be read."""
    keys = _TABLES[table]
    order = ", ".join(keys)
    cols = ", ".join(columns)
    after: tuple = tuple(_FIRST.get(k, -2**63) for k in keys)
    where = f"({order}) > ({', '.join('?' * len(keys))})"
    while True:
        try:
            for row in db.execute(f"SELECT {cols} FROM {table} WHERE {where} ORDER BY {order}",
                                  after):
                after = tuple(row[columns.index(k)] for k in keys)
                yield row
            return
        except sqlite3.DatabaseError:
            report.damaged_stretches += 1
            if isinstance(after[0], str):          # text keys (settings): give up the rest
                return
            step = 1
            while True:                            # probe past the damaged part
                probe = (after[0] + step,) + tuple(-2**63 for _ in keys[1:])
                if probe[0] > 2**62:
                    return
                try:                               # reading the row, not only its key: a
                    db.execute(                    # sound index over damaged rows is no way on
                        f"SELECT {cols} FROM {table} WHERE {where} ORDER BY {order} LIMIT 1",
                        probe).fetchone()
                    after = probe
                    break
                except sqlite3.DatabaseError:
                    step *= 2


def _columns(db: sqlite3.Connection, new: sqlite3.Connection, table: str) -> list[str]:
    mine = [r[1] for r in new.execute(f"PRAGMA table_info({table})")]
    try:
        theirs = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
    except sqlite3.DatabaseError:
        return []
    return [c for c in mine if c in theirs]


class RecoverTable(Table):
    def salvage_from(self, damaged: Path) -> Salvage:
        """Copy every readable row of the catalog file ``damaged`` into this (new, empty)
        catalog in one transaction. Raises CatalogError when this catalog cannot be written."""
        report = Salvage()
        db = sqlite3.connect(f"file:{quote(str(damaged))}?mode=ro", uri=True)
        try:
            with self.transaction("the repaired catalog") as c:
                c.execute("DELETE FROM settings")
                seen: dict[str, set] = {}
                for table in _TABLES:
                    columns = _columns(db, c, table)
                    kept = dropped = 0
                    ids = seen.setdefault(table, set())
                    for row in (_walk(db, table, columns, report) if columns else ()):
                        values = dict(zip(columns, row))
                        if not _parents_kept(table, values, seen):
                            dropped += 1
                            continue
                        try:
                            c.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                                      f"({', '.join('?' * len(columns))})", row)
                        except sqlite3.IntegrityError:   # a damaged row breaking a constraint
                            dropped += 1
                            continue
                        ids.add(values.get("id"))
                        kept += 1
                    report.kept[table], report.dropped[table] = kept, dropped
                top = c.execute("SELECT coalesce(max(seq), 0) FROM vectors").fetchone()[0]
                c.execute("UPDATE state SET generation = ?", (top + 1,))
        finally:
            db.close()
        return report

    def images_without_vector(self, model_id: int) -> np.ndarray:
        """(N,) int64 ids of the images with status ok and no vector for ``model_id``."""
        rows = self.conn().execute(
            "SELECT id FROM images i WHERE status = 'ok' AND NOT EXISTS (SELECT 1 FROM vectors v "
            "WHERE v.image_id = i.id AND v.model_id = ?)", (model_id,))
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def model_rows(self) -> list[tuple[int, int]]:
        """(id, dim) of every model."""
        return [(int(r[0]), int(r[1])) for r in self.conn().execute("SELECT id, dim FROM models")]

    def restore_vectors(self, model_id: int, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Store ``vectors`` (n, D) float32 for images ``ids`` (from a vector-index file) in
        one transaction, as written at the current generation."""
        with self.transaction("the repaired catalog") as c:
            seq = c.execute("SELECT generation FROM state").fetchone()[0]
            for image_id, vector in zip(ids.tolist(), vectors):
                put_vector(c, int(image_id), model_id, seq, vector)


def _parents_kept(table: str, values: dict, seen: dict[str, set]) -> bool:
    if table == "images":
        return values.get("folder_id") in seen["folders"]
    if table == "vectors":
        return (values.get("image_id") in seen["images"]
                and values.get("model_id") in seen["models"])
    return True
