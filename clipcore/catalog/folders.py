"""The ``folders`` table: the library folders (absolute paths) and their counts.

``pending`` (schema 4) is how many photos the last index run of a folder found but did not get
to (it was cancelled or interrupted): "48 of 600 indexed · paused", and what `clipcore info`
says is left to do. A run that finishes sets it to 0.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .base import Table
from .changes import Applied
from .crops import crop_keys
from .images import ImageStatus
from .paths import fs_key, fs_path, path_range
from .state import bump_generation

__all__ = ["FolderInfo", "FolderRow", "FoldersTable", "MIGRATION"]

#: Schema 4: the photos of a folder the last run found but did not index.
MIGRATION = ["ALTER TABLE folders ADD COLUMN pending INTEGER NOT NULL DEFAULT 0"]


class FolderRow(NamedTuple):
    id: int
    path: str              # absolute


@dataclass(frozen=True)
class FolderInfo:
    id: int
    path: str              # absolute
    image_count: int       # images known in this folder (any status)
    indexed_count: int     # images with a vector for the library's current model
    skipped_count: int     # images with a skip reason
    pending: int = 0       # photos found by the last run but not indexed yet (it stopped early)
    offline_reason: str | None = None    # None: online (or never scanned); see clipcore.offline
    offline_since_ns: int | None = None  # time.time_ns() when it was first found offline
    last_seen_ns: int | None = None      # time.time_ns() of the last scan that found it


class FoldersTable(Table):
    def folder_rows(self) -> list[FolderRow]:
        """Every library folder, sorted by path bytes."""
        rows = self.conn().execute("SELECT id, path FROM folders ORDER BY path").fetchall()
        return [FolderRow(fid, fs_path(p)) for fid, p in rows]

    def folder_id(self, path: str) -> int | None:
        """The id of the library folder at the absolute ``path``, or None."""
        row = self.conn().execute("SELECT id FROM folders WHERE path = ?", (fs_key(path),)).fetchone()
        return row[0] if row else None

    def folder_info(self, folder_id: int, model_id: int | None) -> FolderInfo:
        """Counts of one folder; ``indexed_count`` counts vectors of ``model_id``; its
        online / offline state from the ``volumes`` table."""
        row = self.conn().execute(
            """SELECT f.path, count(i.id), coalesce(sum(i.status = ?), 0),
                      (SELECT count(*) FROM vectors v JOIN images j ON j.id = v.image_id
                        WHERE j.folder_id = f.id AND v.model_id = ?), f.pending,
                      o.offline_reason, o.offline_since_ns, o.last_seen_ns
                 FROM folders f LEFT JOIN images i ON i.folder_id = f.id
                      LEFT JOIN volumes o ON o.path = f.path
                WHERE f.id = ? GROUP BY f.id""",
            (ImageStatus.SKIPPED.value, -1 if model_id is None else model_id, folder_id)).fetchone()
        return FolderInfo(folder_id, fs_path(row[0]), row[1], row[3], row[2], *row[4:])

    def set_pending(self, counts: dict[int, int]) -> None:
        """Record, per folder id, how many found photos the last run left unindexed."""
        with self.transaction("the library folders") as c:
            c.executemany("UPDATE folders SET pending = ? WHERE id = ?",
                          [(max(0, int(n)), fid) for fid, n in counts.items()])

    def insert_folder(self, path: str) -> int:
        """Add the absolute ``path`` as a library folder (one transaction) and return its id.
        Images already known inside it move to it, and library folders inside it are absorbed
        (their images keep their rows and vectors). The caller checks it is not inside one."""
        with self.transaction("the library folders") as c:
            fid = int(c.execute("INSERT INTO folders (path, added_ns) VALUES (?, ?)",
                                (fs_key(path), time.time_ns())).lastrowid or 0)
            lo, hi = path_range(path)
            c.execute("UPDATE images SET folder_id = ? WHERE path >= ? AND path < ?", (fid, lo, hi))
            c.execute("DELETE FROM folders WHERE path >= ? AND path < ?", (lo, hi))
        return fid

    def subfolder_counts(self, folder: str) -> dict[str, int]:
        """Folders strictly inside the absolute path ``folder`` that hold photos indexed (status
        ok), directly or further down -> how many photos anywhere inside each."""
        lo, hi = path_range(folder)
        rows = self.conn().execute("SELECT path FROM images WHERE path >= ? AND path < ? AND "
                                   "status = ?", (lo, hi, ImageStatus.OK.value)).fetchall()
        sep = os.fsencode(os.sep)
        direct: dict[bytes, int] = {}
        for (path,) in rows:
            parent = bytes(path).rpartition(sep)[0]
            direct[parent] = direct.get(parent, 0) + 1
        top = fs_key(folder.rstrip(os.sep))
        counts: dict[str, int] = {}
        for parent, n in direct.items():
            while len(parent) > len(top):
                name = fs_path(parent)
                counts[name] = counts.get(name, 0) + n
                parent = parent.rpartition(sep)[0]
        return counts

    def delete_folder(self, folder_id: int) -> Applied:
        """Forget a library folder and its images and vectors (one transaction that bumps the
        generation). ``Applied.removed``: the ids of the images forgotten."""
        with self.transaction("the library folders") as c:
            rows = c.execute("SELECT id FROM images WHERE folder_id = ?", (folder_id,))
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64)
            crops = crop_keys(c, ids)
            c.execute("DELETE FROM folders WHERE id = ?", (folder_id,))
            generation = bump_generation(c)
        return Applied(generation, ids, np.empty(0, np.int64), None, crops)
