"""The catalog's schema: ordered migrations, ``PRAGMA user_version`` = how many have run.

Tables: ``folders`` (library folders), ``images`` (one row per file seen: path, size, mtime_ns,
content hash, pixel size, EXIF date, status, skip reason), ``models`` (model identity, dim and
spec fields), ``vectors`` (one float16 blob per (image, model); float32 before schema 7), ``settings`` (key/value: the
library's model spec) and ``state`` (a one-row ``generation`` counter and the catalog's random
id, used by the vector-index caches to know whether they are in step with the catalog).

- Paths are stored as ``os.fsencode(path)`` BLOBs (see ``fs_key``), so a non-UTF-8 Linux file
  name survives the round trip byte for byte.
- ``images.id`` is AUTOINCREMENT: an id is never reused, so a stale vector-index entry can
  never point at a different photo.
- ``images.status`` takes the values of :class:`~.images.ImageStatus` (a test checks they agree).
- ``vectors.seq`` is the ``state.generation`` of the transaction that wrote the vector. Every
  transaction that adds, replaces or deletes vectors bumps the generation, so a vector-index
  cache saved at generation G only needs the vectors with ``seq > G`` and the deletions to catch up.

A new table: its module (``clipcore/catalog/<table>.py``) defines ``MIGRATION`` (its CREATE
statements) and is appended to :data:`MIGRATIONS` below. Never edit a migration that has landed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Union

from . import crops, hashes, tags, tombstones, volumes
from . import removed, sniffed
from .vectors import MIGRATION_FLOAT16
from .folders import MIGRATION as folders_pending
from .images import MIGRATION_DATE_SOURCE

__all__ = ["FLOAT16_VERSION", "MIGRATIONS", "SCHEMA_VERSION"]

SCHEMA_1: list[str] = [
    """CREATE TABLE folders (
           id       INTEGER PRIMARY KEY,
           path     BLOB NOT NULL UNIQUE,
           added_ns INTEGER NOT NULL)""",
    """CREATE TABLE images (
           id           INTEGER PRIMARY KEY AUTOINCREMENT,
           folder_id    INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
           path         BLOB NOT NULL UNIQUE,
           size         INTEGER NOT NULL,
           mtime_ns     INTEGER NOT NULL,
           content_hash TEXT,
           width        INTEGER,
           height       INTEGER,
           date_taken   TEXT,
           status       TEXT NOT NULL CHECK (status IN ('ok', 'skipped', 'pending')),
           skip_reason  TEXT)""",
    "CREATE INDEX images_folder ON images(folder_id)",
    "CREATE INDEX images_hash ON images(content_hash)",
    """CREATE TABLE models (
           id         INTEGER PRIMARY KEY,
           identity   TEXT NOT NULL UNIQUE,
           dim        INTEGER NOT NULL,
           name       TEXT NOT NULL,
           pretrained TEXT,
           checkpoint TEXT,
           preset     TEXT)""",
    """CREATE TABLE vectors (
           image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
           model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
           seq      INTEGER NOT NULL,
           vector   BLOB NOT NULL,
           PRIMARY KEY (image_id, model_id)) WITHOUT ROWID""",
    "CREATE INDEX vectors_model_seq ON vectors(model_id, seq)",
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE state (
           id          INTEGER PRIMARY KEY CHECK (id = 1),
           generation  INTEGER NOT NULL,
           catalog_uid TEXT NOT NULL)""",
    "INSERT INTO state (id, generation, catalog_uid) VALUES (1, 0, lower(hex(randomblob(16))))",
]

#: Entry i upgrades the schema from version i to i + 1: a list of SQL statements, or of
#: functions taking the migration's ``sqlite3.Connection`` (a conversion SQL cannot express).
#: One statement of a migration: SQL, or a function run on the migration's connection.
Step = Union[str, Callable[[sqlite3.Connection], None]]

MIGRATIONS: list[Sequence[Step]] = [
    SCHEMA_1,
    hashes.MIGRATION + tags.MIGRATION,      # 2: perceptual hashes, tags (issue 13)
    MIGRATION_DATE_SOURCE,                  # 3: images.date_source, index on date_taken
    folders_pending + sniffed.MIGRATION,    # 4: folders.pending, sniffed (issue 10)
    volumes.MIGRATION,     # 5: library folders / drives inside them, online or offline
    tombstones.MIGRATION,  # 6: vectors of deleted photos, by content hash, for a while
    MIGRATION_FLOAT16,     # 7: vectors (and tombstones) stored as float16 (issue 14)
    removed.MIGRATION,     # 8: folders removed with undo, kept aside until the app quits
    crops.MIGRATION,       # 9: vectors of square crops of wide / tall photos (issue 14)
]
SCHEMA_VERSION = len(MIGRATIONS)
FLOAT16_VERSION = 7   # from this version on vectors are float16 (catalog/vectors.py)
