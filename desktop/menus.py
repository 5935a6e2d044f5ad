"""The window's menu bar (File, Edit) and the file filter of "Search by image…".

New window actions go here, so the window module keeps to layout and wiring. Actions call the
window's public methods; nothing here holds state.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow

__all__ = ["MenuActions", "build_menus", "image_file_filter"]


@dataclass(frozen=True)
class MenuActions:
    """The menu actions a window or a test may need to reach."""

    add_folder: QAction
    search_by_image: QAction
    rescan: QAction
    settings: QAction
    quit: QAction
    paste: QAction
    undo_remove: QAction    # "Undo remove folder “NAME”" (enabled while one can be undone)


def image_file_filter() -> str:
    """Filter for the "Search by image…" file dialog: every extension the scanner indexes
    (:data:`clipcore.imaging.IMAGE_EXTENSIONS`, e.g. ``*.jpe *.jfif *.hif *.avif`` where
    pillow-heif / AVIF support is installed), then "All files"."""
    from clipcore.imaging import IMAGE_EXTENSIONS

    patterns = " ".join(f"*{ext}" for ext in sorted(IMAGE_EXTENSIONS))
    return f"Images ({patterns});;All files (*)"


def build_menus(window: QMainWindow) -> MenuActions:
    """Fill ``window``'s menu bar; ``window`` is a :class:`~desktop.main_window.MainWindow`."""
    file_menu = window.menuBar().addMenu("&File")
    add_folder = file_menu.addAction("&Add folder…", window.choose_folder)
    add_folder.setShortcut(QKeySequence.StandardKey.Open)
    search_by_image = file_menu.addAction("Search by &image…", window.choose_image)
    rescan = file_menu.addAction("&Rescan folders", window.controller.index)
    rescan.setShortcut(QKeySequence.StandardKey.Refresh)
    file_menu.addSeparator()
    settings = file_menu.addAction("&Settings…", window.open_settings)
    settings.setShortcut(QKeySequence.StandardKey.Preferences)
    file_menu.addSeparator()
    quit_action = file_menu.addAction("&Quit", window.close)
    # Ctrl+Q everywhere: the platform's Quit binding is empty on Windows and some platforms.
    quit_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Quit)
    quit_action.setShortcuts(quit_keys + [k for k in [QKeySequence("Ctrl+Q")] if k not in quit_keys])
    quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
    edit_menu = window.menuBar().addMenu("&Edit")
    paste = QAction("&Paste image", window, shortcut=QKeySequence.StandardKey.Paste)
    paste.triggered.connect(window.paste)
    undo_remove = QAction("&Undo remove folder", window, shortcut=QKeySequence.StandardKey.Undo,
                          enabled=False)
    edit_menu.insertAction(paste, undo_remove)
    edit_menu.insertSeparator(paste)
    edit_menu.addAction(paste)
    from .explore.window import build_explore_menu

    window.explore = build_explore_menu(window)     # Explore: duplicates, groups, map, tags
    return MenuActions(add_folder, search_by_image, rescan, settings, quit_action, paste,
                       undo_remove)
