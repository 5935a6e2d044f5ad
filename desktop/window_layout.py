"""The main window's widgets and their layout: library panel | search bar, filters, notices,
the pages (empty state, results grid, model page), the indexing strip; the status bar's labels
and the menus."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QSplitter, QStackedWidget, QVBoxLayout, QWidget

from .menus import build_menus
from .model_state import ModelPageDriver
from .models.folders import FoldersModel
from .models.results import ResultsModel
from .widgets.index_progress import IndexProgress
from .widgets.library_panel import LibraryPanel
from .widgets.model_page import ModelPage
from .widgets.notices import EmptyState, MessageBar
from .widgets.result_filters import ResultFilters
from .widgets.results_view import ResultsView
from .widgets.search_bar import SearchBar

__all__ = ["build_window", "ICON_SIDE"]

ICON_SIDE = 160   # logical px of a result cell's picture


def build_window(w) -> None:
    """Make ``w``'s (a :class:`~desktop.main_window.MainWindow`) widgets, as its attributes,
    and lay them out; wiring them is the window's."""
    w.folders_model = FoldersModel(w)
    w.library_panel = LibraryPanel(w.folders_model)
    w.search_bar = SearchBar()
    w.results_model = ResultsModel(ICON_SIDE, w)
    w.results_view = ResultsView()
    w.results_view.setModel(w.results_model)
    w.results_view.set_icon_side(ICON_SIDE)
    w.empty = EmptyState()
    w.pages = QStackedWidget()
    w.pages.addWidget(w.empty)
    w.pages.addWidget(w.results_view)
    w.model_page = ModelPage()
    w.pages.addWidget(w.model_page)
    w.model_driver = ModelPageDriver(w, w.model_page)
    w.message_bar = MessageBar()
    w.progress = IndexProgress()

    w.filters = ResultFilters()
    w.min_score, w.sort, w.result_info = w.filters.min_score, w.filters.sort, w.filters.info

    right = QWidget()
    column = QVBoxLayout(right)
    column.addWidget(w.search_bar)
    column.addWidget(w.filters)
    column.addWidget(w.message_bar)
    column.addWidget(w.pages, 1)
    column.addWidget(w.progress)
    splitter = QSplitter()
    w.library_panel.setMinimumWidth(220)
    splitter.addWidget(w.library_panel)
    splitter.addWidget(right)
    splitter.setStretchFactor(1, 1)
    splitter.setSizes([260, 920])
    w.setCentralWidget(splitter)

    w.device_label, w.model_label, w.count_label = QLabel(), QLabel(), QLabel()
    for label in (w.device_label, w.model_label, w.count_label):
        w.statusBar().addPermanentWidget(label)
    w.actions = build_menus(w)
    w.add_action, w.paste_action = w.actions.add_folder, w.actions.paste
