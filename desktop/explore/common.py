"""What the exploring views share: their context (library, model, thumbnails, the main window's
results grid), a job bar (progress + Cancel + status line) and thumbnail labels."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from ..thumbnails import ThumbnailCache, ThumbnailLoader
from ..workers import JobWorker

__all__ = ["ExploreContext", "JobBar", "Thumbs", "hits_for", "human_size"]


@dataclass
class ExploreContext:
    """What the views need from the app: ``library`` (a clipcore Library), ``encoder`` (a
    zero-argument callable returning the active model's Encoder, called in worker threads;
    None where no model is loaded), ``model_identity`` (the vectors' model; None: the
    library's), ``cache`` (the thumbnail disk cache), ``show_photos(label, hits)`` (show hits
    in the main window's results grid), ``search(text)`` (run a query there) and
    ``more_like(hits)`` (add them as "more like these" examples to the main window's search)."""

    library: object
    encoder: Callable[[], object] | None = None
    model_identity: str | None = None
    cache: ThumbnailCache | None = None
    show_photos: Callable[[str, list], None] | None = None
    search: Callable[[str], None] | None = None
    more_like: Callable[[list], None] | None = None


def hits_for(library, ids, scores=None) -> list:
    """clipcore.search.Hit objects for catalog ``ids`` in that order (gone ones dropped);
    ``scores`` (same length) default 1.0. Reads the catalog: call it in a worker."""
    from clipcore.search import Hit

    ids = [int(i) for i in ids]
    rows = {r.id: r for r in library.images(ids)}
    scores = [1.0] * len(ids) if scores is None else [float(s) for s in scores]
    return [Hit(r.id, r.path, max(-1.0, min(1.0, s)), r.date_taken, r.width, r.height,
                r.date_source) for i, s in zip(ids, scores) if (r := rows.get(i)) is not None]


def human_size(n: int | None) -> str:
    """Bytes as a person reads them: '3.2 MB', '840 kB'."""
    if not n:
        return "size unknown"
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3))} kB"


class JobBar(QWidget):
    """A progress bar, a Cancel button and a status line for one :class:`JobWorker` at a time.

    :meth:`run` starts ``fn(cancel, progress)``; ``on_done(result)`` is called on success.
    Signals: ``finished(outcome)`` with outcome "done" | "cancelled" | "failed" after the
    callbacks, so tests (and the views) can wait on it."""

    finished = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.worker: JobWorker | None = None
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.bar.setFormat("%p%")
        self.bar.setMinimumWidth(160)
        self.bar.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.hide()
        self.status = QLabel()
        self.status.setWordWrap(True)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.status, 1)
        row.addWidget(self.bar)
        row.addWidget(self.cancel_button)
        self.cancel_button.clicked.connect(self.cancel)
        self._on_done: Callable | None = None
        self._message = ""

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def run(self, fn: Callable, on_done: Callable, message: str = "") -> JobWorker:
        """Start a job (one at a time: a running one is cancelled and forgotten)."""
        self.forget()
        worker = JobWorker(fn)
        worker.progress.connect(self._progress)
        worker.done.connect(lambda result, w=worker: self._end(w, "done", result))
        worker.cancelled.connect(lambda w=worker: self._end(w, "cancelled", None))
        worker.failed.connect(lambda text, w=worker: self._end(w, "failed", text))
        self.worker, self._on_done = worker, on_done
        self.bar.setRange(0, 0)
        self.bar.show()
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self._message = message
        self.status.setText(message)
        worker.start()
        return worker

    def cancel(self) -> None:
        """Ask the job to stop (it stops between blocks of work, having changed nothing)."""
        if self.worker is not None:
            self.worker.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling…")

    def forget(self) -> None:
        """Cancel the running job and ignore whatever it still reports (the view closes)."""
        if self.worker is not None:
            self.worker.cancel()
            self.worker = None
        self.bar.hide()
        self.cancel_button.hide()

    def wait(self, ms: int = -1) -> None:
        """Cancel and wait for every job this bar started that still runs (tests, closing)."""
        worker = self.worker
        self.forget()
        for w in [worker] if worker is not None else []:
            w.wait() if ms < 0 else w.wait(ms)

    def _progress(self, done: int, total: int, phase: str) -> None:
        if self.sender() is not self.worker:
            return
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(min(done, total))
        if phase:     # the stage goes in the status line: inside the bar it was cut off
            self.status.setText(f"{self._message} ({phase})" if self._message else phase.capitalize())

    def _end(self, worker: JobWorker, outcome: str, value) -> None:
        if worker is not self.worker:    # forgotten: its view moved on
            return
        self.worker = None
        self.bar.hide()
        self.cancel_button.hide()
        if outcome == "done":
            self.status.setText("")
            if self._on_done is not None:
                self._on_done(value)
        elif outcome == "cancelled":
            self.status.setText("Cancelled; nothing was changed.")
        else:
            self.status.setText(value)
        self.finished.emit(outcome)


class Thumbs(QObject):
    """Thumbnails for a view: its own loader (so the main window's ``forget()`` never drops
    them) over the shared disk cache. ``ready(path, QPixmap)``."""

    ready = Signal(str, QPixmap)

    def __init__(self, cache: ThumbnailCache | None, side: int, parent: QObject | None = None):
        super().__init__(parent)
        self.side = side
        self.loader = ThumbnailLoader(cache or ThumbnailCache(), self)
        self.loader.ready.connect(self._ready)
        self.pixmaps: dict[str, QPixmap] = {}
        self.closed = False

    def request(self, path: str) -> QPixmap | None:
        """The pixmap if loaded, else None (and it is asked for: ``ready`` follows)."""
        if path in self.pixmaps:
            return self.pixmaps[path]
        if not self.closed and os.path.exists(path):
            self.loader.request(path, self.side)
        return None

    def _ready(self, path: str, image: QImage) -> None:
        pixmap = QPixmap.fromImage(image)
        self.pixmaps[path] = pixmap
        self.ready.emit(path, pixmap)

    def forget(self) -> None:
        self.loader.forget()

    def shutdown(self) -> None:
        """Stop asking for thumbnails and wait for the decodes still running."""
        self.closed = True
        self.loader.shutdown()


def picture_label(side: int) -> QLabel:
    """A square label that shows a thumbnail centred (a grey tile until it arrives)."""
    label = QLabel()
    label.setFixedSize(side, side)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setStyleSheet("background: #e4e4e4; border-radius: 4px; color: #777;")
    return label
