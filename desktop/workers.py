"""Every thread of the desktop app lives here.

Three kinds of work leave the GUI thread:

- :class:`Task`: a short function (load a model, encode a query and search, read the catalog)
  run on a :class:`WorkPool`; its result or its exception comes back to the GUI thread as a
  queued signal.
- :class:`IndexWorker`: one :class:`QThread` driving :func:`clipcore.indexer.index_folders`,
  turning its progress events into signals; cancelled through a :class:`threading.Event`
  that the indexer checks between batches, so a cancel never leaves a half-written batch.
- :class:`ModelLoader`: loads an :class:`~clipcore.encoder.Encoder` once; any thread that
  needs the model calls :meth:`ModelLoader.get`, which waits only for what is still loading.

The pattern (a worker object whose signals are delivered to the GUI thread by Qt's queued
connections) is the one superqt's ``FunctionWorker`` / ``GeneratorWorker`` use. We keep these
few lines instead of superqt's workers (measured with superqt 0.9.0; DESIGN.md, "Threads"):
superqt's ``WorkerBase.run`` swaps the process-wide ``warnings.showwarning`` and filters
inside each worker thread, so two overlapping workers (the thumbnail pool always has two)
leave every later warning of the process routed to a finished worker's signal; and its
``GeneratorWorker`` turns a ``RuntimeError`` from the job (torch's out-of-memory and shape
errors are RuntimeErrors) into a warning with neither ``errored`` nor ``finished``, so the
window would wait for that index run forever. Every pool and thread is registered so
:func:`running_work` can prove none are left behind.
"""

from __future__ import annotations

import threading
import time
import traceback
import weakref
from typing import Any, Callable, Iterable

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal
from shiboken6 import isValid

from clipcore.errors import ClipcoreError

__all__ = ["Task", "WorkPool", "ModelLoader", "IndexWorker", "JobWorker", "running_work",
           "user_message"]

_POOLS: "weakref.WeakSet[WorkPool]" = weakref.WeakSet()
_THREADS: "weakref.WeakSet[QThread]" = weakref.WeakSet()


def user_message(err: Exception) -> str:
    """One sentence for the user: a ClipcoreError's own message, else a generic one.

    Unexpected exceptions are printed to stderr with their traceback for bug reports, but the
    user only ever sees a sentence.
    """
    if isinstance(err, ClipcoreError):
        return str(err)
    traceback.print_exception(type(err), err, err.__traceback__)
    return f"Something went wrong ({type(err).__name__}: {err}); details were printed to the console."


class TaskSignals(QObject):
    """Signals of one :class:`Task`, delivered in the thread that created it (the GUI thread)."""

    result = Signal(object)
    error = Signal(object)      # the exception
    finished = Signal()


class Task(QRunnable):
    """Run ``fn(*args, **kwargs)`` on a pool; emit ``signals.result`` or ``signals.error``.

    ``signals.finished`` is emitted last in both cases. Create it in the GUI thread. Only
    :class:`Exception` is caught: ``KeyboardInterrupt`` / ``SystemExit`` keep their meaning.
    """

    def __init__(self, fn: Callable[..., Any], *args, **kwargs):
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.signals = TaskSignals()
        self.setAutoDelete(False)   # the pool's Python wrapper keeps it until finished

    def run(self) -> None:
        try:
            outcome = (self.signals.result, self.fn(*self.args, **self.kwargs))
        except Exception as err:  # noqa: BLE001 -- every failure must reach the GUI
            outcome = (self.signals.error, err)
        try:
            outcome[0].emit(outcome[1])
            self.signals.finished.emit()
        except RuntimeError:   # the app is gone (quit without closing the window): no one to tell
            pass


