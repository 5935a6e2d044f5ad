"""The ``images`` table: one row per file seen in a library folder (indexed or skipped)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

import numpy as np

from .base import Table
from .paths import fs_key, fs_path, path_range

__all__ = ["ImageRow", "ImageStatus", "ImagesTable", "KnownImage", "upsert_image"]

_COLUMNS = ("id, path, size, mtime_ns, width, height, date_taken, status, skip_reason, "
            "date_source")

#: Schema 3: where ``date_taken`` comes from ("exif", or "file": the file's modification time,
#: filled in for photos indexed before without an EXIF date, in local time) and an index for
#: date ranges and date sorts (see clipcore.dates).
MIGRATION_DATE_SOURCE: list[str] = [
    "ALTER TABLE images ADD COLUMN date_source TEXT",
    "UPDATE images SET date_source = 'exif' WHERE date_taken IS NOT NULL",
    """UPDATE images SET date_source = 'file', date_taken = strftime('%Y-%m-%dT%H:%M:%S',
           mtime_ns / 1000000000, 'unixepoch', 'localtime')
        WHERE date_taken IS NULL AND status = 'ok'""",
    "CREATE INDEX images_date ON images(date_taken)",
]
PARAMS_PER_QUERY = 900   # stay under SQLite's host-parameter limit


class ImageStatus(str, Enum):
    """``images.status``: exactly the values the schema's CHECK allows."""

    OK = "ok"              # decoded and embedded (it has a vector for the model it was indexed with)
    SKIPPED = "skipped"    # could not be indexed; ``skip_reason`` says why; retried when it changes
    PENDING = "pending"    # allowed by schema 1 for a file seen but not yet indexed; never written

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ImageRow:
    """One image as the catalog knows it; ``path`` absolute, ``date_taken`` ISO 8601 or None,
    ``width``/``height`` in pixels (full resolution, upright) or None when skipped."""

    id: int
    path: str
    size: int                  # bytes
    mtime_ns: int
    width: int | None
    height: int | None
    date_taken: str | None
    status: ImageStatus
    skip_reason: str | None
    date_source: str | None = None   # "exif" | "file" (modification time) | None (skipped)


class KnownImage(NamedTuple):
    """What the indexer's diff needs of one image row (see :meth:`ImagesTable.folder_state`)."""

    id: int
    size: int
    mtime_ns: int
    status: ImageStatus
    content_hash: str | None
    has_vector: bool           # for the model asked about


def _row(r: tuple) -> ImageRow:
    return ImageRow(r[0], fs_path(r[1]), r[2], r[3], r[4], r[5], r[6], ImageStatus(r[7]), r[8],
                    r[9])


def upsert_image(c: sqlite3.Connection, path: str, folder_id: int, size: int, mtime_ns: int,
                 status: ImageStatus, reason: str | None = None, content_hash: str | None = None,
                 width: int | None = None, height: int | None = None,
                 date_taken: str | None = None, date_source: str | None = None) -> int:
    """Inside a transaction: insert or update the row of ``path``; returns its id (kept when
    the row existed)."""
    key = fs_key(path)
    c.execute(
        """INSERT INTO images (folder_id, path, size, mtime_ns, content_hash, width, height,
                               date_taken, date_source, status, skip_reason)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(path) DO UPDATE SET folder_id = excluded.folder_id, size = excluded.size,
               mtime_ns = excluded.mtime_ns, content_hash = excluded.content_hash,
               width = excluded.width, height = excluded.height, date_taken = excluded.date_taken,
               date_source = excluded.date_source, status = excluded.status, skip_reason = excluded.skip_reason""",
        (folder_id, key, size, mtime_ns, content_hash, width, height, date_taken, date_source,
         ImageStatus(status).value, reason))
    return int(c.execute("SELECT id FROM images WHERE path = ?", (key,)).fetchone()[0])


def delete_images(c: sqlite3.Connection, ids: list[int]) -> None:
    """Inside a transaction: forget these images (their vectors go with them)."""
    c.executemany("DELETE FROM images WHERE id = ?", [(int(i),) for i in ids])


def move_image(c: sqlite3.Connection, image_id: int, path: str, folder_id: int, size: int,
               mtime_ns: int) -> None:
    """Inside a transaction: the image now lives at ``path`` (keeps its id and vectors)."""
    c.execute("UPDATE images SET path = ?, folder_id = ?, size = ?, mtime_ns = ? WHERE id = ?",
              (fs_key(path), folder_id, size, mtime_ns, image_id))


