"""The ANN cache: hnswlib indexes kept in step with the catalog, one per model.

The catalog is the truth; an ``ann-<model_id>.hnsw`` file (see :mod:`clipcore.ann`) is a cache
of one model's vectors, valid for the catalog generation ("watermark") written in its sidecar.
:class:`AnnCache` owns those caches for one data directory:

- on first use a model's index is loaded; a file that is missing, corrupt, or from another
  model or catalog (sidecar ``model_identity`` / ``dim`` / ``catalog_uid``) is rebuilt from the
  catalog, with a warning unless the model's first vectors were just written;
- an index behind the catalog (another process wrote, or this one crashed before saving)
  catches up: vectors with ``seq`` > watermark are (re)added, vanished ids marked deleted;
  an index ahead of the catalog (a restored backup) is rebuilt;
- after each commit of this process (:meth:`AnnCache.apply`) the loaded indexes that were
  current take the commit's additions and removals directly;
- save policy: an index is saved only by the process holding the writer lock (taken without
  waiting: a reader never writes the file) and, unless forced, only when its last save took
  less than 10% of the time since that save, so a 1M-image index is not rewritten every few
  seconds (a stale file only costs a catch-up on the next open);
- below ``params.exact_below`` vectors the search is exact (one (N, D) float32 matrix product,
  the matrix cached per watermark); above, HNSW; a filter (folder, dates, ids) is searched as
  :mod:`clipcore.scope` says (exact for small scopes, else HNSW with a larger k, else
  hnswlib's filter), never returning fewer than k hits while more exist.

Thread-safe: loads, catch-ups and applies are serialised by one re-entrant lock; searches run
outside it (HnswIndex has its own reader-writer lock).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from . import crops as parts
from .ann import (HnswIndex, StaleIndex, exact_knn, index_paths)
from .ann_cache_loads import BackgroundLoads, WriterLockLike, ModelCache
from .ann_loading import exact_from_file
from .catalog import Applied, Catalog
from .config import IndexParams
from .errors import CatalogError, DiskFullError, LibraryBusyError
from .scope import Scopes, nearest_within

__all__ = ["AnnCache", "gather_vectors"]

log = logging.getLogger(__name__)

SAVE_BUDGET = 0.1   # unforced saves take at most this share of the time between saves


def gather_vectors(chunks: Iterable[tuple[np.ndarray, np.ndarray]], dim: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Join the catalog's (ids, vectors) chunks into ids (N,) int64 and vectors (N, D) float32."""
    chunks = list(chunks)
    if not chunks:
        return np.empty(0, np.int64), np.empty((0, dim), np.float32)
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


