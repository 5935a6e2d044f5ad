"""The catalog's SQLite connections: one per thread, transactions, snapshots, migrations.

:class:`Database` is the base of every table mixin (see ``clipcore/catalog/__init__.py``): it
owns the connections and turns SQLite errors into the user-facing errors of clipcore.

- WAL journal (readers never block the writer) with ``synchronous=FULL``: a commit is durable
  even against power loss. Commits happen every few hundred images, so the fsync is cheap, and
  the vector index file, saved right after a commit, can then never be ahead of the catalog.
- Every write goes through :meth:`Database.transaction` (``BEGIN IMMEDIATE`` ... ``COMMIT``,
  rolled back on any error). "database or disk is full" becomes :class:`DiskFullError`.
- ``PRAGMA user_version`` is the schema version; :data:`~.schema.MIGRATIONS` upgrades older
  catalogs. A catalog from a newer clipdesk is detected through a read-only connection and
  refused with :class:`CatalogVersionError` before anything writes to it. Opening never
  writes: the schema transaction runs only when a migration is due.
- Damage: every SQLite corruption error ("database disk image is malformed", "file is not a
  database"), on any statement or fetch, becomes :class:`CatalogDamagedError`, whose message
  names ``clipcore repair``. A zero-byte catalog next to vector-index files (a lost or
  truncated catalog) is refused instead of silently starting an empty library.
- Read-only: when the data directory or the catalog cannot be written (a read-only mount, no
  permission) or opening for writing fails (a full disk), connections are read-only
  (``mode=ro``; ``immutable=1`` where SQLite cannot even create its -shm file), so search and
  info keep working; a write then raises CatalogError saying the library is read-only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import cast
from urllib.parse import quote

from ..errors import (
    CatalogDamagedError,
    CatalogError,
    CatalogVersionError,
    LibraryBusyError,
    disk_full_error,
    disk_nearly_full,
)
from .base import Table
from .schema import FLOAT16_VERSION, MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger("clipcore.catalog")

__all__ = ["CATALOG_FILE", "Database"]

CATALOG_FILE = "catalog.sqlite"


# SQLite's primary result codes (sqlite3.h); the sqlite3 module names them from Python 3.11,
# the version that also gives errors their sqlite_errorcode.
_SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_NOTADB = 11, 13, 26


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        return code == _SQLITE_FULL if code is not None else "disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno == 28  # ENOSPC


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def is_corruption(exc: BaseException) -> bool:
    """True for SQLite's "the file is damaged" errors (SQLITE_CORRUPT, SQLITE_NOTADB)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    return "malformed" in str(exc) or "not a database" in str(exc)


def damaged_error(path: Path, exc: BaseException) -> CatalogDamagedError:
    """The one message for a damaged catalog file."""
    return CatalogDamagedError(
        f"The catalog {path} is damaged ({exc}); run 'clipcore repair' to rebuild it from "
        "what can still be read (the damaged file is kept aside), or restore it from a backup.")


class _Cursor(sqlite3.Cursor):
    """A cursor whose SQLite corruption errors are CatalogDamagedError (see the module doc)."""

    catalog_path: Path

    def _guarded(self, method, *args):
        try:
            return method(*args)
        except sqlite3.DatabaseError as exc:
            if is_corruption(exc):
                raise damaged_error(cast(_Connection, self.connection).catalog_path, exc) from exc
            raise

    def execute(self, *args):
        return self._guarded(super().execute, *args)

    def executemany(self, *args):
        return self._guarded(super().executemany, *args)

    def fetchone(self):
        return self._guarded(super().fetchone)

    def fetchmany(self, *args):
        return self._guarded(super().fetchmany, *args)

    def fetchall(self):
        return self._guarded(super().fetchall)

    def __next__(self):
        return self._guarded(super().__next__)


class _Connection(sqlite3.Connection):
    """Connection whose statements run on :class:`_Cursor`; ``catalog_path`` names the file."""

    catalog_path: Path

    def cursor(self, factory=_Cursor):
        return super().cursor(factory)

    def execute(self, sql, parameters=()):
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql, parameters):
        return self.cursor().executemany(sql, parameters)


