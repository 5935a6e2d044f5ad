"""The bridge between clipcore and the window: it owns the library, the models and the workers.

It holds no indexing or search logic: it decides *when* to call clipcore (in which worker, with
which model) and turns the answers into signals. The window only talks to this object.

Models: the *active* model is the one the library's vectors were made with; every search uses
it. When the settings ask for another model, that one becomes *pending*: it is loaded and the
library re-indexed with it in the background while searches keep using the active model's
vectors; when the re-index completes, the indexer switches the library's model and the
pending model becomes active here. A cancelled or interrupted re-index resumes at the next start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import QObject, Signal

from clipcore.download import DownloadCancelled
from clipcore.errors import WeightsMissingError

from .index_runs import IndexRuns
from .live_watch import LiveWatch
from .model_choice import default_spec_resolver, spec_label
from .search_request import SearchRequest
from .settings import AppSettings
from .workers import IndexWorker, ModelLoader, WorkPool, user_message

__all__ = ["Controller"]


@dataclass
class _Model:
    loader: ModelLoader
    searcher: object | None = None


class Controller(IndexRuns, QObject):
    """Drives clipcore for the window.

    Signals (all delivered on the GUI thread):
    ``model_state(state, message)`` with state "loading" | "ready" | "missing" | "error";
    ``device_changed(text)``; ``folders_changed(list[FolderInfo], indexed_count)``;
    ``indexing_started(list[str])``; ``index_queued(list[str])`` (folders waiting for the next
    run); ``index_progress(ProgressEvent)``;
    ``indexing_finished(IndexSummary | None)``; ``results_ready(list[Hit], SearchRequest)``;
    ``search_failed(message)``; ``message(text)`` for non-blocking notices;
    ``skipped_ready(list[ImageRow])``; ``shutdown_done()`` once every worker has stopped;
    ``watch_states({path: FolderWatch})`` (clipcore.watch); ``folder_removed(path)`` (can
    be undone until quit), ``folder_restored(path)``, ``subfolders_changed(dict)``.

    ``resolve_spec(AppSettings) -> ModelSpec`` chooses the model (tests inject a tiny one);
    ``thumbnails`` is the indexer's thumbnail callback; ``index_options`` are extra keyword
    arguments for ``index_folders`` (e.g. ``batch_size``).
    """

    model_state = Signal(str, str)
    device_changed = Signal(str)
    folders_changed = Signal(object, int)
    indexing_started = Signal(object)
    index_queued = Signal(object)       # folders waiting for the next index run
    index_progress = Signal(object)
    indexing_finished = Signal(object)
    results_ready = Signal(object, object)
    search_failed = Signal(str)
    message = Signal(str)
    skipped_ready = Signal(object)
    shutdown_done = Signal()
    download_progress = Signal(object)
    reindex_notice = Signal(str)
    watch_states = Signal(object)
    folder_removed = Signal(str)        # removed with undo: it can be brought back until quit
    folder_restored = Signal(str)
    subfolders_changed = Signal(object)  # {library folder: {sub-folder: photos inside}}

    def __init__(self, library, settings: AppSettings, *,
                 resolve_spec: Callable[[AppSettings], object] = default_spec_resolver,
                 thumbnails: Callable | None = None, index_options: dict | None = None,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.index_options = dict(index_options or {})
        self.library = library
        self.settings = settings
        self.resolve_spec = resolve_spec
        self.thumbnails = thumbnails
        self.pool = WorkPool(max_threads=3, parent=self)
        self.folders: list = []
        self.indexing: list[str] = []
        self._active: _Model | None = None
        self._pending: _Model | None = None
        self._worker: IndexWorker | None = None
        self._index_queue: list[str] = []
        self._after_index: list[Callable[[], None]] = []
        self._search_task = None
        self._queued_search: SearchRequest | None = None
        self._closing = False
        self._closed = False
        self.indexed_count = 0
        self.shutdown_wait_ms = -1   # forever; the app process sets a bound (it exits after)
        self.model_error: Exception | None = None   # why the active model is not loaded
        self.live = LiveWatch(lambda path: path in self.library.offline_folders(), self)
        self.live.batch_requested.connect(self._watch_batch)
        self.live.states_changed.connect(self.watch_states)
        self._defer: set[str] = set()          # files the watch says are still being written
        self._waiters: list = []               # watch batches the running index run includes

    # ------------------------------------------------------------------ start-up and models
    def start(self) -> None:
        """Resolve the model and read the catalog in a worker, then start loading the model and
        resume indexing. Returns at once (resolving a model name imports open_clip: seconds)."""
        def read():
            try:
                wanted = self.resolve_spec(self.settings)
            except Exception as err:  # noqa: BLE001 -- unknown preset: tell the user, keep running
                self.model_state.emit("error", user_message(err))
                wanted = None
            self._purge_removed()     # removals a crash left undoable: gone for good
            return wanted, self.library.model_spec(), self.library.folders(), self.library.count()

        self.pool.run(read, on_result=lambda r: self._started(*r), on_error=self._report)

    def _started(self, wanted, stored, folders, count: int) -> None:
        self._set_folders(folders, count)      # (starts the watch)
        days = self.settings.tombstone_days
        self.pool.run(lambda: self.library.tombstone_days() == days
                      or self.library.set_tombstone_days(days), on_error=self._report)
        active_spec = stored or wanted
        if active_spec is None:
            return
        self._activate(self._model(active_spec))
        if wanted is not None and stored is not None and wanted.identity() != stored.identity():
            self._start_reindex(wanted)
        if folders or self._index_queue:
            self.index()
        queued, self._queued_search = self._queued_search, None
        if queued is not None:   # typed before start-up finished
            self.search(queued)

    def _activate(self, model: _Model) -> None:
        from clipcore.search import Searcher

        spec = model.loader.spec
        model.searcher = Searcher(self.library, model.loader.get, model_identity=spec.identity())
        self._active = model
        self.model_state.emit("loading", f"Loading the model {spec_label(spec)}…")
        self.pool.run(model.loader.get, on_result=lambda enc, m=model: self._model_loaded(m, enc),
                      on_error=lambda err, m=model: self._model_failed(m, err))

    def _model_loaded(self, model: _Model, encoder) -> None:
        if model is self._active:
            self.device_changed.emit(getattr(encoder, "device_description", str(encoder.device)))
            self.model_state.emit("ready", spec_label(model.loader.spec))

    def _model_failed(self, model: _Model, err: Exception) -> None:
        if model is self._active:
            state = "missing" if isinstance(err, (WeightsMissingError, DownloadCancelled)) \
                else "error"
            self.model_error = err
            self.model_state.emit(state, user_message(err))

    @property
    def active_spec(self):
        return self._active.loader.spec if self._active else None

    @property
    def target_model(self) -> _Model | None:
        return self._pending or self._active

    def apply_settings(self, settings: AppSettings) -> None:
        """Take new settings; a different model re-indexes in the background."""
        old, self.settings = self.settings, settings
        if (old.watch, old.rescan_minutes) != (settings.watch, settings.rescan_minutes):
            self._restart_watch()
        if old.tombstone_days != settings.tombstone_days:
            self.pool.run(self.library.set_tombstone_days, settings.tombstone_days, on_error=self._report)
        if (old.preset, old.device, old.checkpoint) != (settings.preset, settings.device,
                                                         settings.checkpoint):
            self.pool.run(self.resolve_spec, settings, on_result=self._switch_model,
                          on_error=self._report)

    def _switch_model(self, spec) -> None:
        if self._closing:
            return
        if (self._active is None or spec.identity() == self._active.loader.spec.identity()
                or not self.indexed_count):   # nothing indexed yet: nothing to keep searching
            self._pending = None
            self.reindex_notice.emit("")
            self._activate(self._model(spec))   # same vectors, other device
            return
        self._start_reindex(spec)
        if self._worker is not None:
            self._worker.cancel()
            self._after_index.append(self.index)
        else:
            self.index()

    def _start_reindex(self, spec) -> None:
        self._pending = self._model(spec)
        self.reindex_notice.emit(f"Re-indexing with the model {spec_label(spec)}; search uses "
                                 f"the previous model ({spec_label(self._active.loader.spec)}) "
                                 "until it is done.")

    def _model(self, spec) -> _Model:
        """A model whose download (if its weights are missing) reports ``download_progress``."""
        return _Model(ModelLoader(spec, progress=self.download_progress.emit))

    def retry_model(self) -> None:
        """Load the active model again (after a cancelled or failed download: it resumes)."""
        if self._active is not None and not self._closing:
            self._activate(self._model(self._active.loader.spec))
            if self.folders or self._index_queue:
                self.index()

    def cancel_download(self) -> None:
        """Stop downloading model weights; what arrived is kept for the next try."""
        for model in (self._active, self._pending):
            if model is not None:
                model.loader.cancel()

    def active_encoder(self):
        """The active model's Encoder, loaded if need be: call it in a worker. Raises the
        loading error, or ClipcoreError when no model is chosen yet."""
        from clipcore.errors import ClipcoreError

        if self._active is None:
            raise ClipcoreError("No model is loaded yet; wait for it or choose one in Settings.")
        return self._active.loader.get()

    def library_changed(self) -> None:
        """Photos left the library outside an index run (duplicates moved to the Trash):
        read the folders and counts again."""
        self._refresh_folders()

    def request_skipped(self) -> None:
        """Read the skipped files (path + reason) in a worker; answer with ``skipped_ready``."""
        self.pool.run(self.library.skipped, on_result=self.skipped_ready, on_error=self._report)

    # ------------------------------------------------------------------ search
    def search(self, request: SearchRequest) -> None:
        """Run a search in a worker; while one runs (or start-up has not chosen the model yet),
        only the latest new request is kept."""
        if self._closing:
            return
        request.k = self.settings.result_count
        if self._search_task is not None or self._active is None:
            self._queued_search = request
            return
        from clipcore.search import Example

        examples = [Example(t, w) for t, w in request.examples]
        if request.similar_to is not None:
            examples.insert(0, Example(request.similar_to))
        self._search_task = self.pool.run(
            self._active.searcher.search, request.text or None, image=request.image,
            examples=examples, k=request.k, offset=request.offset, threshold=request.threshold,
            folder=request.folder, dates=request.dates, sort=request.sort,
            on_result=lambda hits, r=request: self._search_done(r, hits),
            on_error=lambda err: self.search_failed.emit(user_message(err)),
            on_finished=self._next_search)

    def _search_done(self, request: SearchRequest, hits) -> None:
        if self._queued_search is None:   # a newer request makes these results stale
            self.results_ready.emit(hits, request)

    def _next_search(self) -> None:
        self._search_task = None
        queued, self._queued_search = self._queued_search, None
        if queued is not None:
            self.search(queued)
        elif self._closing:
            self._check_idle()

    # ------------------------------------------------------------------ shutdown
    def _report(self, err: Exception) -> None:
        self.message.emit(user_message(err))

    @property
    def idle(self) -> bool:
        return self._worker is None and not self.pool.busy

    def shutdown(self) -> None:
        """Cancel indexing, drop queued work; ``shutdown_done`` fires when all has stopped
        (what was committed stays committed: the indexer stops between batches)."""
        self._closing = True
        self.live.stop()
        self._queued_search = None
        self._index_queue, self._after_index = [], []
        self.pool.drop_queued()
        self.cancel_download()   # a model load waited for below must not be a long download
        if self._worker is not None:
            self._worker.cancel()
        self._check_idle()

    def _purge_removed(self) -> None:
        """Quitting: folders removed with undo are forgotten for good."""
        try:
            self.library.purge_removed()
        except Exception as err:  # noqa: BLE001 -- e.g. busy: the next start purges them
            self.message.emit(user_message(err))

    def _check_idle(self) -> None:
        # An index run still waiting for its model has written nothing: the app process need
        # not wait for the model to load (in-process, shutdown_wait_ms < 0, it does).
        waiting = (self._worker is not None and self.shutdown_wait_ms >= 0
                   and self._worker.waiting_for_model)
        if self._closing and (self._worker is None or waiting) and not self._closed:
            self._closed = True
            # Only model loads and searches can still run: they write nothing. A model load
            # can take long (importing torch); the app process waits at most
            # ``shutdown_wait_ms`` and then exits without them (app.main).
            self.pool.waitForDone(self.shutdown_wait_ms)
            self._purge_removed()
            self.library.close()
            self.shutdown_done.emit()