class AnnCache(BackgroundLoads):
    """The vector indexes of one data directory (``data_dir``), kept in step with ``catalog``.

    ``writer_lock``: the data directory's writer lock; a save happens only when
    ``writer_lock.hold(timeout=0)`` succeeds (raises LibraryBusyError otherwise).
    """

    def __init__(self, catalog: Catalog, data_dir: Path, params: IndexParams,
                 writer_lock: WriterLockLike):
        self.catalog = catalog
        self.data_dir = data_dir
        self.params = params
        self.writer_lock = writer_lock
        self._guard = threading.RLock()
        self._models: dict[str, ModelCache] = {}
        self.scopes = Scopes(catalog)
        #: Called in the loading thread right before hnswlib reads a big index (tests hold it).
        self.before_hnsw_load: Callable[[], None] | None = None

    # -- search --------------------------------------------------------------------------
    def nearest(self, query: np.ndarray, model_identity: str, k: int,
                folder: str | None = None, only: np.ndarray | None = None,
                dates: tuple[str | None, str | None] | None = None, text: bool = False
                ) -> list[tuple[int, float]]:
        """query (D,) float32 L2-normalised -> [(image_id, cosine)] best first, at most k,
        never a deleted image. Filters, applied before the k nearest are taken (a filtered
        search returns min(k, matching) hits): ``folder``, an absolute path (images inside it:
        a library folder or any folder inside one); ``only``, ids (n,) int64; ``dates``,
        ``[lo, hi)`` ISO strings (either None = open) on the date taken (see clipcore.dates).
        ``text``: the query comes from words (HNSW searches it with a wider beam, see
        ``IndexParams.ef_for``) and may match a photo's crop vectors (clipcore.crops); an
        image query compares whole-image vectors only, so a crop of background or of one
        detail does not stand in for the photo. [] for a model with no vectors."""
        mc = self._model(model_identity)
        if mc is None or k <= 0:
            return []
        allowed, scope = self.scopes.allowed(folder, only, dates)
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        exact: tuple[np.ndarray, np.ndarray] | None = None
        with self._guard:
            loading = self._loading(mc)
            if loading is not None:
                delta = loading.delta(self.catalog.generation(), lambda: gather_vectors(
                    self.catalog.iter_vectors(mc.model.id, since_seq=loading.info["watermark"]),
                    mc.model.dim))
        if loading is not None:       # answered by the file while hnswlib loads it
            if allowed is not None and len(allowed) < self.params.exact_below:
                found = self._exact_among(mc, allowed, query, k)
            else:
                with loading.searching():
                    found = exact_from_file(loading.file, query, k, allowed, delta,
                                            lambda ids: self._vectors_of(mc, ids))
            return [(int(i), float(s)) for i, s in zip(*found)]
        with self._guard:
            hnsw = self._ensure(mc)
            if hnsw.live < self.params.exact_below:
                exact = self._exact_matrix(mc, hnsw.watermark)
            else:
                mc.exact = None                   # above exact_below: no second copy in RAM
        if exact is not None:
            ids, mat = exact
            if allowed is not None or not text:
                keep = (np.isin(parts.image_ids(ids), allowed) if allowed is not None
                        else parts.is_whole(ids))
                ids, mat = ids[keep], mat[keep]
            found = parts.best_per_image(*exact_knn(mat, ids, query, k + mc.crops), k)
        elif allowed is not None:     # (whole-image vectors only: crop labels are not allowed)
            found = nearest_within(
                hnsw, allowed, query, k, self.params.exact_below, text,
                lambda: self.scopes.matrix((mc.model.id, *scope), lambda: gather_vectors(
                    self.catalog.iter_vectors(mc.model.id, image_ids=allowed), mc.model.dim)))
        else:
            found = self._search_photos(mc, hnsw, query, k, text)
        return [(int(i), float(s)) for i, s in zip(*found)]

    def _exact_among(self, mc: ModelCache, allowed: np.ndarray, query: np.ndarray, k: int
                     ) -> tuple[np.ndarray, np.ndarray]:
        return exact_knn(*self._vectors_of(mc, allowed)[::-1], query, k)

    def _vectors_of(self, mc: ModelCache, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The catalog's (ids, vectors) of those of ``ids`` that have one (the truth)."""
        return gather_vectors(self.catalog.iter_vectors(mc.model.id, image_ids=ids),
                              mc.model.dim)

    def _search_photos(self, mc: ModelCache, hnsw: HnswIndex, query: np.ndarray, k: int,
                       text: bool) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest photos by their best vector (whole image or crop, crops.py): HNSW
        asked for more labels than k while photos repeat among them."""
        wanted = k if not mc.crops else 2 * k + 8
        while True:
            labels, scores = hnsw.search(query, wanted, text=text)
            if not text:      # an image query compares whole photos, never a crop's detail
                whole = parts.is_whole(labels)
                found = parts.best_per_image(labels[whole], scores[whole], k)
            else:
                found = parts.best_per_image(labels, scores, k)
            if len(found[0]) >= k or len(labels) < wanted or wanted >= hnsw.live:
                return found
            wanted *= 2

    def neighbours(self, vectors: np.ndarray, k: int, model_identity: str
                   ) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest images of each row of ``vectors`` (n, D) float32 through the HNSW
        index, the whole batch on every core: (ids (n, k) int64, -1 where fewer; cosines
        (n, k) float32), best first. For all-pairs jobs (duplicates)."""
        mc = self._model(model_identity)
        if mc is None:
            return np.full((len(vectors), 0), -1, np.int64), np.zeros((len(vectors), 0), np.float32)
        with self._guard:
            hnsw = self._ensure(mc)
        if not mc.crops:
            return hnsw.search_many(vectors, k)
        labels, scores = hnsw.search_many(vectors, 2 * k + 8)   # whole-image vectors only
        ids = np.full((len(vectors), k), -1, np.int64)
        sims = np.zeros((len(vectors), k), np.float32)
        for row, (lab, sc) in enumerate(zip(labels, scores)):
            keep = parts.is_whole(lab) & (lab >= 0)
            n = min(k, int(keep.sum()))
            ids[row, :n], sims[row, :n] = lab[keep][:n], sc[keep][:n]
        return ids, sims

    # -- writes ----------------------------------------------------------------------------
    def apply(self, commit: Callable[[], Applied], vectors: np.ndarray | None = None,
              crop_vectors: np.ndarray | None = None) -> Applied:
        """Run ``commit`` (a catalog transaction) and apply what it did to the loaded indexes
        that were current before it; the others catch up from the catalog on their next use.
        ``vectors`` (a, D) float32: the vectors of ``Applied.added``, same order;
        ``crop_vectors`` (c, D) float32: those of ``Applied.added_crops``."""
        with self._guard:
            applied = commit()
            added = None
            if applied.model is not None and len(applied.added):
                added = self._model(applied.model.identity)
                if added is not None and added.hnsw is None:   # load or build, then catch up
                    self._ensure(added, new=self.catalog.count_vectors(applied.model.id)
                                 == len(applied.added))
            for mc in self._models.values():
                hnsw = mc.hnsw
                if hnsw is None or hnsw.watermark != applied.generation - 1:
                    continue
                hnsw.remove(applied.removed)
                gone = applied.removed_crops
                if len(gone):
                    hnsw.remove(parts.crop_labels(gone[:, 0], gone[:, 1]))
                if mc is added and vectors is not None:
                    hnsw.add(applied.added, vectors)
                new = applied.added_crops
                if mc is added and crop_vectors is not None and len(new):
                    hnsw.add(parts.crop_labels(new[:, 0], new[:, 1]), crop_vectors)
                mc.crops = self.catalog.count_crops(mc.model.id)
                hnsw.live = self.catalog.count_vectors(mc.model.id) + mc.crops
                hnsw.watermark, mc.dirty = applied.generation, True
        return applied

    def save(self, force: bool = True, quiet: bool = False) -> None:
        """Save every loaded index that changed (see the save policy in the module docstring).
        Runs outside the guard: a save only reads the index (searches go on meanwhile).
        ``quiet``: a full disk or a file error only skips the save (the index is a cache)."""
        with self._guard:
            caches = list(self._models.values())
        for mc in caches:
            self._save_if_writer(mc, force=force, quiet=quiet)

    def forget_damaged(self) -> int:
        """Forget the stored vectors this process found damaged (catalog.vectors never returns
        them) so their photos are embedded again by the next index run; only when the library
        can be written without waiting. Returns how many were forgotten."""
        damaged = self.catalog.damaged_vectors()
        if not damaged or self.catalog.read_only:
            return 0
        forgotten = 0
        try:
            with self.writer_lock.hold(timeout=0):
                for model_id, ids in damaged.items():
                    def forget(m: int = model_id, i: np.ndarray = ids) -> Applied:
                        return Applied(self.catalog.forget_vectors(m, i), i,
                                       np.empty(0, np.int64), None)

                    self.apply(forget)
                    forgotten += len(ids)
        except (LibraryBusyError, CatalogError, OSError) as exc:
            log.debug("The damaged vectors were not forgotten now (%s).", exc)
        return forgotten

    # -- internals -------------------------------------------------------------------------
    def _model(self, identity: str) -> ModelCache | None:
        with self._guard:
            mc = self._models.get(identity)
            if mc is None:
                model = self.catalog.model(identity)
                if model is None:
                    return None
                mc = self._models[identity] = ModelCache(
                    model, index_paths(self.data_dir, model.id))
            return mc

    def _ensure(self, mc: ModelCache, new: bool = False) -> HnswIndex:
        """Load (or rebuild) the index and catch up with the catalog. Caller holds the guard.
        ``new``: the model's first vectors were just written (no file is expected)."""
        if mc.hnsw is None and mc.loading is not None:     # a background load: its outcome
            loading, mc.loading = mc.loading, None
            loading.done.wait()
            if loading.error is not None and not loading.cancelled():
                return self._rebuild(mc, f"The vector index for model {mc.model.identity} "
                                         f"cannot be used ({loading.error})")
            mc.hnsw = loading.result      # (None when cancelled: loaded below)
            mc.crops = self.catalog.count_crops(mc.model.id)
        if mc.hnsw is None:
            try:
                mc.hnsw = self._load_checked(mc)
                self._add_block_crcs(mc, mc.hnsw)
                mc.crops = self.catalog.count_crops(mc.model.id)
            except StaleIndex as why:
                return self._rebuild(mc, None if new else
                                     f"The vector index for model {mc.model.identity} cannot "
                                     f"be used ({why})")
        generation = self.catalog.generation()
        if mc.hnsw.watermark > generation:
            return self._rebuild(mc, f"The vector index for model {mc.model.identity} is newer "
                                     "than the catalog")
        if mc.hnsw.watermark < generation:
            self._catch_up(mc, mc.hnsw)
        return mc.hnsw

    def _rebuild(self, mc: ModelCache, why: str | None) -> HnswIndex:
        cat = self.catalog
        with cat.snapshot():
            generation, n = cat.generation(), cat.count_vectors(mc.model.id)
            if why and (n or mc.paths[0].exists()):
                log.warning("%s; rebuilding it from the catalog (%d images).", why, n)
            crops = cat.count_crops(mc.model.id)
            hnsw = HnswIndex(mc.model.dim, self.params, capacity=n + crops + 1024,
                             watermark=generation)
            for ids, vecs in cat.iter_vectors(mc.model.id):
                hnsw.add(ids, vecs, num_threads=-1)
            for ids, part, vecs in cat.iter_crop_vectors(mc.model.id):
                hnsw.add(parts.crop_labels(ids, part), vecs, num_threads=-1)
        hnsw.live, mc.crops = n + crops, crops
        mc.hnsw, mc.dirty = hnsw, True
        self._save_if_writer(mc, quiet=True)
        return hnsw

    def _catch_up(self, mc: ModelCache, hnsw: HnswIndex) -> None:
        """Apply what other processes (or a crash before the last save) changed since the
        index's watermark: vectors written later are (re)added, vanished ids marked deleted."""
        cat = self.catalog
        with cat.snapshot():
            generation = cat.generation()
            for ids, vecs in cat.iter_vectors(mc.model.id, since_seq=hnsw.watermark):
                hnsw.add(ids, vecs)
            for ids, part, vecs in cat.iter_crop_vectors(mc.model.id, since_seq=hnsw.watermark):
                hnsw.add(parts.crop_labels(ids, part), vecs)
            live_ids = np.concatenate([cat.vector_ids(mc.model.id),
                                       parts.crop_labels(*cat.crop_keys(mc.model.id))])
        hnsw.remove(np.setdiff1d(hnsw.labels(), live_ids))
        mc.crops = int((~parts.is_whole(live_ids)).sum())
        hnsw.live, hnsw.watermark, mc.dirty = len(live_ids), generation, True

    def _exact_matrix(self, mc: ModelCache, mark: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids (N,) int64, vectors (N, D) float32) from the catalog, cached per watermark."""
        if mc.exact is None or mc.exact[0] != mark:
            ids, vecs = gather_vectors(self.catalog.iter_vectors(mc.model.id), mc.model.dim)
            crops = list(self.catalog.iter_crop_vectors(mc.model.id))
            if crops:
                ids = np.concatenate([ids] + [parts.crop_labels(i, p) for i, p, _ in crops])
                vecs = np.concatenate([vecs] + [v for _, _, v in crops])
            mc.exact = (mark, ids, vecs)
        return mc.exact[1], mc.exact[2]

    def _save_if_writer(self, mc: ModelCache, force: bool = False, quiet: bool = False) -> None:
        """Save ``mc`` if dirty and this process can take the writer lock without waiting.
        Unless ``force``, only when the last save took < SAVE_BUDGET of the time since it.
        Never on a read-only library; ``quiet``: a full disk or file error skips the save."""
        if not mc.dirty or mc.hnsw is None or self.catalog.read_only:
            return
        if not force and mc.save_seconds > SAVE_BUDGET * (time.monotonic() - mc.saved_at):
            return
        try:
            with contextlib.suppress(LibraryBusyError):   # another process writes; it saves
                with self.writer_lock.hold(timeout=0):
                    start = time.monotonic()
                    mc.hnsw.save(*mc.paths, self._expect(mc))
                    mc.saved_at = time.monotonic()
                    mc.save_seconds, mc.dirty = mc.saved_at - start, False
        except (DiskFullError, CatalogError, OSError) as exc:
            if not quiet:
                raise
            log.info("The vector index was not saved (%s); it is rebuilt when needed.", exc)