class ImagesTable(Table):
    def image_ids_taken_between(self, lo: str | None, hi: str | None) -> np.ndarray:
        """(N,) int64 ids of the images whose ``date_taken`` is in ``[lo, hi)`` (ISO text
        compared as strings, see clipcore.dates; None = open; an undated image never matches)."""
        rows = self.conn().execute(
            "SELECT id FROM images WHERE date_taken >= ? AND date_taken < ?",
            (lo if lo is not None else "", hi if hi is not None else "\uffff")).fetchall()
        return np.array(rows, dtype=np.int64).reshape(-1)

    def image_date_column(self) -> tuple[np.ndarray, np.ndarray]:
        """Every dated image as (dates (N,) bytes ``S<w>`` (UTF-8 of ``date_taken``, sorted
        ascending as SQLite compares text), ids (N,) int64 in the same order): the column a
        date range is cut from with two binary searches (see clipcore.scope)."""
        rows = self.conn().execute(
            "SELECT CAST(date_taken AS BLOB), id FROM images WHERE date_taken IS NOT NULL "
            "ORDER BY date_taken").fetchall()
        if not rows:
            return np.empty(0, "S1"), np.empty(0, np.int64)
        dates = np.array([r[0] for r in rows])
        ids = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        return dates, ids

    def images_by_ids(self, ids: list[int]) -> dict[int, ImageRow]:
        """id -> row for the ids that exist (in no particular order)."""
        found: dict[int, ImageRow] = {}
        c = self.conn()
        for start in range(0, len(ids), PARAMS_PER_QUERY):
            part = [int(i) for i in ids[start:start + PARAMS_PER_QUERY]]
            rows = c.execute(f"SELECT {_COLUMNS} FROM images WHERE id IN "
                             f"({','.join('?' * len(part))})", part).fetchall()
            found.update((r[0], _row(r)) for r in rows)
        return found

    def find_image(self, path: str) -> ImageRow | None:
        """The row of the absolute ``path``, or None."""
        r = self.conn().execute(f"SELECT {_COLUMNS} FROM images WHERE path = ?",
                                (fs_key(path),)).fetchone()
        return _row(r) if r else None

    def images_with_status(self, status: ImageStatus) -> list[ImageRow]:
        """Every row with that status (unordered)."""
        rows = self.conn().execute(f"SELECT {_COLUMNS} FROM images WHERE status = ?",
                                   (ImageStatus(status).value,))
        return [_row(r) for r in rows]

    def image_ids_in_folder(self, folder_id: int) -> np.ndarray:
        """(n,) int64 ids of the images of a library folder."""
        rows = self.conn().execute("SELECT id FROM images WHERE folder_id = ?", (folder_id,))
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def image_ids_under(self, folder: str) -> np.ndarray:
        """(n,) int64 ids of the images anywhere inside the absolute path ``folder``."""
        lo, hi = path_range(folder)
        rows = self.conn().execute("SELECT id FROM images WHERE path >= ? AND path < ?",
                                   (lo, hi)).fetchall()
        return np.array(rows, dtype=np.int64).reshape(-1)

    def folder_state(self, folder_id: int, model_id: int | None) -> dict[str, KnownImage]:
        """path -> KnownImage for every image row of the folder; ``has_vector`` refers to
        ``model_id`` (None: a model without vectors yet): a photo wider or taller than 1.4:1
        (clipcore/crops.py) has it only with its crop vectors too, so photos indexed before
        crops existed get them. One SELECT (the indexer's diff)."""
        model = -1 if model_id is None else model_id
        rows = self.conn().execute(
            """SELECT i.path, i.id, i.size, i.mtime_ns, i.status, i.content_hash,
                      v.image_id IS NOT NULL AND (
                          i.width IS NULL OR i.height IS NULL
                          OR max(i.width, i.height) <= 1.4 * min(i.width, i.height)
                          OR EXISTS (SELECT 1 FROM crop_vectors c
                                      WHERE c.image_id = i.id AND c.model_id = ?))
                 FROM images i LEFT JOIN vectors v ON v.image_id = i.id AND v.model_id = ?
                WHERE i.folder_id = ?""", (model, model, folder_id))
        return {fs_path(r[0]): KnownImage(r[1], r[2], r[3], ImageStatus(r[4]), r[5], bool(r[6]))
                for r in rows}

    def count_missing_vectors(self, model_id: int | None) -> int:
        """Images with status ok in any folder that have no vector for ``model_id``."""
        return int(self.conn().execute(
            """SELECT count(*) FROM images i WHERE i.status = ? AND NOT EXISTS
                 (SELECT 1 FROM vectors v WHERE v.image_id = i.id AND v.model_id = ?)""",
            (ImageStatus.OK.value, -1 if model_id is None else model_id)).fetchone()[0])
