"""The catalog: one SQLite database per data directory, the truth about the library, and the
only place in clipcore that speaks SQL.

:class:`Catalog` is assembled from one mixin per table (``folders``, ``images``, ``vectors``,
``models``, ``settings``, ``state``) plus ``changes`` (one indexing batch across tables), on top
of :class:`~.connection.Database` (connections, transactions, migrations). Rows cross module
lines as named types (``ImageRow``, ``FolderInfo``, ``KnownImage``...), never bare tuples, and
every method takes typed values, never SQL fragments.

Adding a table (e.g. ``tags``): write ``clipcore/catalog/tags.py`` with ``MIGRATION`` (its
CREATE statements), its row types and a ``TagsTable(Table)`` mixin whose methods run its SQL
(write helpers that must join another transaction take the ``sqlite3.Connection``); then
append ``tags.MIGRATION`` to ``schema.MIGRATIONS`` and ``TagsTable`` to ``Catalog``'s bases.
"""

from __future__ import annotations

from .changes import (
    Applied,
    Changes,
    ChangesTable,
    IndexedImage,
    MovedImage,
    SkippedImage,
)
from .connection import CATALOG_FILE, Database
from .crops import CropsTable
from .folders import FolderInfo, FolderRow, FoldersTable
from .hashes import HashesTable
from .health import HealthTable
from .recover import RecoverTable, Salvage
from .removed import RemovedTable
from .images import ImageRow, ImagesTable, ImageStatus, KnownImage
from .models import ModelRow, ModelsTable
from .paths import fs_key, fs_path
from .schema import MIGRATIONS, SCHEMA_VERSION
from .settings import SettingsTable
from .sniffed import SniffedTable
from .state import StateTable
from .tags import TagRow, TagsTable
from .tombstones import Tombstone, TombstonesTable
from .vectors import VectorsTable, stored_form
from .volumes import Volume, VolumesTable, VolumeUpdate

__all__ = [
    "CATALOG_FILE",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Applied",
    "Catalog",
    "Changes",
    "FolderInfo",
    "FolderRow",
    "ImageRow",
    "ImageStatus",
    "IndexedImage",
    "KnownImage",
    "ModelRow",
    "MovedImage",
    "Salvage",
    "SkippedImage",
    "TagRow",
    "fs_key",
    "fs_path",
    "stored_form",
    "Volume",
    "VolumeUpdate",
    "Tombstone",
]


class Catalog(FoldersTable, ImagesTable, VectorsTable, ModelsTable, SettingsTable, StateTable,
              ChangesTable, HashesTable, TagsTable, SniffedTable, HealthTable, RecoverTable,
              VolumesTable, TombstonesTable, RemovedTable, CropsTable,
              Database):
    """The catalog of one data directory: ``Catalog(data_dir)`` creates or upgrades
    ``<data_dir>/catalog.sqlite``. One connection per thread; thread-safe.

    Raises CatalogVersionError for a catalog written by a newer clipdesk (left untouched),
    CatalogError for a file that is not a readable catalog. Write methods raise DiskFullError,
    LibraryBusyError (another process holds SQLite's write lock) or CatalogError, and keep
    what was committed before.
    """
