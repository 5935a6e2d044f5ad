"""The results grid: a QListView in icon mode with the actions a user expects on a photo."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QListView, QMenu

from ..models.results import HitRole

__all__ = ["ResultsView"]


class ResultsView(QListView):
    """Signals carry :class:`clipcore.search.Hit` objects: ``open_requested(hit)`` (double-click
    or Enter), ``reveal_requested(hit)``, ``similar_requested(hit)``; ``copy_requested(hits)``
    (Ctrl+C or "Copy path"). Dragging results out gives other apps file URLs."""

    open_requested = Signal(object)
    reveal_requested = Signal(object)
    similar_requested = Signal(object)
    copy_requested = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setAccessibleName("Results")
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.setSpacing(4)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.doubleClicked.connect(lambda index: self._emit(self.open_requested, index))
        copy = QAction("Copy path", self, shortcut=QKeySequence.StandardKey.Copy,
                       shortcutContext=Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(lambda: self.copy_requested.emit(self.selected_hits()))
        self.addAction(copy)

    def set_icon_side(self, side: int) -> None:
        self.setIconSize(QSize(side, side))
        self.setGridSize(QSize(side + 12, side + 12))

    def selected_hits(self) -> list:
        rows = sorted(i.row() for i in self.selectionModel().selectedIndexes())
        return [self.model().index(r).data(HitRole) for r in rows]

    def _emit(self, signal, index) -> None:
        if index.isValid():
            signal.emit(index.data(HitRole))

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self._emit(self.open_requested, self.currentIndex())
            return
        super().keyPressEvent(event)

    def build_menu(self, index) -> QMenu:
        """The context menu for the result at ``index`` (Open, Show in folder, Copy path,
        Find similar)."""
        hit = index.data(HitRole)
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.open_requested.emit(hit))
        menu.addAction("Show in folder", lambda: self.reveal_requested.emit(hit))
        menu.addAction("Copy path", lambda: self.copy_requested.emit(
            self.selected_hits() if self.selectionModel().isSelected(index) else [hit]))
        menu.addSeparator()
        menu.addAction("Find similar", lambda: self.similar_requested.emit(hit))
        return menu

    def _context_menu(self, pos) -> None:
        index = self.indexAt(pos)
        if index.isValid():
            self.build_menu(index).popup(self.viewport().mapToGlobal(pos))
