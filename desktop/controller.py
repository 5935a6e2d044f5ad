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

import os
import dataclasses
from dataclasses import dataclass, field
from typing import Callable

from PySide6.QtCore import QObject, Signal

from clipcore.download import DownloadCancelled
from clipcore.errors import WeightsMissingError

from .live_watch import LiveWatch
from .settings import AppSettings
from .workers import IndexWorker, ModelLoader, WorkPool, user_message

__all__ = ["Controller", "SearchRequest", "default_spec_resolver", "MODEL_ENV"]

MODEL_ENV = "CLIPDESK_MODEL"


def default_spec_resolver(settings: AppSettings):
    """ModelSpec for the settings: ``$CLIPDESK_MODEL`` (preset, open_clip name or config JSON)
    when set, else the preset chosen in the settings, on the chosen device.

    Raises :class:`~clipcore.errors.ModelNotFoundError` for an unknown preset or model.
    """
    from clipcore.presets import resolve_model_spec

    override = os.environ.get(MODEL_ENV)
    return resolve_model_spec(override or settings.preset, device=settings.device,
                              checkpoint=None if override else settings.checkpoint or None)


@dataclass
class SearchRequest:
    """One search: text (query language) and/or image (path or encoded bytes), or
    ``similar_to`` (an image id), plus ``examples`` ((target, signed weight) pairs: image ids
    or paths, "more like these" / "less like this"). Filters: ``folder`` (absolute path),
    ``dates`` (a clipcore DateRange), ``threshold`` (sent to clipcore for the date sort, which
    covers every match above it), ``sort`` ("relevance" | "date"). ``offset``: results already
    shown (a further page). ``label`` is what the window shows for it."""

    text: str | None = None
    image: object | None = None
    similar_to: int | None = None
    label: str = ""
    k: int = 200
    examples: list = field(default_factory=list)
    folder: str | None = None
    dates: object | None = None
    threshold: float | None = None
    sort: str = "relevance"
    offset: int = 0

    @property
    def empty(self) -> bool:
        return not (self.text or self.image is not None or self.similar_to is not None
                    or self.examples)

    def next_page(self, shown: int) -> SearchRequest:
        """The same search for the results after the first ``shown``."""
        return dataclasses.replace(self, offset=shown)


@dataclass
class _Model:
    loader: ModelLoader
    searcher: object | None = None


