"""A data directory = ``catalog.sqlite`` (the truth) + ``ann-<model>.hnsw`` caches.

:class:`Library` is the facade the indexer, the search and the desktop app use. Reads never
take the writer lock; writes (folders, model, :meth:`Library.apply`) take it (see writelock.py).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import numpy as np

from .ann import HnswIndex, StaleIndex, exact_knn, index_paths, load_index
from .catalog import (Catalog, Changes, FolderInfo, ImageRow, ImageStatus, IndexedImage,
                      KnownImage, MovedImage, SkippedImage)
from .config import IndexParams, ModelSpec, resolve_data_dir
from .errors import ClipcoreError, LibraryBusyError
from .writelock import WriterLock

__all__ = ["Library", "FolderInfo", "ImageRow", "ImageStatus", "KnownImage", "IndexedImage",
           "SkippedImage", "MovedImage", "Changes"]

log = logging.getLogger(__name__)

LOCK_TIMEOUT_ENV = "CLIPDESK_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 10.0   # seconds a second writer waits before LibraryBusyError


def _norm(path) -> str:
    return os.path.abspath(os.fsdecode(path))


def gather_vectors(chunks, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Join the catalog's (ids, vectors) chunks into ids (N,) int64 and vectors (N, D) float32."""
    chunks = list(chunks)
    if not chunks:
        return np.empty(0, np.int64), np.empty((0, dim), np.float32)
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


