"""The ``removed_*`` tables: library folders removed with undo, kept aside until purged.

Removing a folder with undo (:meth:`RemovedTable.stash_folder`) moves, in one transaction, its
``folders`` row, its ``images`` rows, their ``vectors`` and perceptual hashes into these
tables, then deletes the live rows (bumping the generation, so vector indexes drop the ids).
Every other reader sees the folder gone. :meth:`RemovedTable.restore_folder` moves them back
(same image ids: ``images.id`` is never reused) with the vectors' ``seq`` set to a new
generation, so the vector indexes catch up with them from the catalog: nothing is embedded
again. :meth:`RemovedTable.purge_removed` forgets them for good (the app calls it when it
quits, and at its next start for what a crash left).

Not kept aside: the folder's ``volumes`` rows (online / offline state, found again by the
next scan) and tag memberships (scored again after the next index run, as for any new vector).
A column added to ``images`` later must be added to :data:`IMAGE_COLUMNS` and the table here.
"""

from __future__ import annotations

import sqlite3
import time

import numpy as np

from .base import Table
from .changes import Applied
from .crops import crop_keys
from .paths import fs_key, fs_path, path_range
from .state import bump_generation, current_generation

__all__ = ["MIGRATION", "RemovedTable"]

MIGRATION = [
    """CREATE TABLE IF NOT EXISTS removed_folders (
           id         INTEGER PRIMARY KEY,
           path       BLOB NOT NULL UNIQUE,
           added_ns   INTEGER NOT NULL,
           pending    INTEGER NOT NULL,
           removed_ns INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS removed_images (
           id           INTEGER PRIMARY KEY,
           folder_id    INTEGER NOT NULL,
           path         BLOB NOT NULL,
           size         INTEGER NOT NULL,
           mtime_ns     INTEGER NOT NULL,
           content_hash TEXT,
           width        INTEGER,
           height       INTEGER,
           date_taken   TEXT,
           status       TEXT NOT NULL,
           skip_reason  TEXT,
           date_source  TEXT)""",
    "CREATE INDEX IF NOT EXISTS removed_images_folder ON removed_images(folder_id)",
    """CREATE TABLE IF NOT EXISTS removed_vectors (
           image_id INTEGER NOT NULL,
           model_id INTEGER NOT NULL,
           vector   BLOB NOT NULL,
           PRIMARY KEY (image_id, model_id))""",
    """CREATE TABLE IF NOT EXISTS removed_hashes (
           image_id INTEGER PRIMARY KEY,
           phash    INTEGER NOT NULL,
           dhash    INTEGER NOT NULL)""",
]

#: The ``images`` columns kept aside, folder_id second (it is rewritten on the way).
IMAGE_COLUMNS = ("id", "folder_id", "path", "size", "mtime_ns", "content_hash", "width",
                 "height", "date_taken", "status", "skip_reason", "date_source")
_COLS = ", ".join(IMAGE_COLUMNS)
_WITH_FOLDER = ", ".join("?" if c == "folder_id" else c for c in IMAGE_COLUMNS)


def _copy_folder_rows(c: sqlite3.Connection, source: int, target: int, *, back: bool,
                      generation: int = 0) -> np.ndarray:
    """Inside a transaction: copy one folder's ``images`` rows, their vectors and perceptual
    hashes from the live tables to their ``removed_`` twins (``back``: the other way), the
    folder id rewritten from ``source`` to ``target``. Vectors coming back get ``generation``
    as their ``seq`` and only for models the catalog still has. The source rows are left for
    the caller. Returns the image ids, (N,) int64."""
    stash = source if back else target             # the folder's id in removed_images
    live, kept = ("images", "image_hashes"), ("removed_images", "removed_hashes")
    (images_from, hashes_from), (images_to, hashes_to) = (kept, live) if back else (live, kept)
    c.execute(f"INSERT INTO {images_to} ({_COLS}) SELECT {_WITH_FOLDER} FROM {images_from} "
              "WHERE folder_id = ?", (target, source))
    if back:
        c.execute("""INSERT INTO vectors (image_id, model_id, seq, vector)
                     SELECT v.image_id, v.model_id, ?, v.vector FROM removed_vectors v
                       JOIN removed_images r ON r.id = v.image_id
                      WHERE r.folder_id = ? AND v.model_id IN (SELECT id FROM models)""",
                  (generation, stash))
    else:
        c.execute("""INSERT INTO removed_vectors (image_id, model_id, vector)
                     SELECT v.image_id, v.model_id, v.vector FROM vectors v
                       JOIN removed_images r ON r.id = v.image_id WHERE r.folder_id = ?""",
                  (stash,))
    c.execute(f"""INSERT INTO {hashes_to} (image_id, phash, dhash)
                  SELECT h.image_id, h.phash, h.dhash FROM {hashes_from} h
                    JOIN removed_images r ON r.id = h.image_id WHERE r.folder_id = ?""",
              (stash,))
    return np.array(c.execute("SELECT id FROM removed_images WHERE folder_id = ?",
                              (stash,)).fetchall(), np.int64).reshape(-1)


