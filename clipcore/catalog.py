"""The catalog: one SQLite database per data directory, the truth about the library.

Tables: ``folders`` (library folders), ``images`` (one row per file seen: path, size,
mtime_ns, content hash, pixel size, EXIF date, status, skip reason), ``models`` (model identity,
dim and spec fields), ``vectors`` (one float32 blob per (image, model)), ``settings`` (key/value:
the library's model spec) and ``state`` (a one-row ``generation`` counter and the catalog's
random id, used by the vector-index caches to know whether they are in step with the catalog).

Choices:

- Paths are stored as ``os.fsencode(path)`` BLOBs and read back with ``os.fsdecode``, so a
  non-UTF-8 Linux file name (a surrogate-escaped ``str``) survives the round trip byte for byte.
- WAL journal (readers never block the writer) with ``synchronous=FULL``: a commit is durable
  even against power loss. Commits happen every few hundred images, so the fsync is cheap, and
  the vector index file, saved right after a commit, can then never be ahead of the catalog.
- Every write goes through :meth:`Catalog.transaction` (``BEGIN IMMEDIATE`` ... ``COMMIT``,
  rolled back on any error). "database or disk is full" becomes :class:`DiskFullError`.
- ``PRAGMA user_version`` is the schema version; :data:`MIGRATIONS` upgrades older catalogs. A
  catalog from a newer clipdesk is detected through a read-only connection and refused with
  :class:`CatalogVersionError` before anything writes to it.
- ``images.id`` is AUTOINCREMENT: an id is never reused, so a stale vector-index entry can
  never point at a different photo.
- ``vectors.seq`` is the ``state.generation`` of the transaction that wrote the vector. Every
  transaction that adds, replaces or deletes vectors bumps the generation, so a vector-index
  cache saved at generation G only needs the vectors with ``seq > G`` and the deletions to catch up.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import quote

import numpy as np

from .errors import CatalogError, CatalogVersionError, DiskFullError, LibraryBusyError

__all__ = ["Catalog", "SCHEMA_VERSION", "MIGRATIONS", "fs_key", "fs_path"]

CATALOG_FILE = "catalog.sqlite"
DISK_FULL_BYTES = 1 << 20   # less free space than this after an I/O error: call it a full disk

# Each entry upgrades the schema from version i to i + 1 (a list of SQL statements).
MIGRATIONS: list[list[str]] = [
    [
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
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)

IMAGE_COLUMNS = "id, path, size, mtime_ns, width, height, date_taken, status, skip_reason"


def fs_key(path: str | os.PathLike | bytes) -> bytes:
    """The catalog's form of a path: its file-system bytes (lossless for non-UTF-8 names)."""
    return os.fsencode(path)


def fs_path(blob: bytes) -> str:
    """Inverse of :func:`fs_key`: a ``str`` path, surrogate-escaped where not decodable."""
    return os.fsdecode(bytes(blob))


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        return code == sqlite3.SQLITE_FULL if code is not None else "disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno == 28  # ENOSPC


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _disk_nearly_full(folder: Path) -> bool:
    """SQLite reports a full disk met while growing its -shm/-wal files as "disk I/O error"."""
    try:
        return shutil.disk_usage(folder).free < DISK_FULL_BYTES
    except OSError:
        return False


def disk_full_error(where: str) -> DiskFullError:
    return DiskFullError(
        f"The disk is full (while writing {where}); nothing already indexed was lost. "
        "Free some disk space and try again."
    )


