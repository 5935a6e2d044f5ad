"""The main window: library panel, search bar, results grid, indexing strip, status bar.

It wires widgets to the :class:`~desktop.controller.Controller` and decides which page a user
sees (results or an empty state explaining what to do); it holds no clipcore logic. Nothing
here imports torch: the first paint does not wait for the model.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QMimeData, QTimer, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QImage, QPixmap
from PySide6.QtWidgets import QMainWindow

from .browse import Browse
from .controller import Controller
from .empty_states import choose_empty_page
from .mime import file_url
from .model_choice import MODEL_ENV
from .search_request import SearchRequest
from .settings import available_devices, save_settings
from .thumbnails import ThumbnailLoader
from .widgets.settings_dialog import SettingsDialog
from .widgets.skipped_dialog import SkippedDialog
from .window_input import WindowInput
from .window_layout import build_window

__all__ = ["MainWindow"]

SEARCHING = "Searching…"


class MainWindow(WindowInput, QMainWindow):
    """``closed`` fires once the window has closed and every worker has stopped."""

    closed = Signal()

    def __init__(self, controller: Controller, thumbnails: ThumbnailLoader, settings_store=None,
                 parent=None):
        super().__init__(parent)
        self.controller, self.loader, self.settings_store = controller, thumbnails, settings_store
        self.setWindowTitle("clipdesk")
        self.setAcceptDrops(True)
        self.resize(1180, 760)
        self._query_image = None          # path or PNG bytes
        self._request: SearchRequest | None = None
        self._search_error = ""
        self._model_state = ("loading", "")
        self._have_folders = False
        self._queued_folders: list[str] = []
        self._closing = self._shut_down = self._dpr_connected = False
        build_window(self)
        self._connect()
        self.browse = Browse(self)   # viewer, chips, date/folder filters, actions, keyboard

    # ------------------------------------------------------------------ wiring
    def _connect(self) -> None:
        c = self.controller
        c.model_state.connect(self._on_model_state)
        c.device_changed.connect(self.device_label.setText)
        c.folders_changed.connect(self._on_folders)
        c.watch_states.connect(self.folders_model.set_watch)
        c.indexing_started.connect(self._on_indexing_started)
        c.index_queued.connect(self._on_index_queued)
        c.index_progress.connect(self.progress.update_progress)
        c.indexing_finished.connect(self._on_indexing_finished)
        c.results_ready.connect(self._on_results)
        c.search_failed.connect(self._on_search_failed)
        c.message.connect(self.show_message)
        c.reindex_notice.connect(self._on_reindex_notice)
        c.skipped_ready.connect(lambda rows: SkippedDialog(rows, self).show())
        c.shutdown_done.connect(self._on_shutdown_done)
        self.loader.ready.connect(self._on_thumbnail)
        self.loader.failed.connect(lambda path: self.results_model.set_thumbnail(path, None))
        self.results_model.thumbnail_wanted.connect(self.loader.request)
        self.results_model.modelReset.connect(self._update_page)

        self.library_panel.add_requested.connect(self.choose_folder)
        self.library_panel.remove_requested.connect(c.remove_folder)
        self.library_panel.skipped_requested.connect(c.request_skipped)
        self.search_bar.query_changed.connect(self.run_search)
        self.search_bar.image_requested.connect(self.choose_image)
        self.search_bar.image_cleared.connect(self._clear_image)
        self.search_bar.paste_requested.connect(self._paste_in_search_bar)
        self.progress.cancel_requested.connect(c.cancel_indexing)
        self.empty.action_triggered.connect(self._on_empty_action)
        self.filters.min_score_changed.connect(self.results_model.set_min_score)
        self.filters.sort_changed.connect(self.results_model.set_sort)
        self.results_view.open_requested.connect(lambda hit: self.open_path(hit.path))
        self.results_view.reveal_requested.connect(
            lambda hit: self.open_path(os.path.dirname(hit.path)))
        self.results_view.similar_requested.connect(self.find_similar)
        self.results_view.copy_requested.connect(self.copy_paths)

    # ------------------------------------------------------------------ searching
    def run_search(self) -> None:
        """Search for the text in the bar and/or the query image (nothing: clear results)."""
        text = self.search_bar.text
        image = self._query_image
        label = " + ".join(x for x in (text and f"“{text}”", image is not None and "the image") if x)
        request = self.browse.complete(SearchRequest(text=text or None, image=image, label=label))
        self._search_error = ""
        if request.empty:
            self._request = None
            self._show_hits([])
            return
        self._request = request
        self.statusBar().showMessage(SEARCHING)
        self.controller.search(request)

    def set_query_image(self, image, name: str | None = None) -> None:
        """Use ``image`` (a path, or PNG bytes) as the query image and search."""
        self._query_image = image
        if isinstance(image, (bytes, bytearray)):
            self.search_bar.chip.show_image(name or "pasted image",
                                            QPixmap.fromImage(QImage.fromData(image)))
        else:
            self.search_bar.chip.show_image(name or os.path.basename(image), None)
            self.loader.request(image, 64)
        self.run_search()

    def _clear_image(self) -> None:
        self._query_image = None
        self.run_search()

    def find_similar(self, hit) -> None:
        """Photos like an indexed result (its stored vector: no model needed)."""
        self.search_bar.edit.clear()
        self._query_image = hit.path
        self.search_bar.chip.show_image(os.path.basename(hit.path), None)
        self.loader.request(hit.path, 64)
        self._request = self.browse.complete(SearchRequest(
            similar_to=hit.id, label=f"photos like {os.path.basename(hit.path)}"))
        self._search_error = ""
        self.controller.search(self._request)

    def _on_results(self, hits, request) -> None:
        if self.statusBar().currentMessage() == SEARCHING:   # keep "Indexing done: ..."
            self.statusBar().clearMessage()
        if self.browse.took_page(hits, request):    # a further page, asked for by scrolling
            return
        self._request = request
        self._show_hits(hits, self.browse.more_possible(hits, request))
        if hits:
            self.results_view.scrollToTop()

    def _on_search_failed(self, message: str) -> None:
        self.statusBar().clearMessage()
        self._search_error = message
        self._show_hits([])

    def _show_hits(self, hits, more: bool = False) -> None:
        """Replace the results; thumbnails still queued for the old ones are dropped (the query
        image's picture is kept)."""
        self.loader.forget(keep=[self._query_image] if isinstance(self._query_image, str) else [])
        self.results_model.set_hits(hits, more)

    def show_photos(self, label: str, hits) -> None:
        """Show ``hits`` that no search made (a visual group, a map selection) in the grid."""
        self.search_bar.edit.blockSignals(True)    # clearing it must not run an empty search
        self.search_bar.edit.clear()
        self.search_bar.edit.blockSignals(False)
        self._request, self._search_error = None, ""
        self._show_hits(hits)
        self.statusBar().showMessage(f"{label}: {len(hits):,} photo{'s' * (len(hits) != 1)}", 8000)

    # ------------------------------------------------------------------ results actions
    def open_path(self, path: str) -> None:
        """Open a file or folder in the system's viewer (a file URL; never a shell)."""
        if not os.path.exists(path):   # an offline drive's photo: still found, not openable
            self.show_message(f"{os.path.basename(path)} cannot be opened: the drive or folder "
                              "holding it is not connected. Connect it and try again.")
            return
        if not QDesktopServices.openUrl(file_url(path)):
            self.show_message(f"No application could open {path}.")

    def copy_paths(self, hits) -> None:
        mime = QMimeData()
        mime.setUrls([file_url(h.path) for h in hits])
        mime.setText("\n".join(h.path for h in hits))
        QGuiApplication.clipboard().setMimeData(mime)
        self.statusBar().showMessage(f"Copied {len(hits)} path{'s' * (len(hits) != 1)}.", 3000)

    def _on_thumbnail(self, path: str, image: QImage) -> None:
        self.results_model.set_thumbnail(path, image)
        if path == self._query_image:
            self.search_bar.chip.set_picture(QPixmap.fromImage(image))

    # ------------------------------------------------------------------ library and model state
    def _on_folders(self, folders, count: int) -> None:
        self._have_folders = bool(folders)
        self.folders_model.set_folders(folders, self.controller.indexing)
        self.count_label.setText(f"{count:,} image{'s' * (count != 1)} indexed")
        self._update_page()

    def _on_index_queued(self, folders) -> None:
        """Folders waiting for the next index run show in the panel at once."""
        self._queued_folders = list(folders)
        self.folders_model.set_queued(folders)
        self._update_page()

    def _on_indexing_started(self, folders) -> None:
        self.folders_model.set_indexing(folders)
        self.progress.start(folders)
        self._update_page()

    def _on_indexing_finished(self, summary) -> None:
        self.progress.hide()
        self.folders_model.set_indexing([])
        if summary is not None and summary.cancelled:
            self.statusBar().showMessage(
                "Indexing cancelled; what was done is kept. Rescan (F5) to resume.", 8000)
        elif summary is not None:
            self.statusBar().showMessage(
                f"Indexing done: {summary.new:,} new, "
                + (f"{summary.restored:,} restored, " if summary.restored else "")
                + f"{summary.changed:,} changed, "
                f"{summary.removed:,} removed, {summary.skipped:,} skipped.", 8000)
        if self._request is not None:   # show what the new photos add to the current search
            self.controller.search(self._request)
        self._update_page()

    def _on_model_state(self, state: str, message: str) -> None:
        self._model_state = (state, message)
        if state == "ready":
            self.model_label.setText(f"Model: {message}")
        elif state == "loading":
            self.model_label.setText(message)
        else:
            self.model_label.setText("Model: not loaded")
            self.device_label.setText("")
        self._update_page()

    def _on_reindex_notice(self, text: str) -> None:
        """Shown while a re-index with another model runs; gone when it ends."""
        if text:
            self._reindex_text = text
            self.show_message(text)
        elif self.message_bar.label.text() == getattr(self, "_reindex_text", None):
            self.message_bar.hide()

    def show_message(self, text: str) -> None:
        """A non-blocking notice above the results."""
        self.message_bar.show_message(text)

    def _update_page(self) -> None:
        """Show the grid, or the empty state that tells the user what to do next."""
        rows, hits = self.results_model.rowCount(), self.results_model.hit_count
        self.result_info.setText(self.browse.result_line(self._request, rows, hits))
        if self.browse.viewing:
            return
        if rows or self.model_driver.wanted:
            self.pages.setCurrentWidget(self.results_view if rows else self.model_page)
            return
        self.pages.setCurrentWidget(self.empty)
        state, message = self._model_state
        page = choose_empty_page(
            model_state=state, model_message=message,
            have_folders=self._have_folders or bool(self._queued_folders),
            indexing=bool(self.controller.indexing), search_error=self._search_error,
            query_label=None if self._request is None else self._request.label,
            hit_count=hits, min_score=self.filters.minimum)
        self.empty.show_state(page.title, page.body, page.action, page.button)

    def _on_empty_action(self, action: str) -> None:
        {"add": self.choose_folder, "settings": self.open_settings,
         "lower": lambda: self.min_score.setValue(0)}[action]()

    def open_settings(self) -> None:
        from clipcore.presets import load_presets

        try:
            presets = {name: p.note for name, p in load_presets().items()}
        except Exception:  # noqa: BLE001 -- an unreadable presets file leaves the current one
            presets = {}
        spec = self.controller.active_spec
        dialog = SettingsDialog(self.controller.settings, presets, self,
                                in_use=spec.full_label if spec is not None else "",
                                override=os.environ.get(MODEL_ENV, ""),
                                devices=available_devices())
        if dialog.exec():
            self.apply_settings(dialog.result_settings())

    def apply_settings(self, new) -> None:
        """Save ``new`` (AppSettings) and let it take effect now."""
        if self.settings_store is not None:
            save_settings(self.settings_store, new)
        self.controller.apply_settings(new)

    # ------------------------------------------------------------------ window events
    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._update_dpr()
        handle = self.windowHandle()
        if handle is not None and not self._dpr_connected:
            handle.screenChanged.connect(self._update_dpr)
            self._dpr_connected = True

    def _update_dpr(self, *_screen) -> None:
        self.results_model.set_device_pixel_ratio(self.devicePixelRatioF())

    def closeEvent(self, event) -> None:
        """Hide at once; cancel indexing (it stops between batches, committed) and close for
        real when every worker has stopped."""
        if self._shut_down:
            event.accept()
            return
        event.ignore()
        self.hide()
        if not self._closing:
            self._closing = True
            self.controller.shutdown()

    def _on_shutdown_done(self) -> None:
        self.loader.shutdown()
        self._shut_down = True
        QTimer.singleShot(0, self._finish_close)

    def _finish_close(self) -> None:
        self.close()
        self.closed.emit()