def _uri(path: Path, mode: str) -> str:
    return f"file:{quote(str(path))}?{mode}"


class Database(Table):
    """SQLite access for one data directory; one connection per thread, all SQL parameterised.

    ``Database(data_dir)`` creates or upgrades ``<data_dir>/catalog.sqlite``. Raises
    :class:`CatalogVersionError` for a catalog written by a newer clipdesk (the file is left
    untouched) and :class:`CatalogError` for a file that is not a readable catalog.
    """

    def __init__(self, data_dir: str | os.PathLike, busy_timeout_s: float = 30.0):
        self.path = Path(data_dir) / CATALOG_FILE
        self._busy_ms = int(busy_timeout_s * 1000)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
        self.read_only = not _writable(self.path)
        version = 0
        if self.path.exists():
            self._refuse_lost_catalog()
            version = self._refuse_newer_version()
        if version < SCHEMA_VERSION:
            self._migrate()

    def _damaged(self, exc: Exception) -> CatalogError:
        if is_corruption(exc):
            return damaged_error(self.path, exc)
        if _is_disk_full(exc) or disk_nearly_full(self.path.parent):
            return disk_full_error("the catalog")
        return CatalogError(
            f"The catalog {self.path} cannot be read ({exc}); check that the disk is there and "
            "readable, then try again.")

    def _refuse_lost_catalog(self) -> None:
        """A zero-byte catalog beside vector-index files is a catalog that was lost (truncated,
        or replaced by an empty file): opening it would start a new, empty library."""
        wal = self.path.with_name(self.path.name + "-wal")
        if self.path.stat().st_size or (wal.exists() and wal.stat().st_size):
            return
        if any(self.path.parent.glob("ann-*")):
            raise CatalogDamagedError(
                f"The catalog {self.path} is empty (0 bytes) but its folder holds the vector "
                "index files of a library: the catalog was lost. It was not changed; restore it "
                "from a backup, or move the folder aside to start a new library.")

    def _refuse_newer_version(self) -> int:
        """Read user_version through a read-only connection: a newer catalog is never written."""
        # immutable=1 reads without creating -wal/-shm files; with a -wal file present (the
        # catalog is in use, or a crash left it) its frames matter: plain read-only mode.
        wal = self.path.with_name(self.path.name + "-wal")
        mode = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
        try:
            ro = sqlite3.connect(_uri(self.path, mode), uri=True)
            try:
                version = ro.execute("PRAGMA user_version").fetchone()[0]
            finally:
                ro.close()
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from exc
        if version > SCHEMA_VERSION:
            raise CatalogVersionError(
                f"The catalog {self.path} was written by a newer clipdesk (schema {version}, this "
                f"version reads up to {SCHEMA_VERSION}); update clipdesk to open it. It was not changed."
            )
        return int(version)

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (autocommit mode; writes use :meth:`transaction`)."""
        c = getattr(self._local, "conn", None)
        if c is None:
            if self._closed:
                raise CatalogError("The library has been closed; open it again.")
            try:
                c = self._connect()
            except sqlite3.DatabaseError as exc:
                raise self._damaged(exc) from exc
            self._local.conn = c
            with self._all_lock:
                self._all.append(c)
        return c

    def _connect(self) -> sqlite3.Connection:
        """A new connection: read-write (WAL, synchronous=FULL), or read-only when the catalog
        cannot be written or opening it for writing fails (full disk, read-only mount)."""
        if not self.read_only:
            try:
                return self._configure(sqlite3.connect(self.path, **self._options()), writable=True)
            except sqlite3.DatabaseError as exc:
                if is_corruption(exc) or not self.path.exists():
                    raise
                self.read_only = True    # e.g. the disk is full: no -wal / -shm can be made
        try:
            c = sqlite3.connect(_uri(self.path, "mode=ro"), uri=True, **self._options())
            return self._configure(c, writable=False)
        except sqlite3.OperationalError:
            c = sqlite3.connect(_uri(self.path, "mode=ro&immutable=1"), uri=True,
                                **self._options())
            return self._configure(c, writable=False)

    def _options(self) -> dict:
        return dict(isolation_level=None, check_same_thread=False, timeout=self._busy_ms / 1000,
                    factory=_Connection)

    def _configure(self, c: sqlite3.Connection, writable: bool) -> sqlite3.Connection:
        cast(_Connection, c).catalog_path = self.path
        try:
            c.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            if writable:
                c.execute("PRAGMA journal_mode = WAL")
                c.execute("PRAGMA synchronous = FULL")
            c.execute("PRAGMA foreign_keys = ON")
            c.execute("SELECT count(*) FROM sqlite_master").fetchone()   # reads page 1 now
        except BaseException:
            c.close()
            raise
        return c

    def close(self) -> None:
        """Close every thread's connection. Safe to call twice."""
        self._closed = True
        with self._all_lock:
            conns, self._all = self._all, []
        for c in conns:
            with contextlib.suppress(sqlite3.Error):
                c.close()

    @contextlib.contextmanager
    def transaction(self, what: str = "the catalog") -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled back on any error. ``what`` names the
        data in error messages ("the library folders").

        Raises DiskFullError when the disk fills, LibraryBusyError when another process holds
        the database write lock past the busy timeout, CatalogError on other SQLite errors.
        """
        c = self.conn()
        if self.read_only:
            if disk_nearly_full(self.path.parent):
                raise disk_full_error(what)
            raise CatalogError(
                f"The library in {self.path.parent} is read-only here (a read-only disk or "
                f"folder, no permission, or a full disk), so {what} cannot be written; search "
                "works. Give clipdesk write access (or free disk space) to change the library.")
        try:
            c.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._translate(exc, what) from exc
        try:
            yield c
            c.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                c.execute("ROLLBACK")
            if isinstance(exc, (sqlite3.Error, OSError)):
                raise self._translate(exc, what) from exc
            raise

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read transaction: every read method called inside sees the same committed state
        (WAL snapshot). Nests: an inner snapshot joins the outer one."""
        c = self.conn()
        if c.in_transaction:
            yield
            return
        c.execute("BEGIN")
        try:
            yield
        finally:
            c.execute("COMMIT")

    def _translate(self, exc: Exception, what: str) -> CatalogError:
        if is_corruption(exc):
            return damaged_error(self.path, exc)
        if _is_disk_full(exc) or disk_nearly_full(self.path.parent):
            return disk_full_error(what)
        if _is_busy(exc):
            return LibraryBusyError(
                "Another clipdesk/clipcore process is writing to this library; try again when it finishes."
            )
        return CatalogError(f"Could not write {what} ({exc}); nothing already indexed was lost.")

    def _migrate(self) -> None:
        with self.transaction("the catalog schema") as c:
            version = c.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:  # written by a newer version since our read-only check
                raise CatalogVersionError(
                    f"The catalog {self.path} was written by a newer clipdesk; update clipdesk to open it."
                )
            for step in MIGRATIONS[version:]:
                for sql in step:
                    if callable(sql):
                        sql(c)
                    else:
                        c.execute(sql)
            if version < SCHEMA_VERSION:
                c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        if 0 < version < FLOAT16_VERSION <= SCHEMA_VERSION:
            self._compact()

    def _compact(self) -> None:
        """After the float16 migration halved every vector: give the freed pages back to the
        file system (VACUUM) when they are over a quarter of the file. Best effort: busy,
        full disk or any other error leaves the file as it is (SQLite reuses free pages)."""
        try:
            c = self.conn()
            pages, free = (c.execute(f"PRAGMA {p}").fetchone()[0]
                           for p in ("page_count", "freelist_count"))
            if free * 4 > pages:
                c.execute("VACUUM")
        except sqlite3.Error as exc:
            log.info("The catalog %s was not compacted after its upgrade (%s).", self.path, exc)


def _writable(path: Path) -> bool:
    """Whether this process may write the catalog and create files beside it (-wal, -shm)."""
    folder = path.parent
    if not os.access(folder, os.W_OK):
        return False
    return not path.exists() or os.access(path, os.W_OK)
