"""The ``clipdesk`` entry point: QApplication, settings, and the clipcore objects for the window.

Start-up stays fast (window visible in well under 2 s): torch and open_clip are imported by
the worker that loads the model, never here. The model comes from ``$CLIPDESK_MODEL`` (a preset,
an open_clip name, or a model-config JSON) or the preset in the settings; the catalog lives in
``clipcore.config.resolve_data_dir()`` and thumbnails in ``resolve_cache_dir()``.
"""

from __future__ import annotations

import sys
from typing import Callable

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QMessageBox

from clipcore.config import APP_NAME
from clipcore.errors import ClipcoreError

from .controller import Controller, default_spec_resolver
from .main_window import MainWindow
from .settings import default_qsettings, load_settings
from .thumbnails import ThumbnailCache, ThumbnailLoader

__all__ = ["create_window", "main"]


def create_window(settings_store: QSettings | None = None, *, data_dir=None, cache_dir=None,
                  resolve_spec: Callable | None = None) -> MainWindow:
    """Open the library and build the main window (not shown). Starts loading the model and
    resuming indexing in the background.

    ``settings_store`` defaults to the user's QSettings; tests pass an ini-file one.
    ``resolve_spec(AppSettings) -> ModelSpec`` defaults to ``$CLIPDESK_MODEL`` or the preset.
    Raises :class:`~clipcore.errors.CatalogError` when the catalog cannot be opened.
    """
    from clipcore.library import Library

    store = settings_store if settings_store is not None else default_qsettings()
    settings = load_settings(store)
    library = Library.open(data_dir)
    cache = ThumbnailCache(cache_dir)
    controller = Controller(library, settings, resolve_spec=resolve_spec or default_spec_resolver,
                            thumbnails=cache.store, index_options={"thumb_size": cache.side})
    window = MainWindow(controller, ThumbnailLoader(cache), store)
    controller.setParent(window)
    controller.start()
    return window


def main(argv: list[str] | None = None) -> int:
    """Run the desktop app; returns the exit status (1 when the catalog cannot be opened)."""
    app = QApplication.instance() or QApplication(sys.argv if argv is None else argv)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationDisplayName("clipdesk")
    try:
        window = create_window()
    except ClipcoreError as err:
        QMessageBox.critical(None, "clipdesk cannot start", str(err))
        return 1
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
