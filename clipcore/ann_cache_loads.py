"""Background loads of big index files, the part of :class:`clipcore.ann_cache.AnnCache`
that answers while hnswlib reads a large file (see :mod:`clipcore.ann_loading`).

A saved index above ``IndexParams.load_in_background_above`` vectors that passes the cheap
checks (size, header, sampled block CRCs) is loaded by a background thread; searches are
answered exactly from its memory-mapped file meanwhile. A sidecar written before block CRCs
existed gets them after its first full check.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from typing import Callable, ContextManager, Protocol

import numpy as np

from .ann import HnswIndex, StaleIndex, load_index, mismatch, open_index_file
from .ann_file import BLOCK_BYTES
from .ann_loading import BackgroundLoad
from .catalog import Catalog, ModelRow
from .config import IndexParams
from .errors import LibraryBusyError

__all__ = ["BackgroundLoads", "ModelCache", "WriterLockLike"]


class WriterLockLike(Protocol):
    def hold(self, timeout: float | None = None) -> ContextManager[object]: ...


class ModelCache:
    """One model's HnswIndex, its files, its exact matrix and its save bookkeeping."""

    def __init__(self, model: ModelRow, paths: tuple[Path, Path]):
        self.model = model
        self.paths = paths
        self.hnsw: HnswIndex | None = None
        self.exact: tuple[int, np.ndarray, np.ndarray] | None = None   # (watermark, ids, matrix)
        self.loading: BackgroundLoad | None = None   # a big file loading (ann_loading)
        self.crops = 0               # crop vectors in the index (labels with a part, crops.py)
        self.dirty = False           # in-memory state newer than the saved file
        self.save_seconds = 0.0      # how long the last save took
        self.saved_at = 0.0          # time.monotonic() of the last save


class BackgroundLoads:
    """Mixin of AnnCache: starting, waiting for and stopping background index loads."""

    catalog: Catalog
    params: IndexParams
    writer_lock: WriterLockLike
    _guard: threading.RLock
    _models: dict[str, ModelCache]
    before_hnsw_load: Callable[[], None] | None

    def _expect(self, mc: ModelCache) -> dict:
        """What the sidecar of ``mc``'s file must say for the file to be used."""
        return {"model_identity": mc.model.identity, "dim": mc.model.dim,
                "catalog_uid": self.catalog.catalog_uid()}

    def loading(self, model_identity: str) -> bool:
        """True while the model's index is being loaded in the background (searches are
        answered exactly from its file meanwhile)."""
        with self._guard:
            mc = self._models.get(model_identity)
            return mc is not None and mc.loading is not None and not mc.loading.done.is_set()

    def wait_loaded(self, model_identity: str, timeout: float | None = None) -> bool:
        """Wait until a background load of the model's index has ended (or ``timeout``
        seconds); True when none is running any more."""
        with self._guard:
            mc = self._models.get(model_identity)
            loading = mc.loading if mc is not None else None
        return loading is None or loading.done.wait(timeout)

    def stop_loading(self) -> None:
        """Cancel background loads that have not reached hnswlib yet and wait for every one
        (Library.close: nothing may read the catalog after it closes)."""
        with self._guard:
            loads = [mc.loading for mc in self._models.values() if mc.loading is not None]
        for loading in loads:
            loading.cancel(wait=True)

    def _loading(self, mc: ModelCache) -> BackgroundLoad | None:
        """The background load answering for ``mc`` now, started here on first use when its
        saved index is big and passes the cheap checks; None when the index is (or is to
        be) loaded the ordinary way. Caller holds the guard."""
        if mc.hnsw is not None:
            return None
        if mc.loading is None:
            try:
                opened = open_index_file(*mc.paths, self._expect(mc))
            except StaleIndex:      # the ordinary load checks it all again, then rebuilds
                return None
            if opened is None or opened[1]["count"] <= self.params.load_in_background_above:
                return None
            file, info = opened
            mc.loading = BackgroundLoad(file, info, lambda gate, cancelled: self._load_checked(
                mc, gate, cancelled), self.before_hnsw_load, self.params.load_after_idle_s)
        loading = mc.loading
        return loading if loading is not None and not loading.done.is_set() else None

    def _load_checked(self, mc: ModelCache, gate=None, cancelled=None) -> HnswIndex:
        """load_index + the sample of catalog vectors it must hold (StaleIndex otherwise);
        ``gate()`` runs right before hnswlib's load (see ann_loading)."""
        def ready() -> bool:
            if gate is not None:
                gate()
            return bool(cancelled and cancelled())
        hnsw = load_index(*mc.paths, self.params, self._expect(mc), cancel=ready, stop=cancelled)
        why = mismatch(hnsw, *self.catalog.sample_vectors(mc.model.id, hnsw.watermark))
        if why:       # e.g. another model's index behind a hand-edited description
            raise StaleIndex(why)
        return hnsw

    def _add_block_crcs(self, mc: ModelCache, hnsw: HnswIndex) -> None:
        """A sidecar written before block CRCs existed gets them (read by the full check just
        made), so the next open can check a sample and search at once; only by the writer,
        only while the sidecar is unchanged (atomic replace)."""
        if hnsw.sidecar is None or hnsw.sidecar.get("blocks") or self.catalog.read_only:
            return
        side = mc.paths[1]
        with contextlib.suppress(LibraryBusyError, OSError, ValueError):
            with self.writer_lock.hold(timeout=0):
                if json.loads(side.read_text()) == hnsw.sidecar:
                    tmp = side.with_name(side.name + ".tmp")
                    tmp.write_text(json.dumps(dict(hnsw.sidecar, blocks=hnsw.blocks,
                                                   block_bytes=BLOCK_BYTES)))
                    os.replace(tmp, side)
