"""The ``tombstones`` table: vectors of deleted photos, kept for a while by content hash.

A photo restored from the Trash, moved between library folders in two steps, or back on a
re-mounted drive after its rows were removed has the same content hash (scanner.content_hash,
which covers the size): its vector is taken from here instead of being embedded again. Rows are
written in the transaction that deletes the image, taken back (deleted) when the hash is indexed
again, and purged after ``tombstone_days`` (a library setting, default 30). Searches never read
this table.
"""

from __future__ import annotations

import sqlite3
import time
from typing import NamedTuple

import numpy as np

from .base import Table
from .vectors import unit_rows, unpack_vector

__all__ = ["MIGRATION", "Tombstone", "TombstonesTable", "bury", "take_back",
           "DEFAULT_TOMBSTONE_DAYS"]

DEFAULT_TOMBSTONE_DAYS = 30
_DAYS_KEY = "tombstone_days"
_DAY_NS = 86_400 * 10**9

MIGRATION: list[str] = [
    """CREATE TABLE tombstones (
           content_hash TEXT NOT NULL,
           model_id     INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
           size         INTEGER NOT NULL,
           vector       BLOB NOT NULL,
           width        INTEGER,
           height       INTEGER,
           date_taken   TEXT,
           date_source  TEXT,
           deleted_ns   INTEGER NOT NULL,
           PRIMARY KEY (content_hash, model_id)) WITHOUT ROWID""",
    "CREATE INDEX tombstones_age ON tombstones(deleted_ns)",
    "CREATE INDEX tombstones_size ON tombstones(model_id, size)",
]


class Tombstone(NamedTuple):
    """A deleted photo's vector (D,) float32 (as stored: float16 values) and what the catalog
    knew of it."""
    vector: np.ndarray
    width: int | None
    height: int | None
    date_taken: str | None
    date_source: str | None


def bury(c: sqlite3.Connection, image_ids: list[int], now_ns: int) -> None:
    """Inside a transaction, before deleting these images: keep their vectors (every model)
    as tombstones. Images without a content hash have none."""
    c.executemany(
        """INSERT OR REPLACE INTO tombstones (content_hash, model_id, size, vector, width, height,
                                             date_taken, date_source, deleted_ns)
           SELECT i.content_hash, v.model_id, i.size, v.vector, i.width, i.height,
                  i.date_taken, i.date_source, ?
             FROM images i JOIN vectors v ON v.image_id = i.id
            WHERE i.id = ? AND i.content_hash IS NOT NULL""",
        [(now_ns, int(i)) for i in image_ids])


def take_back(c: sqlite3.Connection, content_hash: str, model_id: int) -> None:
    """Inside a transaction: the photo is indexed again; its tombstone is no longer needed."""
    c.execute("DELETE FROM tombstones WHERE content_hash = ? AND model_id = ?",
              (content_hash, model_id))


class TombstonesTable(Table):
    def tombstone_days(self) -> int:
        """How many days vectors of deleted photos are kept (library setting)."""
        row = self.conn().execute("SELECT value FROM settings WHERE key = ?",
                                  (_DAYS_KEY,)).fetchone()
        return int(row[0]) if row else DEFAULT_TOMBSTONE_DAYS

    def set_tombstone_days(self, days: int) -> None:
        """Set how many days vectors of deleted photos are kept (0: not kept)."""
        with self.transaction("the library settings") as c:
            c.execute("INSERT INTO settings (key, value) VALUES (?, ?) "
                      "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                      (_DAYS_KEY, str(max(0, int(days)))))

    def tombstone_sizes(self, model_id: int) -> set[int]:
        """File sizes (bytes) that have a tombstone for the model: only new files of these
        sizes need hashing to look for one."""
        rows = self.conn().execute("SELECT DISTINCT size FROM tombstones WHERE model_id = ?",
                                   (model_id,))
        return {r[0] for r in rows}

    def tombstone(self, content_hash: str, model_id: int) -> Tombstone | None:
        row = self.conn().execute(
            "SELECT t.vector, m.dim, t.width, t.height, t.date_taken, t.date_source "
            "FROM tombstones t JOIN models m ON m.id = t.model_id "
            "WHERE t.content_hash = ? AND t.model_id = ?", (content_hash, model_id)).fetchone()
        if row is None:
            return None
        return Tombstone(unit_rows(unpack_vector(row[0], row[1])[None])[0], *row[2:])

    def purge_tombstones(self, now_ns: int | None = None) -> int:
        """Drop tombstones older than the library's ``tombstone_days``; returns how many."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        cutoff = now_ns - self.tombstone_days() * _DAY_NS
        if not self.conn().execute("SELECT EXISTS (SELECT 1 FROM tombstones WHERE deleted_ns "
                                   "<= ?)", (cutoff,)).fetchone()[0]:
            return 0
        with self.transaction("the deleted photos' vectors") as c:
            return c.execute("DELETE FROM tombstones WHERE deleted_ns <= ?", (cutoff,)).rowcount