class WorkPool(QThreadPool):
    """A QThreadPool that keeps its tasks alive until they finish and can drop queued ones.

    ``max_threads`` defaults to 2 (the app shares the CPU with the model's own threads).
    """

    def __init__(self, max_threads: int = 2, parent: QObject | None = None):
        super().__init__(parent)
        self.setMaxThreadCount(max_threads)
        self._tasks: set[Task] = set()
        _POOLS.add(self)

    def run(self, fn: Callable[..., Any], *args, on_result=None, on_error=None,
            on_finished=None, priority: int = 0, **kwargs) -> Task:
        """Queue ``fn(*args, **kwargs)`` as a :class:`Task` (higher ``priority`` starts first)
        and return it.

        ``on_result(value)`` or ``on_error(exception)``, then ``on_finished()``, are called on
        the GUI thread. They are connected before the task is queued: an idle pool thread may
        run it before this call returns.
        """
        task = Task(fn, *args, **kwargs)
        for signal, slot in ((task.signals.result, on_result), (task.signals.error, on_error),
                             (task.signals.finished, on_finished)):
            if slot is not None:
                signal.connect(slot)
        self._tasks.add(task)
        task.signals.finished.connect(lambda t=task: self._tasks.discard(t))
        self.start(task, priority)
        return task

    def drop_queued(self, tasks: Iterable[Task] | None = None) -> list[Task]:
        """Forget ``tasks`` (default: all) that have not started yet and return them; their
        signals never fire. Tasks already running are left to finish."""
        dropped = [t for t in list(self._tasks if tasks is None else tasks)
                   if t in self._tasks and self.tryTake(t)]
        self._tasks.difference_update(dropped)
        return dropped

    @property
    def busy(self) -> bool:
        return self.activeThreadCount() > 0 or bool(self._tasks)


class ModelLoader:
    """Loads one model once, in whichever worker thread asks first; thread-safe.

    ``get()`` returns the :class:`~clipcore.encoder.Encoder` (loading it if nobody has yet) or
    raises the loading error (:class:`~clipcore.errors.WeightsMissingError`, ...). torch and
    open_clip are imported here, in a worker, never at start-up on the GUI thread; a preset's
    hub weights are looked for before that import (:func:`clipcore.presets.fetch_preset_weights`).
    Missing weights are downloaded first: ``progress(DownloadProgress)`` is called from the
    loading thread, and :meth:`cancel` stops the download.
    """

    def __init__(self, spec, progress: Callable | None = None):
        self.spec = spec
        self.progress = progress          # DownloadProgress reports, from the loading thread
        self.cancel_event = threading.Event()
        self._lock = threading.Lock()
        self._encoder = None
        self._error: Exception | None = None

    @property
    def loaded(self) -> bool:
        return self._encoder is not None

    def cancel(self) -> None:
        """Stop a download in progress (DownloadCancelled; what arrived is kept)."""
        self.cancel_event.set()

    def get(self):
        with self._lock:
            if self._encoder is None and self._error is None:
                try:
                    from clipcore.presets import fetch_preset_weights

                    # A preset's weights are looked for (or their download started) before
                    # torch is imported: on a first run the "not on this computer" page or the
                    # download's progress then comes in a second, not after the import.
                    fetch_preset_weights(self.spec, progress=self.progress,
                                         cancel=self.cancel_event)
                    from clipcore.encoder import Encoder

                    encoder = Encoder.load(self.spec, progress=self.progress,
                                           cancel=self.cancel_event)
                    encoder.warm_up()     # the first query then costs what the next ones do
                    self._encoder = encoder
                except Exception as err:  # noqa: BLE001 -- re-raised to every caller
                    self._error = err
            if self._error is not None:
                raise self._error
            return self._encoder


