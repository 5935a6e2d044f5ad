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
  refused with :class:`CatalogVersionError` before anything writes to it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from ..errors import (
    CatalogError,
    CatalogVersionError,
    LibraryBusyError,
    disk_full_error,
    disk_nearly_full,
)
from .base import Table
from .schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["CATALOG_FILE", "Database"]

CATALOG_FILE = "catalog.sqlite"


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        return code == sqlite3.SQLITE_FULL if code is not None else "disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno == 28  # ENOSPC


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


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
        if self.path.exists():
            self._refuse_newer_version()
        self._migrate()

    def _damaged(self, exc: Exception) -> CatalogError:
        if _is_disk_full(exc) or disk_nearly_full(self.path.parent):
            return disk_full_error("the catalog")
        return CatalogError(
            f"The catalog {self.path} cannot be read ({exc}); move it aside to start a new "
            "library, or restore it from a backup."
        )

    def _refuse_newer_version(self) -> None:
        """Read user_version through a read-only connection: a newer catalog is never written."""
        # immutable=1 reads without creating -wal/-shm files; with a -wal file present (the
        # catalog is in use, or a crash left it) its frames matter: plain read-only mode.
        wal = self.path.with_name(self.path.name + "-wal")
        mode = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
        try:
            ro = sqlite3.connect(f"file:{quote(str(self.path))}?{mode}", uri=True)
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

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (autocommit mode; writes use :meth:`transaction`)."""
        c = getattr(self._local, "conn", None)
        if c is None:
            if self._closed:
                raise CatalogError("The library has been closed; open it again.")
            try:
                c = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                    timeout=self._busy_ms / 1000)
                c.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
                c.execute("PRAGMA journal_mode = WAL")
                c.execute("PRAGMA synchronous = FULL")
                c.execute("PRAGMA foreign_keys = ON")
            except sqlite3.DatabaseError as exc:
                raise self._damaged(exc) from exc
            self._local.conn = c
            with self._all_lock:
                self._all.append(c)
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
                    c.execute(sql)
            if version < SCHEMA_VERSION:
                c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