class Controller(QObject):
    """Drives clipcore for the window.

    Signals (all delivered on the GUI thread):
    ``model_state(state, message)`` with state "loading" | "ready" | "missing" | "error";
    ``device_changed(text)``; ``folders_changed(list[FolderInfo], indexed_count)``;
    ``indexing_started(list[str])``; ``index_progress(ProgressEvent)``;
    ``indexing_finished(IndexSummary | None)``; ``results_ready(list[Hit], SearchRequest)``;
    ``search_failed(message)``; ``message(text)`` for non-blocking notices;
    ``skipped_ready(list[ImageRow])``; ``shutdown_done()`` once every worker has stopped;
    ``watch_states({path: FolderWatch})`` (clipcore.watch).

    ``resolve_spec(AppSettings) -> ModelSpec`` chooses the model (tests inject a tiny one);
    ``thumbnails`` is the indexer's thumbnail callback; ``index_options`` are extra keyword
    arguments for ``index_folders`` (e.g. ``batch_size``).
    """

    model_state = Signal(str, str)
    device_changed = Signal(str)
    folders_changed = Signal(object, int)
    indexing_started = Signal(object)
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
        self.model_state.emit("loading", f"Loading the model {_spec_label(spec)}…")
        self.pool.run(model.loader.get, on_result=lambda enc, m=model: self._model_loaded(m, enc),
                      on_error=lambda err, m=model: self._model_failed(m, err))

    def _model_loaded(self, model: _Model, encoder) -> None:
        if model is self._active:
            self.device_changed.emit(getattr(encoder, "device_description", str(encoder.device)))
            self.model_state.emit("ready", _spec_label(model.loader.spec))

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
        self.reindex_notice.emit(f"Re-indexing with the model {_spec_label(spec)}; search uses "
                                 f"the previous model ({_spec_label(self._active.loader.spec)}) "
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

    # ------------------------------------------------------------------ indexing
    @property
    def is_indexing(self) -> bool:
        return self._worker is not None

    def add_folder(self, path: str) -> None:
        """Add a library folder and index it (queued behind a running index)."""
        self.index([os.path.abspath(path)])

    def index(self, folders: list[str] | None = None) -> None:
        """Index ``folders`` (default: every library folder) in the background.

        While a run is going, the folders are queued for the next run. A pending model always
        re-indexes every folder, so it can become active when the run completes.
        """
        if self._closing:
            return
        if self.target_model is None:   # not started yet (or no model): run once it is
            self._index_queue += [p for p in folders or [] if p not in self._index_queue]
            return
        every = [f.path for f in self.folders]
        if folders is None:
            wanted = every
        elif self._pending is not None:
            wanted = every + [p for p in folders if p not in every]
        else:
            wanted = list(folders)
        if self._worker is not None:
            self._index_queue += [p for p in wanted if p not in self._index_queue]
            return
        wanted += [p for p in self._index_queue if p not in wanted]
        self._index_queue = []
        if not wanted:
            return
        options = dict(self.index_options, **({"defer": frozenset(self._defer)} if self._defer
                                              else {}))
        self._defer, self._waiters = set(), self.live.take_waiting()
        worker = IndexWorker(self.library, wanted, self.target_model.loader,
                             thumbnails=self.thumbnails, exclude=tuple(self.settings.exclude),
                             count_model=self._active.loader.spec.identity(),
                             options=options, parent=self)
        worker.progress.connect(self.index_progress)
        worker.folders.connect(self._set_folders)
        worker.failed.connect(self.message)
        worker.done.connect(self._index_done)
        worker.finished.connect(worker.deleteLater)
        self._worker, self.indexing = worker, wanted
        self.indexing_started.emit(wanted)
        worker.start()

    def cancel_indexing(self) -> None:
        """Stop after the current batch; what is committed stays, the next run resumes."""
        self._index_queue = []
        if self._worker is not None:
            self._worker.cancel()

    def _index_done(self, summary) -> None:
        worker, self._worker, self.indexing = self._worker, None, []
        for waiter in self._waiters:     # the watch may ask for its next batch
            waiter.set()
        self._waiters = []
        if worker is not None:
            worker.wait()
        completed = summary is not None and not summary.cancelled
        pending = self._pending
        if (completed and not self._closing and pending is not None
                and worker.model is pending.loader):
            self._pending = None   # the indexer has switched the library's model
            self._activate(pending)
            self._refresh_folders()
            self.reindex_notice.emit("")
        self.indexing_finished.emit(summary)
        after, self._after_index = self._after_index, []
        for action in after:
            action()
        if self._closing:
            self._check_idle()
        elif self._index_queue:
            self.index([])

    def _set_folders(self, folders, count: int) -> None:
        before = {f.path for f in self.folders}
        self.folders, self.indexed_count = folders, count
        self.folders_changed.emit(folders, count)
        if before != {f.path for f in folders} and (self.settings.watch or self.live.running):
            self._restart_watch()

    # ------------------------------------------------------------------ live watch
    def _restart_watch(self) -> None:
        """Watch the library folders if the settings say so (OS watches set up in a worker)."""
        if self._closing:
            return
        paths = [f.path for f in self.folders]
        if self.settings.watch and paths:
            self.pool.run(self.live.start, paths, self.settings.rescan_minutes * 60.0,
                          on_error=self._report)
        elif self.live.running:
            self.pool.run(self.live.stop, on_error=self._report)
            self.watch_states.emit({})

    def _watch_batch(self, batch) -> None:
        """The watch saw changes: index those folders (queued behind a running index)."""
        self._defer |= batch.defer
        self.index(list(batch.folders))

    def _refresh_folders(self) -> None:
        identity = self._active.loader.spec.identity() if self._active else None
        self.pool.run(lambda: (self.library.folders(), self.library.count(identity)),
                      on_result=lambda r: self._set_folders(*r), on_error=self._report)

    def remove_folder(self, path: str) -> None:
        """Forget a folder and its images in the catalog (never touches the files)."""
        def remove():
            self.pool.run(self.library.remove_folder, path, on_error=self._report,
                          on_result=lambda _r: self._refresh_folders())

        if self._worker is not None:
            resume = [p for p in self.indexing if p != path]
            self._worker.cancel()
            self._after_index += [remove, lambda: self.index(resume)]
        else:
            remove()

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
            self.library.close()
            self.shutdown_done.emit()


def _spec_label(spec) -> str:
    if getattr(spec, "preset", None):
        return spec.preset
    return os.path.basename(spec.name) if spec.name.endswith(".json") else spec.name
