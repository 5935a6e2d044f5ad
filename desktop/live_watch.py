"""The app's live watch: clipcore.watch.Watcher driven through Qt signals.

The Watcher runs in its own threads; each batch it asks for becomes ``batch_requested`` on the
GUI thread, where the controller runs it as an ordinary index run (with the progress strip).
The watcher's thread waits until a run that includes the batch has finished, so batches never
overlap and a burst of events during a run makes one next run.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal

__all__ = ["LiveWatch"]


class LiveWatch(QObject):
    """Signals (GUI thread): ``batch_requested(Batch)``; ``states_changed({path: FolderWatch})``.

    ``is_offline(path)`` tells the watcher which folders the library holds as offline;
    ``check_seconds``: how often watched folders are looked at (renamed away, unmounted,
    offline ones back), clipcore.watch.Watcher's ``check_seconds``.
    """

    batch_requested = Signal(object)
    states_changed = Signal(object)

    def __init__(self, is_offline, parent=None):
        super().__init__(parent)
        self.is_offline = is_offline
        self._watcher = None
        self._lock = threading.Lock()
        self._waiting: list[threading.Event] = []
        self._stopped = False
        self._life = threading.Lock()          # start / stop, from worker threads
        self.check_seconds = 30.0

    @property
    def running(self) -> bool:
        return self._watcher is not None

    def start(self, folders: list[str], rescan_seconds: float) -> None:
        """Watch ``folders`` (replacing a previous watch). Sets up the OS watches: call it
        from a worker thread (seconds for a large library)."""
        from clipcore.watch import Watcher

        with self._life:
            self._stop()
            with self._lock:
                self._stopped = False
            watcher = Watcher(folders, self._on_batch, is_offline=self.is_offline,
                              on_state=self.states_changed.emit, rescan_seconds=rescan_seconds,
                              check_seconds=self.check_seconds)
            watcher.start()
            self._watcher = watcher

    def stop(self) -> None:
        """Stop watching; a batch waiting for its run is let go."""
        with self._life:
            self._stop()

    def _stop(self) -> None:
        watcher, self._watcher = self._watcher, None
        with self._lock:
            self._stopped = True
            waiting, self._waiting = self._waiting, []
        for event in waiting:
            event.set()
        if watcher is not None:
            watcher.stop(timeout=5.0)

    def take_waiting(self) -> list[threading.Event]:
        """The batches waiting for a run (called when an index run starts: it includes them)."""
        with self._lock:
            waiting, self._waiting = self._waiting, []
        return waiting

    def _on_batch(self, batch) -> None:          # the watcher's thread
        done = threading.Event()
        with self._lock:
            if self._stopped:
                return
            self._waiting.append(done)
        self.batch_requested.emit(batch)
        done.wait()
