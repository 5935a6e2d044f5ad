"""The ``volumes`` table: library folders and drives mounted inside them, online or offline.

A volume is a library folder, or a folder inside one on another device (a mount point, a
symlink to another drive). The indexer records after every scan whether each is online (its
device and when it was last seen) or offline (since when and why); clipcore.offline decides.
Photos under an offline volume keep their rows and vectors until the user removes the volume.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

import numpy as np

from .base import Table
from .crops import crop_keys
from .paths import fs_key, fs_path, path_range
from .state import bump_generation

__all__ = ["MIGRATION", "Volume", "VolumeUpdate", "VolumesTable", "put_volume"]

MIGRATION: list[str] = [
    """CREATE TABLE volumes (
           path             BLOB PRIMARY KEY,
           folder_id        INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
           dev              INTEGER,
           last_seen_ns     INTEGER,
           offline_since_ns INTEGER,
           offline_reason   TEXT)""",
    "CREATE INDEX volumes_folder ON volumes(folder_id)",
]


@dataclass(frozen=True)
class Volume:
    """What the catalog remembers of a volume. ``path``: absolute. ``dev``: st_dev when last
    seen online (None before the first scan). ``last_seen_ns``: wall-clock ns (time.time_ns) of
    the last scan that found it online. ``offline_since_ns`` / ``offline_reason``: None when
    online, else since when (time.time_ns) and why (a reason of clipcore.offline)."""

    path: str
    folder_id: int
    dev: int | None = None
    last_seen_ns: int | None = None
    offline_since_ns: int | None = None
    offline_reason: str | None = None

    @property
    def online(self) -> bool:
        return self.offline_reason is None


@dataclass(frozen=True)
class VolumeUpdate:
    """One scan's verdict on a volume, written with the indexer's changes: ``offline_reason``
    None -> online now with device ``dev``; else offline for that reason (the remembered
    device and last-seen time are kept)."""

    path: str
    folder_id: int
    dev: int | None
    offline_reason: str | None


def put_volume(c: sqlite3.Connection, v: VolumeUpdate, now_ns: int) -> None:
    """Inside a transaction: record a verdict. Online: device and last seen updated, the
    offline mark cleared. Offline: ``offline_since_ns`` set when it was online before."""
    if v.offline_reason is None:
        c.execute("""INSERT INTO volumes (path, folder_id, dev, last_seen_ns) VALUES (?, ?, ?, ?)
                     ON CONFLICT(path) DO UPDATE SET folder_id = excluded.folder_id,
                         dev = excluded.dev, last_seen_ns = excluded.last_seen_ns,
                         offline_since_ns = NULL, offline_reason = NULL""",
                  (fs_key(v.path), v.folder_id, v.dev, now_ns))
    else:
        c.execute("""INSERT INTO volumes (path, folder_id, offline_since_ns, offline_reason)
                     VALUES (?, ?, ?, ?)
                     ON CONFLICT(path) DO UPDATE SET folder_id = excluded.folder_id,
                         offline_since_ns = coalesce(offline_since_ns, excluded.offline_since_ns),
                         offline_reason = excluded.offline_reason""",
                  (fs_key(v.path), v.folder_id, now_ns, v.offline_reason))


def _volume(r: tuple) -> Volume:
    return Volume(fs_path(r[0]), *r[1:])


class VolumesTable(Table):
    def volume_rows(self, folder_id: int | None = None) -> list[Volume]:
        """The volumes of one library folder (or all), sorted by path."""
        sql = ("SELECT path, folder_id, dev, last_seen_ns, offline_since_ns, offline_reason "
               "FROM volumes")
        if folder_id is None:
            rows = self.conn().execute(sql + " ORDER BY path")
        else:
            rows = self.conn().execute(sql + " WHERE folder_id = ? ORDER BY path", (folder_id,))
        return [_volume(r) for r in rows]

    def put_volumes(self, updates: list[VolumeUpdate]) -> None:
        """Record verdicts in one transaction (no vector changes: the generation stays)."""
        with self.transaction("the library folders' state") as c:
            now_ns = time.time_ns()
            for v in updates:
                put_volume(c, v, now_ns)

    def forget_volume(self, path: str):
        """Forget a volume inside a library folder and every image under it (their vectors
        go with them) in one transaction that bumps the generation. Returns the
        :class:`~.changes.Applied` (``removed``: the ids of the images forgotten)."""
        from .changes import Applied   # (changes imports this module)

        lo, hi = path_range(path)
        with self.transaction("the library folders") as c:
            rows = c.execute("SELECT id FROM images WHERE path >= ? AND path < ?", (lo, hi))
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64)
            crops = crop_keys(c, ids)
            c.executemany("DELETE FROM images WHERE id = ?", [(int(i),) for i in ids])
            c.execute("DELETE FROM volumes WHERE path = ? OR (path >= ? AND path < ?)",
                      (fs_key(path), lo, hi))
            generation = bump_generation(c)
        return Applied(generation, ids, np.empty(0, np.int64), None, crops)
