"""A data directory = ``catalog.sqlite`` (the truth) + ``ann-<model>.hnsw`` caches.

:class:`Library` is the facade the indexer, the search and the desktop app use: the catalog
(:mod:`clipcore.catalog`, all SQL) and the ANN cache (:mod:`clipcore.ann_cache`, hnswlib kept
in step with the catalog) behind one object. Reads never take the writer lock; writes
(folders, model, :meth:`Library.apply`) take it (see writelock.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .ann_cache import AnnCache, gather_vectors
from .catalog import (Catalog, Changes, FolderInfo, ImageRow, ImageStatus, IndexedImage,
                      KnownImage, MovedImage, SkippedImage, Volume, stored_form)
from .config import IndexParams, ModelSpec, resolve_data_dir
from .errors import ClipcoreError
from .writelock import WriterLock

__all__ = ["Library", "FolderInfo", "ImageRow", "ImageStatus", "KnownImage", "IndexedImage",
           "SkippedImage", "MovedImage", "Changes"]

LOCK_TIMEOUT_ENV = "CLIPDESK_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 10.0   # seconds a second writer waits before LibraryBusyError


def _norm(path: str | os.PathLike) -> str:
    return os.path.abspath(os.fsdecode(path))


class Library:
    """One data directory: ``catalog`` (a Catalog, the truth) and ``ann`` (an AnnCache of
    ``ann-<model>.hnsw`` files).

    Thread-safe: search may run in one thread while the indexer writes in another. Write
    methods wait up to ``lock_timeout`` seconds for the writer lock, then raise LibraryBusyError.
    """

    def __init__(self, data_dir: Path, params: IndexParams, lock_timeout: float):
        self.data_dir = data_dir
        self.params = params
        self.catalog = Catalog(data_dir)
        self.writer_lock = WriterLock(data_dir, lock_timeout)
        self.ann = AnnCache(self.catalog, data_dir, params, self.writer_lock)

    @classmethod
    def open(cls, data_dir: str | os.PathLike | None = None, params: IndexParams | None = None,
             *, lock_timeout: float | None = None) -> "Library":
        """Open (creating if needed) the library in ``data_dir`` (default: see
        config.resolve_data_dir). ``lock_timeout``: seconds a write waits for another writer
        (default: ``CLIPDESK_LOCK_TIMEOUT`` or 10). Raises CatalogVersionError, CatalogError."""
        if lock_timeout is None:
            lock_timeout = float(os.environ.get(LOCK_TIMEOUT_ENV) or DEFAULT_LOCK_TIMEOUT)
        return cls(resolve_data_dir(data_dir), params or IndexParams(), lock_timeout)

    def close(self) -> None:
        """Save vector indexes that changed (if no other process is writing), close the catalog."""
        try:
            self.ann.stop_loading()       # a background index load must not outlive the catalog
            self.ann.save(quiet=True)     # a cache: a full or read-only disk skips it
        finally:
            self.catalog.close()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc: object) -> None:
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

    def remove_folder(self, path: str, undoable: bool = False) -> None:
        """Forget the folder and its images (catalog rows, vectors, ANN entries). Never touches
        files. ``path``: a library folder, or an offline drive inside one (see
        :meth:`offline_folders`). This is the only way photos of an offline folder leave the
        library. ``undoable`` (a library folder): its rows and vectors are kept aside until
        :meth:`purge_removed`, and :meth:`undo_remove` brings them back without embedding
        anything again. Raises ClipcoreError for any other path, LibraryBusyError."""
        path = _norm(path)
        fid = self.folder_id(path)
        vol = self.volumes().get(path)
        if fid is None and (vol is None or vol.online):
            raise ClipcoreError(f"{path} is not a library folder; nothing was removed.")
        with self.writer_lock.hold():
            if fid is not None:
                forget = self.catalog.stash_folder if undoable else self.catalog.delete_folder
                self.ann.apply(lambda: forget(fid))
            else:
                self.ann.apply(lambda: self.catalog.forget_volume(path))
            self.save_indexes()

    def undo_remove(self, path: str) -> FolderInfo:
        """Bring back a library folder removed with ``undoable=True`` and not purged since:
        its photos, vectors and hashes as they were (the vector indexes catch up from the
        catalog on their next use; no model is loaded). Raises ClipcoreError when nothing is
        kept for ``path`` or a library folder overlapping it was added meanwhile,
        LibraryBusyError."""
        path = _norm(path)
        with self.writer_lock.hold():
            overlap = [f.path for f in self.catalog.folder_rows()
                       if _inside(path, f.path) or _inside(f.path, path)]
            restored = None if overlap else self.catalog.restore_folder(path)
        if restored is None:
            raise ClipcoreError(f"The removal of {path} can no longer be undone"
                                + (f" ({overlap[0]} is in the library now)" if overlap else "")
                                + "; add the folder again to index it.")
        return self._folder_info(restored[0])

    def removed_folders(self) -> list[str]:
        """Folders removed with undo and not purged yet (most recent first)."""
        return self.catalog.removed_folder_paths()

    def purge_removed(self) -> int:
        """Forget for good every folder kept aside for undo; returns how many. Raises
        LibraryBusyError when another process is writing."""
        if not self.catalog.removed_folder_paths() or self.catalog.read_only:
            return 0
        with self.writer_lock.hold():
            return self.catalog.purge_removed()

    def subfolders(self, path: str) -> dict[str, int]:
        """The folders inside the library folder (or any folder) ``path`` that hold indexed
        photos, directly or below -> how many photos anywhere inside each; from the catalog,
        no disk walk."""
        return self.catalog.subfolder_counts(_norm(path))

    def folder_id(self, path: str) -> int | None:
        """The id of the library folder at ``path``, or None."""
        return self.catalog.folder_id(_norm(path))

    def folders(self) -> list[FolderInfo]:
        """Library folders, sorted by path, with counts for the library's current model."""
        return [self._folder_info(folder.id) for folder in self.catalog.folder_rows()]

    def _folder_info(self, fid: int) -> FolderInfo:
        return self.catalog.folder_info(fid, self._model_id(None))

    def sniffed(self, folder: str) -> dict[str, tuple[int, int, bool]]:
        """Files of unknown type in ``folder``: path -> (size, mtime_ns, is_image)."""
        return self.catalog.sniffed_under(_norm(folder))

    def remember_sniffed(self, folder: str, entries: dict[str, tuple[int, int, bool]]) -> None:
        with self.writer_lock.hold():   # (everything known of them now; see scan_folder)
            self.catalog.replace_sniffed(_norm(folder), entries)

    def set_pending(self, counts: dict[int, int]) -> None:   # photos left per folder id
        with self.writer_lock.hold():
            self.catalog.set_pending(counts)

    def volumes(self, folder_id: int | None = None) -> dict[str, Volume]:
        """path -> Volume: the library folders and the drives mounted inside them, with their
        online / offline state (clipcore.offline), of one library folder or all."""
        return {v.path: v for v in self.catalog.volume_rows(folder_id)}

    def tombstone_days(self) -> int:
        """Days the vectors of deleted photos are kept for their return (default 30)."""
        return self.catalog.tombstone_days()

    def set_tombstone_days(self, days: int) -> None:
        """Keep the vectors of deleted photos ``days`` days (0: not at all); purges older ones.
        Raises LibraryBusyError, CatalogError."""
        with self.writer_lock.hold():
            self.catalog.set_tombstone_days(days)
            self.catalog.purge_tombstones()

    def offline_folders(self) -> dict[str, Volume]:
        """path -> Volume of every offline library folder or drive inside one; their photos
        are in the catalog and searchable but cannot be opened now."""
        return {p: v for p, v in self.volumes().items() if not v.online}

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

    def cropped(self, model_identity: str | None = None) -> tuple[int, int]:
        """(wide or tall photos with crop vectors, crop vectors) for that model (default: the
        library's); see clipcore/crops.py."""
        mid = self._model_id(model_identity)
        return self.catalog.cropped_photos(mid) if mid is not None else (0, 0)

    def has_vectors(self, model_identity: str | None = None) -> bool:
        """Whether any image has a vector for that model; cheap at any library size."""
        mid = self._model_id(model_identity)
        return mid is not None and self.catalog.has_vectors(mid)

    def images(self, ids: Iterable[int]) -> list[ImageRow]:
        """Rows for ids, same order, silently dropping ids that are gone/deleted."""
        ids = [int(i) for i in ids]
        found = self.catalog.images_by_ids(ids)
        return [found[i] for i in ids if i in found]

    def find_image(self, path: str) -> ImageRow | None:
        """The row of the image at ``path``, or None when it is not in the library."""
        return self.catalog.find_image(_norm(path))

    def vector(self, image_id: int, model_identity: str) -> np.ndarray | None:
        """(D,) float32, L2-normalised, or None (none stored, or the stored one is damaged:
        it is then forgotten, so the photo is embedded again by the next index run)."""
        mid = self._model_id(model_identity)
        found = self.catalog.vector(int(image_id), mid) if mid is not None else None
        if found is None and mid is not None:
            self.ann.forget_damaged()
        return found

    def skipped(self) -> list[ImageRow]:
        """Images that could not be indexed, with their reason, sorted by path."""
        return sorted(self.catalog.images_with_status(ImageStatus.SKIPPED), key=lambda r: r.path)

    def nearest(self, query: np.ndarray, model_identity: str, k: int,
                folder: str | None = None, only: np.ndarray | None = None,
                dates: tuple[str | None, str | None] | None = None, text: bool = False
                ) -> list[tuple[int, float]]:
        """query (D,) float32 L2-normalised -> [(image_id, cosine)] best first, at most k.

        Exact search (one matrix product) below ``params.exact_below`` vectors, HNSW otherwise;
        never returns deleted images. ``folder`` restricts to images under that folder (a
        library folder or any folder inside one); ``only`` (ids (n,) int64) to those images;
        ``dates`` = ``[lo, hi)`` ISO strings (either None = open) to images whose date taken
        falls in it (see clipcore.dates). Filters are applied before the k nearest are taken:
        a filtered search returns min(k, matching) hits. ``text``: the query comes from words
        (a wider HNSW beam: text sits far from every photo). Returns [] for a model with no
        vectors.
        """
        identity = model_identity or self.model_identity()
        if identity is None:
            return []
        found = self.ann.nearest(query, identity, k, None if folder is None else _norm(folder),
                                 only, dates, text=text)
        self.ann.forget_damaged()      # damaged vectors met on the way (never returned)
        return found

    def forget_damaged_vectors(self) -> int:
        """See :meth:`AnnCache.forget_damaged`; returns how many vectors were forgotten."""
        return self.ann.forget_damaged()

    def all_vectors(self, model_identity: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Every vector of the model (default: the library's): (ids (N,) int64 ascending,
        vectors (N, D) float32 L2-normalised), read from the catalog (N x D x 4 bytes of RAM)."""
        identity = model_identity or self.model_identity()
        model = self.catalog.model(identity) if identity else None
        if model is None:
            return np.empty(0, np.int64), np.empty((0, 0), np.float32)
        ids, vecs = gather_vectors(self.catalog.iter_vectors(model.id), model.dim)
        order = np.argsort(ids, kind="stable")
        return ids[order], vecs[order]

    def neighbours(self, vectors: np.ndarray, k: int, model_identity: str | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest indexed images of each row of ``vectors`` (n, D) float32 through the
        HNSW index (the whole batch on every core): (ids (n, k) int64, -1 where fewer;
        cosines (n, k) float32), best first. For all-pairs jobs (duplicates)."""
        identity = model_identity or self.model_identity()
        if identity is None:
            return np.full((len(vectors), 0), -1, np.int64), np.zeros((len(vectors), 0), np.float32)
        return self.ann.neighbours(vectors, k, identity)

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
        up to date and save the changed ones (when ``save``, else by the ANN cache's adaptive
        policy: see clipcore.ann_cache). ``spec``/``dim`` name the model of
        ``changes.indexed`` vectors. The vector indexes take the vectors as the catalog stores
        them (float16 values, catalog.stored_form), so they equal an index rebuilt from it.
        Raises DiskFullError (nothing of this batch is kept), LibraryBusyError, CatalogError."""
        if not len(changes):
            return
        vectors = (stored_form(np.stack([np.asarray(im.vector, np.float32)
                                         for im in changes.indexed]))
                   if changes.indexed else None)
        crops = [np.asarray(im.crops, np.float32) for im in changes.indexed
                 if im.crops is not None and len(im.crops)]
        crop_vectors = stored_form(np.concatenate(crops)) if crops else None
        with self.writer_lock.hold():
            self.ann.apply(lambda: self.catalog.apply_changes(changes, spec, dim), vectors,
                           crop_vectors)
            self.save_indexes(force=save)

    def save_indexes(self, force: bool = True) -> None:
        """Save every loaded vector index that changed, if no other process is writing."""
        self.ann.save(force=force)


def _inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or inside it (absolute, normalised paths)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