class Catalog:
    """SQLite access for one data directory; one connection per thread, all SQL parameterised.

    ``Catalog(data_dir)`` creates or upgrades ``<data_dir>/catalog.sqlite``. Raises
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

    # -- connections ---------------------------------------------------------------------
    def _damaged(self, exc: Exception) -> CatalogError:
        if _is_disk_full(exc) or _disk_nearly_full(self.path.parent):
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
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled back on any error.

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
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every SELECT inside sees the same committed state (WAL snapshot)."""
        c = self.conn()
        if c.in_transaction:
            yield c
            return
        c.execute("BEGIN")
        try:
            yield c
        finally:
            c.execute("COMMIT")

    def _translate(self, exc: Exception, what: str) -> CatalogError:
        if _is_disk_full(exc) or _disk_nearly_full(self.path.parent):
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

    # -- state -----------------------------------------------------------------------------
    def generation(self) -> int:
        """The counter bumped by every transaction that changes vectors."""
        return self.conn().execute("SELECT generation FROM state").fetchone()[0]

    def catalog_uid(self) -> str:
        return self.conn().execute("SELECT catalog_uid FROM state").fetchone()[0]

    @staticmethod
    def bump_generation(c: sqlite3.Connection) -> int:
        """Inside a transaction: increment and return the generation."""
        c.execute("UPDATE state SET generation = generation + 1")
        return c.execute("SELECT generation FROM state").fetchone()[0]

    def get_setting(self, key: str) -> str | None:
        row = self.conn().execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    # -- models ----------------------------------------------------------------------------
    def model_id(self, identity: str) -> int | None:
        row = self.conn().execute("SELECT id FROM models WHERE identity = ?", (identity,)).fetchone()
        return row[0] if row else None

    def model_dim(self, identity: str) -> int | None:
        row = self.conn().execute("SELECT dim FROM models WHERE identity = ?", (identity,)).fetchone()
        return row[0] if row else None

    @staticmethod
    def ensure_model(c: sqlite3.Connection, spec, dim: int) -> int:
        """Inside a transaction: the models row for ``spec`` (created if new); returns its id."""
        identity = spec.identity()
        row = c.execute("SELECT id, dim FROM models WHERE identity = ?", (identity,)).fetchone()
        if row:
            if row[1] != dim:
                raise CatalogError(f"Model {identity} gave {dim}-d vectors but the catalog has {row[1]}-d ones.")
            return row[0]
        cur = c.execute(
            "INSERT INTO models (identity, dim, name, pretrained, checkpoint, preset) VALUES (?, ?, ?, ?, ?, ?)",
            (identity, dim, spec.name, spec.pretrained, spec.checkpoint, spec.preset))
        return cur.lastrowid

    # -- vectors ---------------------------------------------------------------------------
    def iter_vectors(self, model_id: int, since_seq: int = -1, chunk: int = 20_000,
                     image_ids: np.ndarray | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (ids (n,) int64, vectors (n, D) float32) in chunks: vectors of ``model_id``
        written after generation ``since_seq`` (all by default), or only those of ``image_ids``."""
        c = self.conn()
        if image_ids is not None:
            ids = [int(i) for i in image_ids]
            for start in range(0, len(ids), 900):  # stay under SQLite's parameter limit
                part = ids[start:start + 900]
                rows = c.execute(
                    f"SELECT image_id, vector FROM vectors WHERE model_id = ? AND image_id IN "
                    f"({','.join('?' * len(part))})", (model_id, *part)).fetchall()
                if rows:
                    yield _unpack(rows)
            return
        cur = c.execute("SELECT image_id, vector FROM vectors WHERE model_id = ? AND seq > ?",
                        (model_id, since_seq))
        while rows := cur.fetchmany(chunk):
            yield _unpack(rows)

    def vector_ids(self, model_id: int) -> np.ndarray:
        """(N,) int64 ids of the images with a vector for ``model_id``."""
        rows = self.conn().execute("SELECT image_id FROM vectors WHERE model_id = ?", (model_id,))
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def vector(self, image_id: int, model_id: int) -> np.ndarray | None:
        row = self.conn().execute("SELECT vector FROM vectors WHERE image_id = ? AND model_id = ?",
                                  (image_id, model_id)).fetchone()
        return np.frombuffer(row[0], dtype="<f4").astype(np.float32) if row else None

    def has_vectors(self, model_id: int) -> bool:
        """True when the model has any vector: one index probe, O(log n) (count is O(n))."""
        return bool(self.conn().execute(
            "SELECT EXISTS (SELECT 1 FROM vectors WHERE model_id = ?)", (model_id,)).fetchone()[0])

    def count_vectors(self, model_id: int) -> int:
        return self.conn().execute("SELECT count(*) FROM vectors WHERE model_id = ?",
                                   (model_id,)).fetchone()[0]

    # -- folders ---------------------------------------------------------------------------
    def folder_rows(self) -> list[tuple[int, str]]:
        rows = self.conn().execute("SELECT id, path FROM folders ORDER BY path").fetchall()
        return [(fid, fs_path(p)) for fid, p in rows]

    def folder_ids_under(self, folder_id: int) -> np.ndarray:
        rows = self.conn().execute("SELECT id FROM images WHERE folder_id = ?", (folder_id,))
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    # -- images ----------------------------------------------------------------------------
    def image_rows(self, where: str, params: Iterable = ()) -> list[tuple]:
        """Rows (IMAGE_COLUMNS order, path decoded) matching a fixed ``where`` clause."""
        rows = self.conn().execute(f"SELECT {IMAGE_COLUMNS} FROM images WHERE {where}", tuple(params))
        return [(r[0], fs_path(r[1]), *r[2:]) for r in rows]

    def images_by_ids(self, ids: list[int]) -> dict[int, tuple]:
        found: dict[int, tuple] = {}
        for start in range(0, len(ids), 900):
            part = ids[start:start + 900]
            for row in self.image_rows(f"id IN ({','.join('?' * len(part))})", part):
                found[row[0]] = row
        return found


def _unpack(rows: list[tuple[int, bytes]]) -> tuple[np.ndarray, np.ndarray]:
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), -1)
    return ids, vecs.astype(np.float32, copy=False)

