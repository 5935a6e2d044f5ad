"""What a user hands the main window: a folder or an image chosen in a dialog, dropped, or
pasted. Folders are added to the library; an image becomes the query image.

:class:`WindowInput` is a mixin of :class:`~desktop.main_window.MainWindow` (its drag and drop
events, Ctrl+V, the "Add folder…" and "Search by image…" dialogs).
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog

from .integration import pictures_folder
from .menus import image_file_filter
from .mime import dropped_folders, dropped_image

__all__ = ["WindowInput"]


class WindowInput:
    """Dialogs, drops and paste for the MainWindow."""

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a folder of photos", pictures_folder())
        if path:
            self.controller.add_folder(path)

    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Search by image", "", image_file_filter())
        if path:
            self.set_query_image(path)

    def dragEnterEvent(self, event) -> None:
        mime = event.mimeData()
        if dropped_folders(mime) or dropped_image(mime) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        if self.handle_mime(event.mimeData()):
            event.acceptProposedAction()

    def handle_mime(self, mime: QMimeData) -> bool:
        """Folders are added to the library; an image becomes the query image. True if used."""
        folders = dropped_folders(mime)
        for folder in folders:
            self.controller.add_folder(folder)
        if folders:
            return True
        image = dropped_image(mime)
        if image is not None:
            self.set_query_image(image)
            return True
        return False

    def paste(self) -> bool:
        """Ctrl+V outside the search box: an image or image file on the clipboard."""
        if self.handle_mime(QGuiApplication.clipboard().mimeData()):
            return True
        self.statusBar().showMessage("The clipboard holds no image or image file.", 4000)
        return False

    def _paste_in_search_bar(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if dropped_image(mime) is not None or dropped_folders(mime):
            self.handle_mime(mime)
        else:
            self.search_bar.paste_text()
