"""Acting on results: show a photo in the file manager, copy photos to a folder, save the list.

The file work is clipcore's (:mod:`clipcore.export`: copies never move, clashing names get a
suffix); this module asks where, runs it in a worker with progress and Cancel, and reports.
"""

from __future__ import annotations

import os
import threading

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtWidgets import QFileDialog, QProgressDialog, QWidget

from .mime import file_url
from .workers import WorkPool, user_message

__all__ = ["show_in_folder", "CopyJob", "save_list"]

FILE_MANAGER = ("org.freedesktop.FileManager1", "/org/freedesktop/FileManager1",
                "org.freedesktop.FileManager1")


def show_in_folder(path: str, open_url=None) -> str:
    """Select ``path`` in the file manager: the freedesktop ``FileManager1.ShowItems`` D-Bus
    call on the session bus where a file manager offers it (Nautilus, Dolphin, Nemo, Caja,
    Thunar...), else open the containing folder (``open_url(QUrl) -> bool``, default
    QDesktopServices.openUrl). Returns "dbus", "folder" or "" (nothing could show it)."""
    try:
        from PySide6.QtDBus import QDBusConnection, QDBusInterface

        bus = QDBusConnection.sessionBus()
        if bus.isConnected():
            iface = QDBusInterface(*FILE_MANAGER, bus)
            if iface.isValid():
                reply = iface.call("ShowItems", [QUrl.fromLocalFile(path).toString()], "")
                if not reply.errorName():
                    return "dbus"
    except ImportError:   # QtDBus is not built on Windows / macOS
        pass
    if open_url is None:
        from PySide6.QtGui import QDesktopServices

        open_url = QDesktopServices.openUrl
    return "folder" if open_url(file_url(os.path.dirname(path))) else ""


class CopyJob(QObject):
    """Copy ``paths`` to ``dest`` in a worker (clipcore.export.copy_files), with a progress
    dialog and Cancel when there are more than a few. Signals: ``progress(done, total)``
    (GUI thread), ``finished(CopyResult | None, message)``: None with a message on an error."""

    progress = Signal(int, int)
    finished = Signal(object, str)

    def __init__(self, paths: list[str], dest: str, parent: QWidget | None = None,
                 dialog_from: int = 4):
        super().__init__(parent)
        self.paths, self.dest = list(paths), dest
        self.cancel = threading.Event()
        self.pool = WorkPool(max_threads=1, parent=self)
        self.dialog = None
        if len(self.paths) >= dialog_from and parent is not None:
            self.dialog = QProgressDialog(f"Copying {len(self.paths)} photos to {dest}…",
                                          "Cancel", 0, len(self.paths), parent)
            self.dialog.setWindowModality(Qt.WindowModality.WindowModal)
            self.dialog.setMinimumDuration(300)
            self.dialog.canceled.connect(self.cancel.set)
            self.progress.connect(lambda done, _t: self.dialog.setValue(done))

    def start(self) -> None:
        from clipcore.export import copy_files

        def run():
            return copy_files(self.paths, self.dest, cancel=self.cancel,
                              progress=lambda done, total, _p: self.progress.emit(done, total))

        self.pool.run(run, on_result=self._done,
                      on_error=lambda err: self._finish(None, user_message(err)))

    def _done(self, result) -> None:
        n, dest = len(result.copied), self.dest
        text = (f"Copied {n} photo{'s' * (n != 1)} to {dest}"
                + (" (cancelled)" if result.cancelled else "")
                + (f"; {len(result.failed)} could not be read" if result.failed else "")
                + ". The originals were not touched.")
        self._finish(result, text)

    def _finish(self, result, message: str) -> None:
        if self.dialog is not None:
            self.dialog.reset()
        self.finished.emit(result, message)


def save_list(parent: QWidget, hits, path: str | None = None) -> str | None:
    """Write ``hits`` as CSV (path, score, date_taken, id) to ``path`` (asked for when None).
    Returns the file written, or None when the user cancelled. Raises OSError."""
    from clipcore.export import write_csv

    if path is None:
        path, _ = QFileDialog.getSaveFileName(parent, "Save list as", "results.csv",
                                              "CSV files (*.csv);;All files (*)")
        if not path:
            return None
    with open(path, "w", encoding="utf-8", newline="") as f:
        write_csv(hits, f)
    return path
