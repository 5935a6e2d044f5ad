"""The controller's index runs: one IndexWorker at a time, folders queued behind it, the
re-index with a pending model, and the live watch whose batches become index runs.

:class:`IndexRuns` is a mixin of :class:`~desktop.controller.Controller` (it uses the
controller's signals, library, settings, pool and models); it holds no indexing logic itself:
clipcore's indexer runs in the worker.
"""

from __future__ import annotations

import os

from .workers import IndexWorker

__all__ = ["IndexRuns"]


class IndexRuns:
    """Indexing and the live watch, for the Controller (see its signals)."""

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
            self._queue(folders or [])
            return
        every = [f.path for f in self.folders]
        if folders is None:
            wanted = every
        elif self._pending is not None:
            wanted = every + [p for p in folders if p not in every]
        else:
            wanted = list(folders)
        if self._worker is not None:
            self._queue(wanted)
            return
        wanted += [p for p in self._index_queue if p not in wanted]
        self._queue(None)
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
        self._queue(None)
        if self._worker is not None:
            self._worker.cancel()

    def _queue(self, folders: list[str] | None) -> None:
        """Queue ``folders`` for the next run (None: empty the queue); ``index_queued`` tells."""
        before = list(self._index_queue)
        if folders is None:
            self._index_queue = []
        else:
            self._index_queue += [p for p in folders if p not in self._index_queue]
        if self._index_queue != before:
            self.index_queued.emit(list(self._index_queue))

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
        if not self._closing:
            self._load_subfolders(self.folders)
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
        if not self._closing and self._worker is None:   # during a run: once, at its end
            self._load_subfolders(folders)
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

    def remove_folder(self, path: str, undoable: bool = False) -> None:
        """Forget a folder and its images in the catalog (never touches the files).
        ``undoable``: kept aside until the app quits; ``folder_removed(path)`` then says it can
        be undone (:meth:`undo_remove`)."""
        def remove():
            self.pool.run(self.library.remove_folder, path, undoable, on_error=self._report,
                          on_result=lambda _r: self._removed(path, undoable))

        if self._worker is not None:
            resume = [p for p in self.indexing if p != path]
            self._worker.cancel()
            self._after_index += [remove, lambda: self.index(resume)]
        else:
            remove()

    def _removed(self, path: str, undoable: bool) -> None:
        self._refresh_folders()
        if undoable:
            self.folder_removed.emit(path)

    def undo_remove(self, path: str) -> None:
        """Bring back a folder removed with undo (its photos and vectors as they were; nothing
        is embedded again); ``folder_restored(path)`` once done, ``message`` if it cannot be."""
        def restored(_info) -> None:
            self._refresh_folders()
            self.folder_restored.emit(path)

        self.pool.run(self.library.undo_remove, path, on_result=restored, on_error=self._report)

    def _load_subfolders(self, folders) -> None:
        """Read the sub-folders of every library folder from the catalog in a worker, then
        ``subfolders_changed({library folder: {sub-folder: photos}})``. Not after each commit
        of an index run (a read of every photo's path: ~1 s at 1M photos) but at its end."""
        paths = [f.path for f in folders]
        self.pool.run(lambda: {p: self.library.subfolders(p) for p in paths},
                      on_result=self.subfolders_changed.emit, on_error=self._report)
