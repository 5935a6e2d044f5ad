"""The library panel: the folders (a tree: each library folder, its sub-folders with photos
under it), Add / Remove, and the "N files skipped" link."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QTreeView, QVBoxLayout,
                               QWidget)

from ..models.folders import FoldersModel, LibraryFolderRole, PathRole

__all__ = ["LibraryPanel"]


class LibraryPanel(QWidget):
    """Signals: ``add_requested()``, ``remove_requested(path)`` (a library folder),
    ``skipped_requested()``. Expanded folders stay expanded, and the selected one selected,
    when the model is refreshed."""

    add_requested = Signal()
    remove_requested = Signal(str)
    skipped_requested = Signal()

    def __init__(self, model: FoldersModel, parent=None):
        super().__init__(parent)
        self.model = model
        title = QLabel("<b>Library folders</b>")
        self.view = QTreeView()
        self.view.setModel(model)
        self.view.setHeaderHidden(True)
        self.view.setWordWrap(True)
        self.view.setAlternatingRowColors(True)
        self._expanded: set[str] = set()
        self._current: str | None = None     # the selected folder, kept across a refresh
        model.modelAboutToBeReset.connect(self._remember_expanded)
        model.modelReset.connect(self._restore_expanded)
        self.add_button = QPushButton("Add folder…", toolTip="Add a folder of photos (Ctrl+O)")
        self.add_button.clicked.connect(self.add_requested)
        self.remove_button = QPushButton(
            "Remove", toolTip="Forget this folder's photos in the catalog; the files stay")
        self.remove_button.clicked.connect(self._remove)
        self.remove_button.setEnabled(False)
        self.skipped_link = QLabel()
        self.skipped_link.setToolTip("Show the files that could not be indexed, and why")
        # reachable with Tab and opened with Enter, like any link
        self.skipped_link.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                                  | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.skipped_link.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.skipped_link.setAccessibleName("Show skipped files")
        self.view.setAccessibleName("Library folders")
        self.add_button.setAccessibleName("Add folder")
        self.remove_button.setAccessibleName("Remove folder")
        self.skipped_link.linkActivated.connect(lambda _l: self.skipped_requested.emit())
        self.skipped_link.hide()
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update_remove())
        model.modelReset.connect(self._update_skipped)

        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(title)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.skipped_link)
        layout.addLayout(buttons)

    def selected_path(self) -> str | None:
        """The library folder or sub-folder selected, or None."""
        index = self.view.currentIndex()
        return index.data(PathRole) if index.isValid() else None

    def _library_folder(self) -> str | None:
        """The library folder selected (a sub-folder selected gives its library folder)."""
        index = self.view.currentIndex()
        while index.isValid() and not index.data(LibraryFolderRole):
            index = index.parent()
        return index.data(PathRole) if index.isValid() else None

    def _remove(self) -> None:
        path = self._library_folder()
        if path:
            self.remove_requested.emit(path)

    def _update_remove(self) -> None:
        index = self.view.currentIndex()
        self.remove_button.setEnabled(bool(index.isValid() and index.data(LibraryFolderRole)))

    def _remember_expanded(self) -> None:
        self._current = self.selected_path()
        self._expanded = set()
        stack = [self.model.index(r) for r in range(self.model.rowCount())]
        while stack:
            index = stack.pop()
            if self.view.isExpanded(index):
                self._expanded.add(index.data(PathRole))
                stack += [self.model.index(r, 0, index) for r in range(self.model.rowCount(index))]

    def _restore_expanded(self) -> None:
        stack = [self.model.index(r) for r in range(self.model.rowCount())]
        while stack:
            index = stack.pop()
            if index.data(PathRole) == self._current:
                self.view.setCurrentIndex(index)
            if index.data(PathRole) in self._expanded:
                self.view.setExpanded(index, True)
                stack += [self.model.index(r, 0, index) for r in range(self.model.rowCount(index))]

    def _update_skipped(self) -> None:
        count = self.model.skipped_total
        self.skipped_link.setText(f'<a href="skipped">{count:,} file{"s" * (count != 1)} '
                                  "skipped</a>")
        self.skipped_link.setVisible(count > 0)
        self._update_remove()