class _ModelIndex:
    """The vector index of one model: an HnswIndex kept in step with the catalog, plus an
    exact (N, D) float32 matrix while the library is smaller than ``params.exact_below``."""

    def __init__(self, lib: "Library", identity: str, model_id: int, dim: int):
        self.lib, self.identity, self.model_id, self.dim = lib, identity, model_id, dim
        self.paths = index_paths(lib.data_dir, model_id)
        self.hnsw: HnswIndex | None = None
        self.exact: tuple[int, np.ndarray, np.ndarray] | None = None   # (watermark, ids, matrix)
        self.dirty = False           # in-memory state newer than the saved file
        self.save_seconds = 0.0      # how long the last save took
        self.saved_at = 0.0

    @property
    def _expect(self) -> dict:
        return {"model_identity": self.identity, "dim": self.dim,
                "catalog_uid": self.lib.catalog.catalog_uid()}

    def ensure(self, new: bool = False) -> HnswIndex:
        """Load (or rebuild) the index and catch up with the catalog. Caller holds lib._guard.
        ``new``: the model's first vectors were just written (no file is expected)."""
        cat = self.lib.catalog
        if self.hnsw is None:
            try:
                self.hnsw = load_index(*self.paths, self.lib.params, self._expect)
            except StaleIndex as why:
                self._rebuild(None if new else
                              f"The vector index for model {self.identity} cannot be used ({why})")
                return self.hnsw
        generation = cat.generation()
        if self.hnsw.watermark > generation:
            self._rebuild(f"The vector index for model {self.identity} is newer than the catalog")
        elif self.hnsw.watermark < generation:
            self._catch_up()
        return self.hnsw

    def _rebuild(self, why: str | None) -> None:
        cat = self.lib.catalog
        with cat.snapshot():
            generation, n = cat.generation(), cat.count_vectors(self.model_id)
            if why and (n or self.paths[0].exists()):
                log.warning("%s; rebuilding it from the catalog (%d images).", why, n)
            hnsw = HnswIndex(self.dim, self.lib.params, capacity=n + 1024, watermark=generation)
            for ids, vecs in cat.iter_vectors(self.model_id):
                hnsw.add(ids, vecs, num_threads=-1)
        hnsw.live = n
        self.hnsw, self.dirty = hnsw, True
        self.lib._save_if_writer(self)

    def _catch_up(self) -> None:
        """Apply what other processes (or a crash before the last save) changed since the
        index's watermark: vectors written later are (re)added, vanished ids marked deleted."""
        cat, hnsw = self.lib.catalog, self.hnsw
        with cat.snapshot():
            generation = cat.generation()
            for ids, vecs in cat.iter_vectors(self.model_id, since_seq=hnsw.watermark):
                hnsw.add(ids, vecs)
            live_ids = cat.vector_ids(self.model_id)
        hnsw.remove(np.setdiff1d(hnsw.labels(), live_ids, assume_unique=True))
        hnsw.live, hnsw.watermark, self.dirty = len(live_ids), generation, True

    def exact_matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids (N,) int64, vectors (N, D) float32) from the catalog, cached per watermark."""
        mark = self.hnsw.watermark
        if self.exact is None or self.exact[0] != mark:
            self.exact = (mark, *gather_vectors(self.lib.catalog.iter_vectors(self.model_id),
                                                self.dim))
        return self.exact[1], self.exact[2]


class Library:
    """One data directory: ``catalog.sqlite`` (the truth) and ``ann-<model>.hnsw`` caches.

    Thread-safe: search may run in one thread while the indexer writes in another. Write
    methods wait up to ``lock_timeout`` seconds for the writer lock, then raise LibraryBusyError.
    """

    def __init__(self, data_dir: Path, params: IndexParams, lock_timeout: float):
        self.data_dir = data_dir
        self.params = params
        self.catalog = Catalog(data_dir)
        self.writer_lock = WriterLock(data_dir, lock_timeout)
        self._guard = threading.RLock()          # model indexes: load, catch up, apply
        self._indexes: dict[str, _ModelIndex] = {}

    @classmethod
    def open(cls, data_dir=None, params: IndexParams | None = None, *,
             lock_timeout: float | None = None) -> "Library":
        """Open (creating if needed) the library in ``data_dir`` (default: see
        config.resolve_data_dir). ``lock_timeout``: seconds a write waits for another writer
        (default: ``CLIPDESK_LOCK_TIMEOUT`` or 10). Raises CatalogVersionError, CatalogError."""
        if lock_timeout is None:
            lock_timeout = float(os.environ.get(LOCK_TIMEOUT_ENV) or DEFAULT_LOCK_TIMEOUT)
        return cls(resolve_data_dir(data_dir), params or IndexParams(), lock_timeout)

    data_dir: Path

    def close(self) -> None:
        """Save vector indexes that changed (if no other process is writing), close the catalog."""
        try:
            self.save_indexes()
        finally:
            self.catalog.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- folders -------------------------------------------------------------------------
    def add_folder(self, path: str) -> FolderInfo:
        """Add a library folder (must exist unless already known). A folder inside an existing
        one is already covered: its parent is returned. A folder containing existing ones absorbs
        them (their images keep their vectors). Raises ClipcoreError, LibraryBusyError."""
        path = _norm(path)
        with self.writer_lock.hold():
            for folder in self.catalog.folder_rows():
                if path == folder.path or path.startswith(folder.path.rstrip(os.sep) + os.sep):
                    return self._folder_info(folder.id)  # known (even if unplugged right now)
            if not os.path.isdir(path):
                raise ClipcoreError(f"{path} is not a folder; check the path and try again.")
            fid = self.catalog.insert_folder(path)
        return self._folder_info(fid)

    def remove_folder(self, path: str) -> None:
        """Forget the folder and its images (catalog rows, vectors, ANN entries). Never touches
        files. Raises ClipcoreError for a folder that is not in the library, LibraryBusyError."""
        path = _norm(path)
        fid = self.folder_id(path)
        if fid is None:
            raise ClipcoreError(f"{path} is not a library folder; nothing was removed.")
        with self.writer_lock.hold():
            with self._guard:
                removal = self.catalog.delete_folder(fid)
                self._after_commit(removal.generation, removed=removal.image_ids)
            self.save_indexes()

    def folder_id(self, path: str) -> int | None:
        """The id of the library folder at ``path``, or None."""
        return self.catalog.folder_id(_norm(path))

    def folders(self) -> list[FolderInfo]:
        """Library folders, sorted by path, with counts for the library's current model."""
        return [self._folder_info(folder.id) for folder in self.catalog.folder_rows()]

    def _folder_info(self, fid: int) -> FolderInfo:
        return self.catalog.folder_info(fid, self._model_id(None))

    # -- the library's model -------------------------------------------------------------
    def model_spec(self) -> ModelSpec | None:
        """The spec the library is indexed with (search and similar default to it), or None."""
        return self.catalog.model_spec()

    def model_identity(self) -> str | None:
        """The identity of the library's model as recorded when it was set (no file reads)."""
        return self.catalog.model_identity()

    def set_model_spec(self, spec: ModelSpec) -> None:
        """Make ``spec`` the library's model. Raises LibraryBusyError, CatalogError."""
        with self.writer_lock.hold():
            self.catalog.set_model_spec(spec)

    def _model_id(self, identity: str | None) -> int | None:
        identity = identity or self.model_identity()
        return self.catalog.model_id(identity) if identity else None

    # -- reads -----------------------------------------------------------------------------
    def count(self, model_identity: str | None = None) -> int:
        """Number of images with a vector for that model (default: the library's model)."""
        mid = self._model_id(model_identity)
        return self.catalog.count_vectors(mid) if mid is not None else 0

    def has_vectors(self, model_identity: str | None = None) -> bool:
        """Whether any image has a vector for that model; cheap at any library size."""
        mid = self._model_id(model_identity)
        return mid is not None and self.catalog.has_vectors(mid)

    def images(self, ids) -> list[ImageRow]:
        """Rows for ids, same order, silently dropping ids that are gone/deleted."""
        ids = [int(i) for i in ids]
        found = self.catalog.images_by_ids(ids)
        return [found[i] for i in ids if i in found]

    def find_image(self, path: str) -> ImageRow | None:
        """The row of the image at ``path``, or None when it is not in the library."""
        return self.catalog.find_image(_norm(path))

    def vector(self, image_id: int, model_identity: str) -> np.ndarray | None:
        """(D,) float32, L2-normalised, or None."""
        mid = self._model_id(model_identity)
        return self.catalog.vector(int(image_id), mid) if mid is not None else None

    def skipped(self) -> list[ImageRow]:
        """Images that could not be indexed, with their reason, sorted by path."""
        return sorted(self.catalog.images_with_status(ImageStatus.SKIPPED), key=lambda r: r.path)

    def nearest(self, query: np.ndarray, model_identity: str, k: int,
                folder: str | None = None, only: np.ndarray | None = None,
                dates: tuple[str | None, str | None] | None = None) -> list[tuple[int, float]]:
        """query (D,) float32 L2-normalised -> [(image_id, cosine)] best first, at most k.

        Exact search (one matrix product) below ``params.exact_below`` vectors, HNSW otherwise;
        never returns deleted images. ``folder`` restricts to images under that folder (a
        library folder or any folder inside one); ``only`` (ids (n,) int64) to those images;
        ``dates`` = ``[lo, hi)`` ISO strings (either None = open) to images whose date taken
        falls in it (see clipcore.dates). Filters are applied before the k nearest are taken:
        a filtered search returns min(k, matching) hits. Returns [] for a model with no vectors.
        """
        mi = self._model_index(model_identity)
        if mi is None or k <= 0:
            return []
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        with self._guard:
            hnsw = mi.ensure()
            if hnsw.live < self.params.exact_below:
                exact = mi.exact_matrix()
            else:
                exact = mi.exact = None           # above exact_below: no second copy in RAM
        allowed = self.catalog.image_ids_under(_norm(folder)) if folder is not None else None
        if only is not None:
            only = np.asarray(only, np.int64)
            allowed = only if allowed is None else np.intersect1d(allowed, only)
        if dates is not None:
            dated = self.catalog.image_ids_taken_between(*dates)
            allowed = dated if allowed is None else np.intersect1d(allowed, dated)
        if exact is not None:
            ids, mat = exact
            if allowed is not None:
                keep = np.isin(ids, allowed)
                ids, mat = ids[keep], mat[keep]
            found = exact_knn(mat, ids, query, k)
        elif allowed is not None and len(allowed) < self.params.exact_below:
            found = self._exact_among(mi, allowed, query, k)
        else:
            found = hnsw.search(query, k, None if allowed is None else set(allowed.tolist()))
            if allowed is not None and len(found[0]) < min(k, len(allowed)):
                # hnswlib's filtered search can miss reachable matches: never return fewer
                # than k while more exist
                found = self._exact_among(mi, allowed, query, k)
        return [(int(i), float(s)) for i, s in zip(*found)]

    def all_vectors(self, model_identity: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Every vector of the model (default: the library's): (ids (N,) int64 ascending,
        vectors (N, D) float32 L2-normalised), read from the catalog (N x D x 4 bytes of RAM)."""
        mi = self._model_index(model_identity)
        if mi is None:
            return np.empty(0, np.int64), np.empty((0, 0), np.float32)
        ids, vecs = gather_vectors(self.catalog.iter_vectors(mi.model_id), mi.dim)
        order = np.argsort(ids, kind="stable")
        return ids[order], vecs[order]

    def neighbours(self, vectors: np.ndarray, k: int, model_identity: str | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest indexed images of each row of ``vectors`` (n, D) float32 through the
        HNSW index (the whole batch on every core): (ids (n, k) int64, -1 where fewer;
        cosines (n, k) float32), best first. For all-pairs jobs (duplicates)."""
        mi = self._model_index(model_identity)
        if mi is None:
            return np.full((len(vectors), 0), -1, np.int64), np.zeros((len(vectors), 0), np.float32)
        with self._guard:
            hnsw = mi.ensure()
        return hnsw.search_many(vectors, k)

    def _exact_among(self, mi, allowed: np.ndarray, query: np.ndarray, k: int):
        ids, mat = gather_vectors(self.catalog.iter_vectors(mi.model_id, image_ids=allowed),
                                  mi.dim)
        return exact_knn(mat, ids, query, k)

    def _model_index(self, identity: str | None) -> _ModelIndex | None:
        identity = identity or self.model_identity()
        if identity is None:
            return None
        with self._guard:
            mi = self._indexes.get(identity)
            if mi is None:
                model = self.catalog.model(identity)
                if model is None:
                    return None
                mi = self._indexes[identity] = _ModelIndex(self, identity, model.id, model.dim)
            return mi

    # -- writes (the indexer) ----------------------------------------------------------------
    def folder_state(self, folder_id: int, model_identity: str) -> dict[str, KnownImage]:
        """path -> KnownImage (id, size, mtime_ns, status, content_hash, has_vector) for every
        image row of the folder; has_vector refers to ``model_identity``. One SELECT (the
        indexer's diff)."""
        return self.catalog.folder_state(folder_id, self.catalog.model_id(model_identity))

    def missing_vectors(self, model_identity: str) -> int:
        """Images with status ok in any folder that have no vector for ``model_identity``."""
        return self.catalog.count_missing_vectors(self.catalog.model_id(model_identity))

    def apply(self, changes: Changes, spec: ModelSpec | None = None, dim: int | None = None,
              save: bool = False) -> None:
        """Write ``changes`` in one catalog transaction, then bring the loaded vector indexes
        up to date and save the changed ones (when ``save``, or when the last save was quick
        compared with the time since: saving is adaptive so a 1M-image index is not rewritten
        every few seconds; the catalog is the truth and a stale index catches up on open).
        ``spec``/``dim`` name the model of ``changes.indexed`` vectors.
        Raises DiskFullError (nothing of this batch is kept), LibraryBusyError, CatalogError."""
        if not len(changes):
            return
        with self.writer_lock.hold():
            with self._guard:
                self._commit(changes, spec, dim)
            self.save_indexes(force=save)

    def _commit(self, changes: Changes, spec: ModelSpec | None, dim: int | None) -> None:
        applied = self.catalog.apply_changes(changes, spec, dim)
        added = None
        if changes.indexed:
            mi = self._model_index(spec.identity())
            added = (mi, applied.added,
                     np.stack([np.asarray(im.vector, np.float32) for im in changes.indexed]))
        self._after_commit(applied.generation, removed=applied.removed, added=added)

    def _after_commit(self, generation: int, removed: np.ndarray, added=None) -> None:
        """Apply a just-committed transaction to the loaded indexes that were current before
        it; the others catch up from the catalog on their next use. Caller holds _guard."""
        if added is not None and added[0].hnsw is None:   # load or build, then catch up
            added[0].ensure(new=self.catalog.count_vectors(added[0].model_id) == len(added[1]))
        for mi in self._indexes.values():
            hnsw = mi.hnsw
            if hnsw is None or hnsw.watermark != generation - 1:
                continue
            hnsw.remove(removed)
            if added is not None and added[0] is mi:
                hnsw.add(added[1], added[2])
            hnsw.live = self.catalog.count_vectors(mi.model_id)
            hnsw.watermark, mi.dirty = generation, True

    def save_indexes(self, force: bool = True) -> None:
        """Save every loaded vector index that changed. Runs outside _guard: a save only
        reads the index (searches go on meanwhile), adds wait for it."""
        with self._guard:
            indexes = list(self._indexes.values())
        for mi in indexes:
            self._save_if_writer(mi, force=force)

    def _save_if_writer(self, mi: _ModelIndex, force: bool = False) -> None:
        """Save ``mi`` if dirty and this process can take the writer lock without waiting.
        Unless ``force``, only when the last save took < 10% of the time since it."""
        if not mi.dirty or mi.hnsw is None:
            return
        if not force and mi.save_seconds * 10 > time.monotonic() - mi.saved_at:
            return
        try:
            with self.writer_lock.hold(timeout=0):
                start = time.monotonic()
                mi.hnsw.save(*mi.paths, mi._expect)
                mi.saved_at = time.monotonic()
                mi.save_seconds, mi.dirty = mi.saved_at - start, False
        except LibraryBusyError:
            pass  # another process writes this library; it keeps the file current

