"""The ``image_hashes`` table: perceptual hashes (pHash, dHash) of indexed images, written with
the image at index time (duplicates.perceptual_hash) and read by the duplicate finder; also the
content hashes of the ``images`` table, read for exact duplicates."""

from __future__ import annotations

import sqlite3

from .base import Table

__all__ = ["MIGRATION", "HashesTable", "put_hashes"]

MIGRATION: list[str] = [
    """CREATE TABLE image_hashes (
           image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
           phash    INTEGER NOT NULL,
           dhash    INTEGER NOT NULL)""",
]
_PER_QUERY = 900


def put_hashes(c: sqlite3.Connection, image_id: int, hashes: tuple[int, int] | None) -> None:
    """Inside a transaction: store the image's (pHash, dHash) as signed int64s; None forgets a
    previous pair (the file changed and could not be hashed)."""
    if hashes is None:
        c.execute("DELETE FROM image_hashes WHERE image_id = ?", (image_id,))
    else:
        c.execute("INSERT OR REPLACE INTO image_hashes (image_id, phash, dhash) VALUES (?, ?, ?)",
                  (image_id, int(hashes[0]), int(hashes[1])))


class HashesTable(Table):
    def perceptual_hashes(self, ids: list[int]) -> dict[int, tuple[int, int]]:
        """image id -> (pHash, dHash) for the ids that have them."""
        out: dict[int, tuple[int, int]] = {}
        c = self.conn()
        for start in range(0, len(ids), _PER_QUERY):
            part = [int(i) for i in ids[start:start + _PER_QUERY]]
            rows = c.execute("SELECT image_id, phash, dhash FROM image_hashes WHERE image_id IN "
                             f"({','.join('?' * len(part))})", part)
            out.update((r[0], (r[1], r[2])) for r in rows)
        return out

    def set_perceptual_hashes(self, hashes: dict[int, tuple[int, int]]) -> None:
        """Store hashes computed after indexing (images indexed before hashes existed)."""
        with self.transaction("the perceptual hashes") as c:
            for image_id, pair in hashes.items():
                put_hashes(c, image_id, pair)

    def content_hashes(self) -> dict[int, str]:
        """image id -> content hash, for the images whose content hash is shared by another
        image (the exact duplicates; one indexed query)."""
        rows = self.conn().execute(
            """SELECT id, content_hash FROM images WHERE content_hash IN
                 (SELECT content_hash FROM images WHERE content_hash IS NOT NULL
                   GROUP BY content_hash HAVING count(*) > 1)""")
        return {r[0]: r[1] for r in rows}
