"""The ``sniffed`` table: what the first bytes of files of unknown type said (photo or not).

The scanner reads the first bytes of a file with no extension or an unknown one once
(:mod:`clipcore.filetypes`); the answer is kept here with the file's size and mtime, so a rescan
of an unchanged folder reads no file at all. Photos found this way also get an ``images`` row;
this table mostly remembers the files that are *not* photos.
"""

from __future__ import annotations

from .base import Table
from .paths import fs_key, fs_path, path_range

__all__ = ["SniffedTable", "MIGRATION"]

#: Schema 4 (with folders.pending).
MIGRATION = [
    """CREATE TABLE sniffed (
           path     BLOB PRIMARY KEY,
           size     INTEGER NOT NULL,
           mtime_ns INTEGER NOT NULL,
           is_image INTEGER NOT NULL) WITHOUT ROWID""",
]


class SniffedTable(Table):
    def sniffed_under(self, folder: str) -> dict[str, tuple[int, int, bool]]:
        """path -> (size, mtime_ns, is_image) of every remembered file inside ``folder``."""
        lo, hi = path_range(folder)
        rows = self.conn().execute(
            "SELECT path, size, mtime_ns, is_image FROM sniffed WHERE path >= ? AND path < ?",
            (lo, hi))
        return {fs_path(p): (size, mtime, bool(is_image)) for p, size, mtime, is_image in rows}

    def replace_sniffed(self, folder: str, entries: dict[str, tuple[int, int, bool]]) -> None:
        """Forget what was remembered inside ``folder`` and keep ``entries`` instead (one
        transaction): files gone since are forgotten with it."""
        lo, hi = path_range(folder)
        with self.transaction("the file types") as c:
            c.execute("DELETE FROM sniffed WHERE path >= ? AND path < ?", (lo, hi))
            c.executemany("INSERT OR REPLACE INTO sniffed (path, size, mtime_ns, is_image) "
                          "VALUES (?, ?, ?, ?)",
                          [(fs_key(p), size, mtime, int(is_image))
                           for p, (size, mtime, is_image) in entries.items()])
