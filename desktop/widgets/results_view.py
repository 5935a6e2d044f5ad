"""The results grid: a QListView in icon mode with the actions a user expects on a photo."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QListView, QMenu

from ..models.results import HitRole

__all__ = ["ResultsView"]


class ResultsView(QListView):
    """Signals carry :class:`clipcore.search.Hit` objects: ``open_requested(hit)`` (Enter: the
    default application), ``preview_requested(hit)`` (Space or double-click: the viewer),
    ``reveal_requested(hit)``, ``similar_requested(hit)``; lists of hits (the selection, or the
    clicked one): ``copy_requested`` (Ctrl+C or "Copy path"), ``more_like_requested``,
    ``less_like_requested``, ``copy_to_requested``; ``save_list_requested()``. Dragging
    results out gives other apps file URLs. Delete does nothing: results are never deleted."""

    open_requested = Signal(object)
    preview_requested = Signal(object)
    reveal_requested = Signal(object)
    similar_requested = Signal(object)
    copy_requested = Signal(object)
    more_like_requested = Signal(object)
    less_like_requested = Signal(object)
    copy_to_requested = Signal(object)
    save_list_requested = Signal()

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
        self.doubleClicked.connect(lambda index: self._emit(self.preview_requested, index))
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
        current = self.currentIndex()
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and current.isValid():
            self._emit(self.open_requested, current)
            return
        if event.key() == Qt.Key.Key_Space and current.isValid():
            self._emit(self.preview_requested, current)
            return
        super().keyPressEvent(event)

    def build_menu(self, index) -> QMenu:
        """The context menu for the result at ``index``; actions on several photos take the
        selection when ``index`` is part of it."""
        hit = index.data(HitRole)
        chosen = lambda: (self.selected_hits()   # noqa: E731
                          if self.selectionModel().isSelected(index) else [hit])
        n = len(chosen())
        many = f" ({n} photos)" if n > 1 else ""
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.open_requested.emit(hit))
        menu.addAction("Preview", lambda: self.preview_requested.emit(hit))
        menu.addAction("Show in folder", lambda: self.reveal_requested.emit(hit))
        menu.addAction("Copy path", lambda: self.copy_requested.emit(chosen()))
        menu.addAction(f"Copy to folder…{many}", lambda: self.copy_to_requested.emit(chosen()))
        menu.addAction("Save list as…", self.save_list_requested)
        menu.addSeparator()
        menu.addAction("Find similar", lambda: self.similar_requested.emit(hit))
        menu.addAction("More like " + ("these" if n > 1 else "this"),
                       lambda: self.more_like_requested.emit(chosen()))
        menu.addAction("Less like " + ("these" if n > 1 else "this"),
                       lambda: self.less_like_requested.emit(chosen()))
        return menu

    def _context_menu(self, pos) -> None:
        index = self.indexAt(pos)
        if index.isValid():
            self.build_menu(index).popup(self.viewport().mapToGlobal(pos))