class IndexWorker(QThread):
    """Runs ``index_folders(library, folders, spec, encoder=..., cancel=...)`` in its own thread.

    Signals: ``progress(ProgressEvent)`` at most every ``min_interval`` seconds (plus phase
    changes and the final event); ``folders(list[FolderInfo], indexed_count)`` after each
    commit and at the end, read in this thread so the GUI never waits on the catalog (the
    count is for ``count_model``, the model searches use); ``done(IndexSummary | None)``
    (None after an error); ``failed(str)`` with a user message. ``cancel()`` sets the event;
    the indexer stops after the current batch, committed. ``options`` are passed on to
    ``index_folders`` (e.g. ``batch_size``).
    """

    progress = Signal(object)
    folders = Signal(object, int)
    done = Signal(object)
    failed = Signal(str)

    def __init__(self, library, folders: list[str], model: ModelLoader, *,
                 thumbnails: Callable | None = None, exclude: tuple[str, ...] = (),
                 count_model: str | None = None, options: dict | None = None,
                 min_interval: float = 0.1,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.library, self.folder_paths, self.model = library, list(folders), model
        self.thumbnails, self.exclude, self.min_interval = thumbnails, tuple(exclude), min_interval
        self.count_model = count_model or model.spec.identity()
        self.options = dict(options or {})
        self.waiting_for_model = False   # nothing written yet: quitting need not wait
        self.cancel_event = threading.Event()
        self.summary = None
        _THREADS.add(self)

    def cancel(self) -> None:
        self.cancel_event.set()

    def _report_folders(self) -> None:
        self.folders.emit(self.library.folders(), self.library.count(self.count_model))

    def run(self) -> None:
        from clipcore.indexer import index_folders

        try:
            if not self.model.loaded:   # remember the folders now: quitting while the model
                for path in self.folder_paths:   # loads (or with no model) keeps them
                    self.library.add_folder(path)
                self._report_folders()
            self.waiting_for_model = True
            encoder = self.model.get()   # no model (weights missing): raises, folders kept
            self.waiting_for_model = False
            events = index_folders(self.library, self.folder_paths, self.model.spec,
                                   encoder=encoder, cancel=self.cancel_event,
                                   thumbnails=self.thumbnails, exclude=self.exclude,
                                   **self.options)
            last_emit, last_phase = 0.0, None
            for event in events:
                now = time.monotonic()
                if event.phase == "commit" or (event.phase == "scan" and last_phase != "scan"):
                    self._report_folders()
                if (event.phase != last_phase or event.summary is not None
                        or now - last_emit >= self.min_interval):
                    self.progress.emit(event)
                    last_emit, last_phase = now, event.phase
                if event.summary is not None:
                    self.summary = event.summary
            self._report_folders()
        except Exception as err:  # noqa: BLE001 -- shown to the user, never a traceback
            self.failed.emit(user_message(err))
        finally:   # even when a BaseException ends the thread, the window stops waiting
            self.done.emit(self.summary)


class JobWorker(QThread):
    """Runs one cancellable clipcore library job (duplicates, groups, map, tags; clipcore.jobs)
    in its own thread: ``fn(cancel, progress)`` with ``cancel`` a threading.Event the job checks
    between blocks and ``progress(done, total, phase)``.

    Signals (queued to the GUI thread): ``progress(done, total, phase)`` at most every
    ``min_interval`` s (and on every phase change), then exactly one of ``done(result)``,
    ``cancelled()`` (the job raised clipcore.jobs.Cancelled: nothing changed) or
    ``failed(message)`` (a one-line user message).

    The worker has no Qt parent and keeps itself alive until its thread has ended, so closing
    the view that started it never destroys a running QThread (which aborts the process);
    a view that closes calls :meth:`cancel` and stops listening.
    """

    progress = Signal(int, int, str)
    done = Signal(object)
    cancelled = Signal()
    failed = Signal(str)

    _alive: "set[JobWorker]" = set()

    def __init__(self, fn: Callable[..., Any], min_interval: float = 0.1):
        super().__init__()
        self.fn, self.min_interval = fn, min_interval
        self.cancel_event = threading.Event()
        self._last = (0.0, "")
        JobWorker._alive.add(self)
        self.finished.connect(self._ended)
        _THREADS.add(self)

    def cancel(self) -> None:
        self.cancel_event.set()

    def _ended(self) -> None:
        JobWorker._alive.discard(self)
        self.deleteLater()

    def _progress(self, done: int, total: int, phase: str) -> None:
        now = time.monotonic()
        if phase != self._last[1] or now - self._last[0] >= self.min_interval or done >= total:
            self._last = (now, phase)
            self.progress.emit(int(done), int(total), str(phase))

    def run(self) -> None:
        from clipcore.jobs import Cancelled

        try:
            result = self.fn(self.cancel_event, self._progress)
        except Cancelled:
            self.cancelled.emit()
        except Exception as err:  # noqa: BLE001 -- shown to the user, never a traceback
            self.failed.emit(user_message(err))
        else:
            self.done.emit(result)


def running_work() -> list[str]:
    """Descriptions of pools with active threads and QThreads still running (for tests)."""
    found = [f"pool {p!r}: {p.activeThreadCount()} active" for p in list(_POOLS)
             if isValid(p) and p.activeThreadCount() > 0]
    found += [f"thread {t!r}" for t in list(_THREADS) if isValid(t) and t.isRunning()]
    if QThreadPool.globalInstance().activeThreadCount() > 0:
        found.append("global QThreadPool")
    return found
