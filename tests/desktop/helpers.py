"""Small drivers for the window in tests: drops, waits, gating the indexer."""

from __future__ import annotations

import threading
import warnings

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

INDEX_TIMEOUT_MS = 90_000


def file_mime(*paths) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def drop(widget, mime: QMimeData) -> bool:
    """Drag ``mime`` over ``widget`` and drop it; True when the widget accepted the drag."""
    with warnings.catch_warnings():   # PySide6 flags Qt 6's only QDragEnterEvent constructor
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime,
                                Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    return True


def index_folder(qtbot, window, folder) -> object:
    """Drop ``folder`` on the window and wait for indexing to finish; returns the summary."""
    with qtbot.waitSignal(window.controller.indexing_finished, timeout=INDEX_TIMEOUT_MS) as done:
        assert drop(window, file_mime(folder))
    return done.args[0]


def wait_for_results(qtbot, window, timeout: int = 30_000) -> list:
    """Wait until the grid shows results; return its hits in display order."""
    model = window.results_model
    qtbot.waitUntil(lambda: model.rowCount() > 0, timeout=timeout)
    return [model.hit(r) for r in range(model.rowCount())]


def search_text(qtbot, window, text: str) -> list:
    """Type ``text`` in the search bar, run it, and return the hits once the grid shows them."""
    window.search_bar.edit.setText(text)
    window.run_search()
    return wait_for_results(qtbot, window)


class IndexGate:
    """Holds the indexer's decode threads at their first thumbnail until :meth:`release`.

    It wraps the controller's thumbnail callback (called from the indexer's decode threads), so
    a test can act (Cancel, close the window) while a run is certainly in progress and nothing
    of it is committed yet.
    """

    def __init__(self, controller):
        self.reached = threading.Event()
        self._open = threading.Event()
        inner = controller.thumbnails

        def gated(path, image):
            self.reached.set()
            self._open.wait(60)
            return inner(path, image)

        controller.thumbnails = gated

    def release(self) -> None:
        self._open.set()


def close_window(qtbot, window) -> None:
    """Close the window and wait until every worker has stopped."""
    with qtbot.waitSignal(window.closed, timeout=INDEX_TIMEOUT_MS):
        window.close()
