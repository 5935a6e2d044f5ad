"""The Explore window (duplicates, groups, map, tags as tabs) and the main window's Explore
menu that opens it. The views get an :class:`ExploreContext` over the main window: its
library and active model, its thumbnail cache, its results grid (groups, map selections),
its search (``tag:NAME``) and its "more like these" examples; the main window's search
results are highlighted on the map."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QTabWidget, QVBoxLayout, QWidget

from .common import ExploreContext
from .duplicates_view import DuplicatesView
from .groups_view import GroupsView
from .map_view import MapView
from .tags_view import TagsView

__all__ = ["ExploreMenu", "ExploreWindow", "build_explore_menu"]

TABS = ("duplicates", "groups", "map", "tags")


def context_of(window) -> ExploreContext:
    """An ExploreContext over a :class:`~desktop.main_window.MainWindow`."""
    controller = window.controller
    spec = controller.active_spec

    def search(text: str) -> None:
        window.search_bar.edit.setText(text)
        window.run_search()
        window.raise_()

    def more_like(hits) -> None:
        window.browse.add_examples(hits, 1.0)
        window.raise_()

    return ExploreContext(controller.library, controller.active_encoder,
                          spec.identity() if spec is not None else None,
                          window.loader.cache, window.show_photos, search, more_like)


class ExploreWindow(QWidget):
    """The four views as tabs; the first visit of a tab starts its cheap job (groups from the
    cache, the PCA map, the tag list); duplicates wait for "Find duplicates"."""

    def __init__(self, context: ExploreContext, parent: QWidget | None = None):
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Explore the library — clipdesk")
        self.resize(1100, 720)
        self.duplicates = DuplicatesView(context)
        self.groups = GroupsView(context)
        self.map = MapView(context)
        self.tags = TagsView(context)
        self.tabs = QTabWidget()
        for view, title in ((self.duplicates, "Duplicates"), (self.groups, "Groups"),
                            (self.map, "Map"), (self.tags, "Tags")):
            self.tabs.addTab(view, title)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        self._visited: set[int] = set()
        self.tabs.currentChanged.connect(self._visit)

    def show_tab(self, name: str) -> None:
        """Show the window at tab ``name`` (one of TABS)."""
        index = TABS.index(name)
        self.show()
        self.raise_()
        self.activateWindow()
        if self.tabs.currentIndex() == index:
            self._visit(index)
        self.tabs.setCurrentIndex(index)

    def _visit(self, index: int) -> None:
        if index in self._visited or not self.isVisible():
            return
        self._visited.add(index)
        start = {1: self.groups.start, 2: self.map.start, 3: self.tags.refresh}.get(index)
        if start is not None:
            start()

    def closeEvent(self, event) -> None:
        """Cancel running jobs and wait for them (they stop between blocks of work)."""
        self.shutdown()
        self._visited.clear()
        super().closeEvent(event)

    def shutdown(self) -> None:
        for view in (self.duplicates, self.groups, self.map, self.tags):
            view.shutdown()


@dataclass
class ExploreMenu:
    """The Explore menu's actions, and the window once opened."""

    duplicates: QAction
    groups: QAction
    map: QAction
    tags: QAction
    window: ExploreWindow | None = None


def build_explore_menu(window: QMainWindow) -> ExploreMenu:
    """Add the Explore menu to ``window`` (a MainWindow); the Explore window is made on first
    use, with the model active then."""
    menu = window.menuBar().addMenu("E&xplore")
    explore = ExploreMenu(*(menu.addAction(text) for text in (
        "&Duplicates…", "Visual &groups…", "&Map of the library…", "&Tags (smart albums)…")))
    explore.map.setShortcut(QKeySequence("Ctrl+M"))

    def open_tab(name: str) -> None:
        if explore.window is None:
            explore.window = ExploreWindow(context_of(window), window)
            explore.window.duplicates.trashed.connect(lambda _p: window.controller.library_changed())
            window.controller.results_ready.connect(
                lambda hits, _request: explore.window.map.highlight([h.id for h in hits]))
            window.controller.shutdown_done.connect(explore.window.close)
        explore.window.show_tab(name)

    for name in TABS:
        getattr(explore, name).triggered.connect(lambda _checked=False, n=name: open_tab(n))
    return explore
