"""The ``clipdesk`` entry point: command line, single instance, QApplication, quitting.

Start-up stays fast (window visible in well under 2 s): torch and open_clip are imported by
the worker that loads the model, never here. The model comes from ``$CLIPDESK_MODEL`` (a preset,
an open_clip name, or a model-config JSON) or the preset in the settings; the catalog lives in
``clipcore.config.resolve_data_dir()`` and thumbnails in ``resolve_cache_dir()``.

Quitting: Ctrl+Q, File > Quit, the close button (WM_DELETE_WINDOW), SIGTERM and Ctrl+C in the
terminal all close the window; it cancels indexing (the indexer stops after its current
batch, committed), waits for the workers, and the process exits 0. A second SIGTERM / Ctrl+C
exits at once (what was committed stays: every write is a transaction).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from typing import Callable

from PySide6.QtCore import QSettings, QSocketNotifier, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from clipcore.config import APP_NAME
from clipcore.errors import ClipcoreError

from .controller import Controller
from .model_choice import default_spec_resolver
from .main_window import MainWindow
from .settings import default_qsettings, load_settings
from .thumbnails import ThumbnailCache, ThumbnailLoader

__all__ = ["create_window", "main", "build_parser"]

EXIT_USAGE = 2
SHUTDOWN_WAIT_MS = 1000   # how long quitting waits for a model load or a search to finish


def create_window(settings_store: QSettings | None = None, *, data_dir=None, cache_dir=None,
                  resolve_spec: Callable | None = None) -> MainWindow:
    """Open the library and build the main window (not shown). Starts loading the model and
    resuming indexing in the background.

    ``settings_store`` defaults to the user's QSettings; tests pass an ini-file one.
    ``resolve_spec(AppSettings) -> ModelSpec`` defaults to ``$CLIPDESK_MODEL`` or the preset.
    Raises :class:`~clipcore.errors.CatalogError` when the catalog cannot be opened.
    """
    from clipcore.library import Library

    from .integration import app_icon

    store = settings_store if settings_store is not None else default_qsettings()
    settings = load_settings(store)
    library = Library.open(data_dir)
    cache = ThumbnailCache(cache_dir)
    controller = Controller(library, settings, resolve_spec=resolve_spec or default_spec_resolver,
                            thumbnails=cache.store, index_options={"thumb_size": cache.side})
    window = MainWindow(controller, ThumbnailLoader(cache), store)
    window.setWindowIcon(app_icon())
    controller.setParent(window)
    controller.start()
    return window


def build_parser() -> argparse.ArgumentParser:
    """``clipdesk [FOLDER...]``, ``--help``, ``--version``, ``--install-desktop-entry``."""
    parser = argparse.ArgumentParser(
        prog="clipdesk",
        description="Find photos in your own library by what they show (OpenCLIP + HNSW, "
                    "offline). Starts the desktop app; FOLDERs are added to the library. If "
                    "clipdesk is already running, its window comes to the front instead.",
        epilog="Environment: CLIPDESK_DATA_DIR (library), CLIPDESK_CACHE_DIR (thumbnails), "
               "CLIPDESK_MODEL (a model preset that overrides the settings). The command-line "
               "tool is `clipcore`.")
    parser.add_argument("folders", nargs="*", metavar="FOLDER", help="folders of photos to add")
    parser.add_argument("--version", action="version", version=f"clipdesk {_version()}")
    parser.add_argument("--install-desktop-entry", action="store_true",
                        help="add clipdesk to the desktop's applications menu (this user) and exit")
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("clipdesk")
    except PackageNotFoundError:
        return "(not installed)"


def main(argv: list[str] | None = None) -> int:
    """Run the desktop app; returns the exit status (0 after quitting; 1 when the catalog
    cannot be opened; 2 for bad usage). Unknown ``-options`` are left to Qt (e.g. -platform)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args, qt_args = build_parser().parse_known_args(argv)
    except SystemExit as exc:   # --help, --version (0) or bad usage (2): no window
        return int(exc.code or 0)
    if args.install_desktop_entry:
        return _install_entry()
    folders = [os.path.abspath(os.path.expanduser(f)) for f in args.folders]
    for folder in folders:
        if not os.path.isdir(folder):
            print(f"clipdesk: error: {folder} is not a folder; give folders of photos.",
                  file=sys.stderr)
            return EXIT_USAGE

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else APP_NAME,
                                                   *qt_args])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationDisplayName("clipdesk")
    app.setDesktopFileName("clipdesk")

    from clipcore.config import resolve_data_dir

    from .single_instance import InstanceServer, send_to_running, server_name

    try:
        name = server_name(resolve_data_dir())
        if send_to_running(name, folders):
            print("clipdesk is already running; its window was brought to the front"
                  + (" and given the folders." if folders else "."), file=sys.stderr)
            return 0
        instance = InstanceServer(name)
        window = create_window()
    except ClipcoreError as err:
        QMessageBox.critical(None, "clipdesk cannot start", str(err))
        return 1
    instance.setParent(window)
    instance.activated.connect(lambda more: _bring_to_front(window, more))
    for folder in folders:
        window.controller.add_folder(folder)
    window.controller.shutdown_wait_ms = SHUTDOWN_WAIT_MS
    app.setQuitOnLastWindowClosed(False)   # the window hides first, then closes when idle
    window.closed.connect(instance.close)
    window.closed.connect(app.quit)
    stop_signals = _close_on_signals(window)
    window.show()
    status = app.exec()
    stop_signals()
    return _leave(status)


def _leave(status: int) -> int:
    """After the event loop the library is closed, indexing stopped (committed) and the
    settings synced, so the process ends here: a model still loading (importing torch can take
    many seconds) or a search still running writes nothing, and the interpreter's own teardown
    (torch, Qt's thread pools) took 20 s on a loaded machine."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _bring_to_front(window: MainWindow, folders: list[str]) -> None:
    window.showNormal()
    window.raise_()
    window.activateWindow()
    for folder in folders:
        window.controller.add_folder(folder)


def _close_on_signals(window: MainWindow) -> Callable[[], None]:
    """SIGTERM / SIGINT (Ctrl+C) close the window as the close button does; a second one
    exits at once. Python runs signal handlers only between bytecodes, and Qt's event loop is
    C++, so the signal also writes a byte to a socket that a QSocketNotifier watches (the
    wake-up fd pattern). Returns a function that restores the previous handlers."""
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, window)
    notifier.activated.connect(lambda *_: _drain(reader))
    received: list[int] = []

    def handle(signum, _frame) -> None:
        if received:   # the second one: no more waiting
            os._exit(128 + signum)
        received.append(signum)
        QTimer.singleShot(0, window.close)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    old_fd = signal.set_wakeup_fd(writer.fileno())

    def restore() -> None:
        signal.set_wakeup_fd(old_fd)
        for sig, old in previous.items():
            signal.signal(sig, old)
        notifier.setEnabled(False)
        reader.close()
        writer.close()

    return restore


def _drain(reader: socket.socket) -> None:
    try:
        reader.recv(64)   # (the Python-level handler runs now, between these bytecodes)
    except OSError:
        pass


def _install_entry() -> int:
    from .integration import install_desktop_entry

    try:
        path = install_desktop_entry()
    except OSError as exc:
        print(f"clipdesk: error: the launcher could not be written ({exc.strerror or exc}); "
              "copy resources/clipdesk.desktop to ~/.local/share/applications yourself.",
              file=sys.stderr)
        return 1
    print(f"Added clipdesk to the applications menu: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
