"""The map of the library: clipcore.libmap's 2-D layout drawn by :class:`MapCanvas` (dots when
zoomed out, thumbnails when zoomed in). The instant PCA layout comes first; the UMAP layout is
fitted next in the background (Cancel keeps the PCA one). A search highlights its hits (the
view's own search field, or the main window's results through :meth:`MapView.highlight`);
a Shift + drag rubber band selects photos for "More like these" and "Copy paths"."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QMimeData, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from ..mime import file_url
from ..workers import WorkPool, user_message
from .common import ExploreContext, JobBar, Thumbs, hits_for
from .map_canvas import MapCanvas

__all__ = ["MapView"]


def _layout(library, identity, method: str, cancel, progress):
    """Worker side: (ids, vectors) read once, then the layout."""
    from clipcore.libmap import fit_layout

    ids, vectors = library.all_vectors(identity)
    model = fit_layout(ids, vectors, method, cancel=cancel, progress=progress)
    paths = {r.id: r.path for r in library.images(model.ids.tolist())} if len(ids) <= 20_000 else None
    return model, paths


def _search_ids(context: ExploreContext, text: str):
    from clipcore.search import Searcher

    searcher = Searcher(context.library, context.encoder, model_identity=context.model_identity)
    return [h.id for h in searcher.search(text, k=200)]


class MapView(QWidget):
    """Signals: ``laid_out(method, count)`` after each layout is shown; ``selection_changed(int)``;
    ``highlighted(int)`` (hits on the map)."""

    laid_out = Signal(str, int)
    selection_changed = Signal(int)
    highlighted = Signal(int)

    def __init__(self, context: ExploreContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.ids = np.empty(0, np.int64)
        self.method = ""
        self._paths: dict[int, str] | None = None
        self._row_of: dict[int, int] = {}
        self.hit_rows = np.empty(0, np.int64)
        self.picked_rows: list[int] = []
        self.pool = WorkPool(max_threads=1, parent=self)   # short reads beside the layout job
        self.thumbs = Thumbs(context.cache, 144, self)
        self.thumbs.ready.connect(self._thumbnail)
        self.canvas = MapCanvas()
        self.draw_button = QPushButton("Draw the map")
        self.job = JobBar()
        self.job.status.setText("Every photo placed by what it shows. Scroll to zoom, drag to "
                                "move, Shift + drag to select.")
        self.query = QLineEdit()
        self.query.setPlaceholderText("Highlight a search on the map…")
        self.query.setClearButtonEnabled(True)
        self.more_button = QPushButton("More like these")
        self.copy_button = QPushButton("Copy paths")
        self.fit_button = QPushButton("Whole map")
        self.selection_label = QLabel()
        for b in (self.more_button, self.copy_button):
            b.setEnabled(False)
        top = QHBoxLayout()
        top.addWidget(self.draw_button)
        top.addWidget(self.job, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.query, 1)
        bottom.addWidget(self.fit_button)
        bottom.addWidget(self.selection_label)
        bottom.addWidget(self.more_button)
        bottom.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(bottom)
        self.draw_button.clicked.connect(self.start)
        self.fit_button.clicked.connect(self.canvas.fit_all)
        self.query.returnPressed.connect(self._search)
        self.query.textChanged.connect(lambda t: t or self.highlight([]))
        self.canvas.selected.connect(self._selected)
        self.canvas.thumbs_wanted.connect(self._want_thumbs)
        self.more_button.clicked.connect(self._more_like)
        self.copy_button.clicked.connect(self.copy_selection)
        self._next_method: str | None = None

    # -- layouts ---------------------------------------------------------------------------
    def start(self) -> None:
        """The PCA layout now (fast), then UMAP in the background (for >= 200 photos)."""
        self.draw_button.setEnabled(False)
        self._run("pca", "Placing photos (PCA)…")

    def _run(self, method: str, message: str) -> None:
        library, identity = self.context.library, self.context.model_identity
        self.job.run(lambda cancel, progress: _layout(library, identity, method, cancel, progress),
                     lambda result: self._show(method, result), message)
        self.job.finished.connect(self._job_ended)

    def _job_ended(self, outcome: str) -> None:
        self.job.finished.disconnect(self._job_ended)
        self.draw_button.setEnabled(True)
        if outcome == "cancelled" and self.method:
            self.job.status.setText(f"Map fitting cancelled; showing the {self.method.upper()} "
                                    "layout.")
        next_method, self._next_method = self._next_method, None
        if outcome == "done" and next_method:
            self.draw_button.setEnabled(False)
            self._run(next_method, "Fitting the UMAP layout (the map proper)… Cancel keeps this one.")

    def _show(self, method: str, result) -> None:
        from clipcore.libmap import UMAP_FROM

        model, paths = result
        self.ids, self.method, self._paths = model.ids, model.method, paths
        self._row_of = {int(i): r for r, i in enumerate(self.ids.tolist())}
        self.canvas.set_points(model.coords)
        self.hit_rows = np.empty(0, np.int64)
        self._selected([])
        n = len(self.ids)
        self.job.status.setText(f"{n:,} photos, {model.method.upper()} layout.")
        if method == "pca" and n >= UMAP_FROM:
            self._next_method = "auto"
        self.laid_out.emit(model.method, n)

    # -- search highlights -----------------------------------------------------------------
    def highlight(self, ids) -> None:
        """Mark photos ``ids`` (e.g. a search's hits) on the map."""
        rows = [self._row_of[int(i)] for i in ids if int(i) in self._row_of]
        self.hit_rows = np.asarray(rows, np.int64)
        self.canvas.dots.set_marked(self.hit_rows, np.asarray(self.picked_rows, np.int64))
        self.highlighted.emit(len(rows))

    def _search(self) -> None:
        text = self.query.text().strip()
        if not text or self.context.encoder is None:
            return
        self.pool.run(_search_ids, self.context, text, on_result=self.highlight,
                      on_error=lambda err: self.job.status.setText(user_message(err)))

    # -- selection -------------------------------------------------------------------------
    def _selected(self, rows: list) -> None:
        self.picked_rows = list(rows)
        self.canvas.dots.set_marked(self.hit_rows, np.asarray(rows, np.int64))
        n = len(rows)
        self.selection_label.setText(f"{n:,} selected" if n else "")
        self.more_button.setEnabled(bool(n) and self.context.show_photos is not None)
        self.copy_button.setEnabled(bool(n))
        self.selection_changed.emit(n)

    def selected_ids(self) -> list[int]:
        return [int(self.ids[r]) for r in self.picked_rows]

    def _selected_hits(self, then) -> None:
        self.pool.run(hits_for, self.context.library, self.selected_ids(), on_result=then,
                      on_error=lambda err: self.job.status.setText(user_message(err)))

    def _more_like(self) -> None:
        if self.context.more_like is not None:
            self._selected_hits(self.context.more_like)

    def copy_selection(self) -> None:
        """Copy the selected photos as file URLs + text (paths read in a worker)."""
        def copy(hits) -> None:
            mime = QMimeData()
            mime.setUrls([file_url(h.path) for h in hits])
            mime.setText("\n".join(h.path for h in hits))
            QGuiApplication.clipboard().setMimeData(mime)
            self.job.status.setText(f"Copied {len(hits)} path{'s' * (len(hits) != 1)}.")

        self._selected_hits(copy)

    # -- thumbnails ------------------------------------------------------------------------
    def _want_thumbs(self, rows: list) -> None:
        if self._paths is None:           # a big library: paths of the rows in view only
            library, ids = self.context.library, [int(self.ids[r]) for r in rows]
            self.pool.run(lambda: {r.id: r.path for r in library.images(ids)},
                          on_result=lambda paths: self._thumbs_for(rows, paths))
        else:
            self._thumbs_for(rows, self._paths)

    def _thumbs_for(self, rows: list, paths: dict) -> None:
        self._pending = {}
        self.thumbs.forget()
        for row in rows:
            path = paths.get(int(self.ids[row]))
            if path is None:
                continue
            self._pending.setdefault(path, []).append(row)
            pixmap = self.thumbs.request(path)
            if pixmap is not None:
                self._thumbnail(path, pixmap)

    def _thumbnail(self, path: str, pixmap) -> None:
        for row in getattr(self, "_pending", {}).get(path, []):
            self.canvas.set_thumbnail(row, pixmap)

    def shutdown(self) -> None:
        """Cancel the layout job and wait for it and the short reads (closing)."""
        self._next_method = None
        self.canvas._lod.stop()
        self.thumbs.closed = True
        self.job.wait()
        self.pool.drop_queued()
        self.pool.waitForDone()
        self.thumbs.shutdown()
