"""What a user does with results, wired onto the main window: the viewer, example chips ("more
like these" / "less like this"), the date filter, the folder filter, score badges, further
pages while scrolling, acting on results, and the keyboard.

The window builds one :class:`Browse`; it adds its widgets to the window's layout and turns
the user's choices into :class:`~desktop.search_request.SearchRequest` fields. Every search is
clipcore's (``Searcher.search`` with examples, folder, dates, sort, threshold, offset).
"""

from __future__ import annotations

import dataclasses
import os

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import QFileDialog, QMessageBox, QSizePolicy

from .models.results import SORT_DATE
from .result_actions import CopyJob, save_list, show_in_folder
from .widgets.date_filter import DateFilter
from .widgets.query_chips import QueryChips
from .widgets.tile_delegate import TileDelegate
from .widgets.viewer import Viewer

__all__ = ["Browse", "SHOW_SCORES_KEY"]

SHOW_SCORES_KEY = "view/show_scores"


class Browse(QObject):
    """Attach the browsing features to ``window`` (a MainWindow, already built)."""

    def __init__(self, window):
        super().__init__(window)
        self.w = w = window
        self.chips = QueryChips()
        self.dates = DateFilter()
        self.delegate = TileDelegate(w.results_view)
        w.results_view.setItemDelegate(self.delegate)
        self.viewer = Viewer(thumbnail=w.results_model.thumbnail)
        w.pages.addWidget(self.viewer)
        column = w.search_bar.parentWidget().layout()
        column.insertWidget(column.indexOf(w.search_bar) + 1, self.chips)
        w.filters.layout().insertWidget(1, self.dates)
        # the result line gives way (elided by Qt) so the filter row never widens the window
        w.result_info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.copy_jobs: list[CopyJob] = []
        self.removed: list[str] = []     # folders removed with undo, the last one last
        self._build_menu()
        self._connect()
        self._keyboard()

    # ------------------------------------------------------------------ set-up
    def _build_menu(self) -> None:
        w = self.w
        view = w.menuBar().addMenu("&View")
        self.scores_action = view.addAction("Show &scores on results")
        self.scores_action.setCheckable(True)
        store = w.settings_store
        on = store is not None and str(store.value(SHOW_SCORES_KEY, "false")).lower() == "true"
        self.scores_action.setChecked(on)
        self.set_show_scores(on)
        self.scores_action.toggled.connect(self.set_show_scores)
        w.actions.settings.setShortcuts([QKeySequence("Ctrl+,"),
                                         *w.actions.settings.shortcuts()])

    def _connect(self) -> None:
        w, v = self.w, self.w.results_view
        self.chips.changed.connect(self.rerun)
        self.chips.picture_wanted.connect(lambda path: w.loader.request(path, 64))
        w.loader.ready.connect(lambda path, image: self.chips.set_picture(
            path, QPixmap.fromImage(image)))
        self.dates.changed.connect(lambda _r: self.rerun())
        w.filters.sort_changed.connect(lambda _s: self.rerun())
        w.filters.min_score_changed.connect(self._min_score_changed)
        w.results_model.more_wanted.connect(self.load_more)
        v.preview_requested.connect(self.preview)
        v.more_like_requested.connect(lambda hits: self.add_examples(hits, 1.0))
        v.less_like_requested.connect(lambda hits: self.add_examples(hits, -1.0))
        v.copy_to_requested.connect(self.copy_to_folder)
        v.save_list_requested.connect(self.save_list)
        v.reveal_requested.disconnect()
        v.reveal_requested.connect(lambda hit: self.reveal(hit.path))
        self.viewer.closed.connect(self.close_viewer)
        self.viewer.open_requested.connect(lambda hit: w.open_path(hit.path))
        panel = w.library_panel
        panel.view.clicked.connect(lambda index: self.chips.set_folder(panel.selected_path()))
        panel.remove_requested.disconnect()
        panel.remove_requested.connect(self.confirm_remove)
        c = w.controller
        c.subfolders_changed.connect(w.folders_model.set_subfolders)
        c.folder_removed.connect(self._removed)
        c.folder_restored.connect(self._restored)
        w.actions.undo_remove.triggered.connect(self.undo_remove)

    def _keyboard(self) -> None:
        w = self.w
        for keys in ("Ctrl+F", "/"):
            QShortcut(QKeySequence(keys), w, self.focus_search)
        w.search_bar.edit.installEventFilter(self)
        w.results_view.installEventFilter(self)

    # ------------------------------------------------------------------ requests
    def complete(self, request):
        """Fill a SearchRequest from the chips, the filters and the sort order."""
        request.examples = self.chips.examples()
        request.folder = self.chips.folder
        request.dates = self.dates.date_range()
        request.sort = self.w.filters.sort.currentData()
        minimum = self.w.filters.minimum
        request.threshold = minimum if request.sort == SORT_DATE and minimum > 0 else None
        request.offset = 0
        plus = sum(wt >= 0 for _t, wt in request.examples)
        minus = len(request.examples) - plus
        extra = [f"{n} photo{'s' * (n != 1)} {how}" for n, how in
                 ((plus, "liked"), (minus, "not liked")) if n]
        if extra:
            base = request.label.split(" with ")[0]
            request.label = " with ".join(x for x in (base, ", ".join(extra)) if x)
        return request

    def rerun(self) -> None:
        """Search again with the current chips and filters (the text/image query kept)."""
        last = self.w._request
        if last is None or (last.similar_to is None and not last.text and last.image is None):
            self.w.run_search()
            return
        request = self.complete(dataclasses.replace(last))
        self.w._request = request
        self.w.controller.search(request)

    def _min_score_changed(self, _value: float) -> None:
        if self.w.filters.sort.currentData() == SORT_DATE:
            self.rerun()

    @staticmethod
    def more_possible(hits, request) -> bool:
        """A full page: the search may have more (asked for when the grid scrolls to its end)."""
        return request is not None and len(hits) >= request.k

    def took_page(self, hits, request) -> bool:
        """Append a further page's hits (True), or leave a first page to the window (False)."""
        if request is None or not request.offset:
            return False
        self.w.results_model.append_hits(hits, self.more_possible(hits, request))
        self.w._update_page()
        return True

    def result_line(self, request, rows: int, hits: int) -> str:
        """"54 of 200 above 0.25 for “beach”": what the minimum score leaves of what was
        loaded; "200 results for “beach”" without one."""
        if request is None or not hits:
            return ""
        minimum = self.w.filters.minimum
        if rows < hits or minimum > 0:
            return f"{rows:,} of {hits:,} above {minimum:.2f} for {request.label}"
        return f"{hits:,} results for {request.label}"

    def load_more(self, shown: int) -> None:
        request = self.w._request
        if request is not None:
            self.w.controller.search(request.next_page(shown))

    def add_examples(self, hits, weight: float) -> None:
        """"More like these" (+1) / "Less like this" (-1): stored vectors, no model load."""
        for hit in hits:
            self.chips.add(hit.id, os.path.basename(hit.path), weight, hit.path, notify=False)
        self.chips.changed.emit()

    # ------------------------------------------------------------------ viewer
    def preview(self, hit) -> None:
        hits = self.w.results_model.shown_hits
        row = next((i for i, h in enumerate(hits) if h.id == hit.id), 0)
        self.w.pages.setCurrentWidget(self.viewer)
        self.viewer.setFocus()
        self.viewer.show_hits(hits, row)

    def close_viewer(self) -> None:
        w = self.w
        w.pages.setCurrentWidget(w.results_view)
        if 0 <= self.viewer.row < w.results_model.rowCount():
            index = w.results_model.index(self.viewer.row)
            w.results_view.setCurrentIndex(index)
            w.results_view.scrollTo(index)
        w.results_view.setFocus()

    @property
    def viewing(self) -> bool:
        return self.w.pages.currentWidget() is self.viewer

    # ------------------------------------------------------------------ scores
    def set_show_scores(self, on: bool) -> None:
        self.delegate.show_scores = on
        self.w.results_view.viewport().update()
        store = self.w.settings_store
        if store is not None:
            store.setValue(SHOW_SCORES_KEY, bool(on))
            store.sync()

    # ------------------------------------------------------------------ acting on results
    def reveal(self, path: str) -> None:
        if not show_in_folder(path):
            self.w.show_message(f"No file manager could show {path}.")

    def copy_to_folder(self, hits, dest: str | None = None) -> CopyJob | None:
        if dest is None:
            dest = QFileDialog.getExistingDirectory(self.w, "Copy the photos to folder")
            if not dest:
                return None
        job = CopyJob([h.path for h in hits], dest, self.w)
        self.copy_jobs.append(job)
        job.finished.connect(lambda _r, text, j=job: self._copied(j, text))
        job.start()
        return job

    def _copied(self, job: CopyJob, text: str) -> None:
        self.copy_jobs.remove(job)
        self.w.statusBar().showMessage(text, 8000)

    def save_list(self, path: str | None = None) -> str | None:
        try:
            written = save_list(self.w, self.w.results_model.shown_hits, path)
        except OSError as exc:
            self.w.show_message(f"Could not save the list ({exc.strerror or exc}); choose "
                                "another file.")
            return None
        if written:
            self.w.statusBar().showMessage(f"Saved the list to {written}.", 6000)
        return written

    # ------------------------------------------------------------------ folders
    def confirm_remove(self, path: str, ask=None) -> bool:
        """Ask, then forget the folder (its files are never touched); undoable until quit."""
        ask = ask or (lambda: QMessageBox.question(
            self.w, "Remove folder",
            f"Remove {path} from the library?\n\nIts photos will no longer be found. The files "
            "on disk are not touched. You can undo this (Edit menu) until you quit clipdesk.")
            == QMessageBox.StandardButton.Yes)
        if not ask():
            return False
        if self.chips.folder and (self.chips.folder + os.sep).startswith(path.rstrip(os.sep) + os.sep):
            self.chips.set_folder(None)
        self.w.controller.remove_folder(path, undoable=True)
        return True

    def _removed(self, path: str) -> None:
        """A folder was removed with undo: say so, with Undo in the bar and the Edit menu."""
        self.removed = [p for p in self.removed if p != path] + [path]
        self._update_undo()
        self.w.message_bar.show_message(
            f"Removed “{os.path.basename(path)}” from the library; its files are untouched.",
            "Undo", self.undo_remove)
        if self.w._request is not None:
            self.rerun()          # its photos leave the results

    def undo_remove(self) -> None:
        """Bring back the folder removed last (nothing is embedded again)."""
        if self.removed:
            self.w.controller.undo_remove(self.removed.pop())
            self._update_undo()

    def _restored(self, path: str) -> None:
        self.w.message_bar.show_message(f"“{os.path.basename(path)}” is back in the library.")
        if self.w._request is not None:
            self.rerun()

    def _update_undo(self) -> None:
        action = self.w.actions.undo_remove
        action.setEnabled(bool(self.removed))
        action.setText(f"&Undo remove folder “{os.path.basename(self.removed[-1])}”"
                       if self.removed else "&Undo remove folder")

    # ------------------------------------------------------------------ keyboard
    def focus_search(self) -> None:
        if self.viewing:
            self.close_viewer()
        self.w.search_bar.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.w.search_bar.edit.selectAll()

    def clear_step(self) -> None:
        """Esc: first the query text, then (a second Esc) the image chips and query image."""
        bar = self.w.search_bar
        if bar.edit.text():
            bar.edit.clear()
            self.w.run_search()
        elif self.chips.has_images or self.w._query_image is not None:
            self.chips.blockSignals(True)
            self.chips.clear_images()
            self.chips.blockSignals(False)
            if self.w._query_image is not None:
                bar.clear_image()       # runs the search
            else:
                self.w.run_search()

    def eventFilter(self, obj, event) -> bool:
        if event.type() != QEvent.Type.KeyPress:
            return False
        key, w = event.key(), self.w
        if key == Qt.Key.Key_Escape:
            self.clear_step()
            return True
        if obj is w.search_bar.edit and key == Qt.Key.Key_Down and w.results_model.rowCount():
            view = w.results_view
            if not view.currentIndex().isValid():
                view.setCurrentIndex(w.results_model.index(0))
            view.setFocus(Qt.FocusReason.TabFocusReason)
            return True
        return obj is w.results_view and key == Qt.Key.Key_Delete   # never deletes anything