def _forget(c: sqlite3.Connection, stash_id: int) -> None:
    """Inside a transaction: drop one stashed folder and everything kept with it."""
    inside = "SELECT id FROM removed_images WHERE folder_id = ?"
    c.execute(f"DELETE FROM removed_vectors WHERE image_id IN ({inside})", (stash_id,))
    c.execute(f"DELETE FROM removed_hashes WHERE image_id IN ({inside})", (stash_id,))
    c.execute("DELETE FROM removed_images WHERE folder_id = ?", (stash_id,))
    c.execute("DELETE FROM removed_folders WHERE id = ?", (stash_id,))


class RemovedTable(Table):
    def stash_folder(self, folder_id: int) -> Applied:
        """Remove a library folder but keep its rows aside for :meth:`restore_folder` (one
        transaction that bumps the generation). ``Applied.removed``: its image ids. An earlier
        removal of the same path still kept aside is forgotten."""
        with self.transaction("the library folders") as c:
            row = c.execute("SELECT path, added_ns, pending FROM folders WHERE id = ?",
                            (folder_id,)).fetchone()
            if row is None:
                return Applied(current_generation(c), np.empty(0, np.int64),
                               np.empty(0, np.int64), None)
            old = c.execute("SELECT id FROM removed_folders WHERE path = ?", (row[0],)).fetchone()
            if old:
                _forget(c, old[0])
            stash = int(c.execute(
                "INSERT INTO removed_folders (path, added_ns, pending, removed_ns) "
                "VALUES (?, ?, ?, ?)", (*row, time.time_ns())).lastrowid or 0)
            ids = _copy_folder_rows(c, folder_id, stash, back=False)
            crops = crop_keys(c, ids)       # (not kept aside: the next index run remakes them)
            c.execute("DELETE FROM folders WHERE id = ?", (folder_id,))   # images, vectors...
            generation = bump_generation(c)
        return Applied(generation, ids, np.empty(0, np.int64), None, crops)

    def restore_folder(self, path: str) -> tuple[int, np.ndarray] | None:
        """Bring back the folder at the absolute ``path`` kept aside by :meth:`stash_folder`
        (one transaction that bumps the generation; vectors get it as their ``seq``). Returns
        (new folder id, image ids restored), or None when nothing is kept for ``path``, or
        when a library folder or photos are there again (the caller checks folders around)."""
        key = fs_key(path)
        lo, hi = path_range(path)
        with self.transaction("the library folders") as c:
            row = c.execute("SELECT id, added_ns, pending FROM removed_folders WHERE path = ?",
                            (key,)).fetchone()
            if row is None:
                return None
            stash, added_ns, pending = row
            if c.execute("SELECT 1 FROM folders WHERE path = ? UNION ALL SELECT 1 FROM images "
                         "WHERE path >= ? AND path < ? LIMIT 1", (key, lo, hi)).fetchone():
                return None
            fid = int(c.execute("INSERT INTO folders (path, added_ns, pending) VALUES (?, ?, ?)",
                                (key, added_ns, pending)).lastrowid or 0)
            generation = bump_generation(c)
            ids = _copy_folder_rows(c, stash, fid, back=True, generation=generation)
            _forget(c, stash)
        return fid, ids

    def removed_folder_paths(self) -> list[str]:
        """Folders removed with undo and still kept aside, most recent first."""
        rows = self.conn().execute(
            "SELECT path FROM removed_folders ORDER BY removed_ns DESC").fetchall()
        return [fs_path(r[0]) for r in rows]

    def purge_removed(self) -> int:
        """Forget every folder kept aside for undo (and its images' rows and vectors) for
        good; returns how many folders. Nothing is written when there is none."""
        if not self.conn().execute("SELECT EXISTS (SELECT 1 FROM removed_folders)").fetchone()[0]:
            return 0
        with self.transaction("the removed folders") as c:
            count = c.execute("SELECT count(*) FROM removed_folders").fetchone()[0]
            for table in ("removed_vectors", "removed_hashes", "removed_images",
                          "removed_folders"):
                c.execute(f"DELETE FROM {table}")
        return int(count)
