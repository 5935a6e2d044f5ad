"""The tag editor: a tag defined by words (and optional example photos), a threshold slider
with a live preview of what would be tagged (how many photos, and the photos just above and
just below the threshold, where a wrong threshold shows first), and Save (clipcore.tags.define_tag
in a worker: stored in the catalog, every photo scored).

Scoring for the preview runs once per change of words or examples (a worker: encode the words,
score every photo, clipcore.tags.tag_scores: ~1 s for 100,000 photos); moving the slider then
only counts scores above it (numpy, instant) and fetches the paths of the few photos shown."""

from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QListView, QListWidget, QListWidgetItem,
                               QPushButton, QSlider, QVBoxLayout, QWidget)

from ..workers import WorkPool, user_message
from .common import ExploreContext, JobBar, Thumbs

__all__ = ["TagEditor"]

STEP = 10          # slider steps per unit of calibrated score z
SHOWN_ABOVE, SHOWN_BELOW = 18, 9
THUMB = 72


def _score(context: ExploreContext, words: str, examples: list[str], cancel, progress):
    """Worker side: (ids (N,) int64, z (N,) float32) of every photo for these words/examples."""
    from clipcore.imaging import decode_image
    from clipcore.jobs import check_cancel, report
    from clipcore.tags import tag_scores, tag_vector
    from clipcore.vocabulary import label_embeddings, load_labels

    report(progress, 0, 3, "loading the model")
    encoder = context.encoder()
    report(progress, 1, 3, "reading the words")
    text = encoder.encode_texts([words])[0]
    shown = None
    if examples:
        shown = encoder.encode_images([decode_image(p, min_side=encoder.image_size).image
                                       for p in examples])
    labels = label_embeddings(encoder, load_labels())
    check_cancel(cancel)
    report(progress, 2, 3, "scoring photos")
    ids, vectors = context.library.all_vectors(context.model_identity or encoder.identity)
    if not len(ids):
        return ids, np.empty(0, np.float32)
    z = tag_scores(vectors, tag_vector(text, shown), labels, cancel)[:, 0]
    order = np.argsort(-z, kind="stable")
    return ids[order], z[order]


def _save(context: ExploreContext, tag, cancel, progress):
    from clipcore.tags import define_tag

    return define_tag(context.library, context.encoder(), tag, cancel=cancel)


class TagEditor(QDialog):
    """Signals: ``previewed(int)`` photos that would be tagged, after each preview update;
    ``saved(str, int)`` (name, photos tagged) once the tag is stored."""

    previewed = Signal(int)
    saved = Signal(str, int)

    def __init__(self, context: ExploreContext, tag=None, parent: QWidget | None = None):
        from clipcore.tags import DEFAULT_THRESHOLD

        super().__init__(parent)
        self.context = context
        self.setWindowTitle("Edit tag" if tag is not None else "New tag")
        self.ids = np.empty(0, np.int64)
        self.z = np.empty(0, np.float32)
        self.pool = WorkPool(max_threads=1, parent=self)
        self.thumbs = Thumbs(context.cache, THUMB * 2, self)
        self.thumbs.ready.connect(self._thumbnail)
        self._items: dict[str, list[QListWidgetItem]] = {}

        self.name = QLineEdit(tag.name if tag else "")
        self.name.setPlaceholderText("receipts")
        self.words = QLineEdit(tag.words if tag else "")
        self.words.setPlaceholderText("a photo of a receipt")
        self.examples = QListWidget()
        self.examples.setMaximumHeight(70)
        for path in (tag.examples if tag else []):
            self.examples.addItem(path)
        add_example = QPushButton("Add example photos…")
        remove_example = QPushButton("Remove")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(-2 * STEP, 8 * STEP)
        self.slider.setValue(round((tag.threshold if tag else DEFAULT_THRESHOLD) * STEP))
        self.slider.setAccessibleName("Threshold")
        self.threshold_label = QLabel()
        self.count = QLabel("Type the words the photos should match.")
        self.above = self._strip("Would be tagged: the weakest matches")
        self.below = self._strip("Would not be tagged: the closest misses")
        self.job = JobBar()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)

        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Words", self.words)
        example_row = QHBoxLayout()
        example_row.addWidget(self.examples, 1)
        side = QVBoxLayout()
        side.addWidget(add_example)
        side.addWidget(remove_example)
        example_row.addLayout(side)
        form.addRow("Examples", example_row)
        slider_row = QHBoxLayout()
        slider_row.addWidget(self.slider, 1)
        slider_row.addWidget(self.threshold_label)
        form.addRow("Threshold", slider_row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.count)
        for label, strip in (self.above, self.below):
            layout.addWidget(label)
            layout.addWidget(strip)
        layout.addWidget(self.job)
        layout.addWidget(buttons)
        self.resize(820, 560)

        self._rescore = QTimer(self, singleShot=True, interval=400)
        self._rescore.timeout.connect(self.rescore)
        self.words.textChanged.connect(lambda _t: self._rescore.start())
        self.slider.valueChanged.connect(self._threshold_moved)
        add_example.clicked.connect(self._add_examples)
        remove_example.clicked.connect(self._remove_example)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        self._threshold_moved()
        if self.words.text().strip():
            self._rescore.start()

    def _strip(self, title: str) -> tuple[QLabel, QListWidget]:
        strip = QListWidget()
        strip.setViewMode(QListView.ViewMode.IconMode)
        strip.setIconSize(QSize(THUMB, THUMB))
        strip.setFlow(QListView.Flow.LeftToRight)
        strip.setWrapping(False)
        strip.setMovement(QListView.Movement.Static)
        strip.setGridSize(QSize(THUMB + 24, THUMB + 28))
        strip.setFixedHeight(THUMB + 48)
        return QLabel(title), strip

    # -- scoring -----------------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        return self.slider.value() / STEP

    def example_paths(self) -> list[str]:
        return [self.examples.item(i).text() for i in range(self.examples.count())]

    def _add_examples(self, paths: list[str] | None = None) -> None:
        if not paths:
            from ..menus import image_file_filter

            paths, _ = QFileDialog.getOpenFileNames(self, "Example photos", "", image_file_filter())
        for path in paths or []:
            self.examples.addItem(os.path.abspath(path))
        if paths:
            self._rescore.start()

    def _remove_example(self) -> None:
        for item in self.examples.selectedItems():
            self.examples.takeItem(self.examples.row(item))
        self._rescore.start()

    def rescore(self) -> None:
        """Score every photo for the current words and examples (a worker)."""
        words = self.words.text().strip()
        if not words or self.context.encoder is None:
            return
        context, examples = self.context, self.example_paths()
        self.job.run(lambda cancel, progress: _score(context, words, examples, cancel, progress),
                     self._scored, "Scoring photos…")

    def _scored(self, result) -> None:
        self.ids, self.z = result
        self._threshold_moved()

    def _threshold_moved(self, *_value) -> None:
        self.threshold_label.setText(f"{self.threshold:.1f}")
        if not len(self.z):
            return
        n = int(np.searchsorted(-self.z, -self.threshold, side="right"))   # z sorted descending
        self.count.setText(f"<b>{n:,}</b> of {len(self.z):,} photos would get this tag.")
        above = self.ids[max(0, n - SHOWN_ABOVE):n][::-1].tolist()
        below = self.ids[n:n + SHOWN_BELOW].tolist()
        self.pool.run(self._paths, above + below,
                      on_result=lambda paths: self._show(above, below, paths, n),
                      on_error=lambda err: self.job.status.setText(user_message(err)))

    def _paths(self, ids: list[int]) -> dict[int, str]:
        return {r.id: r.path for r in self.context.library.images(ids)}

    def _show(self, above: list[int], below: list[int], paths: dict, n: int) -> None:
        self._items = {}
        self.thumbs.forget()
        for (_label, strip), ids in ((self.above, above), (self.below, below)):
            strip.clear()
            for image_id in ids:
                path = paths.get(image_id)
                if path is None:
                    continue
                item = QListWidgetItem(os.path.basename(path))
                item.setToolTip(path)
                blank = QPixmap(THUMB, THUMB)
                blank.fill(QColor("#e4e4e4"))
                item.setIcon(QIcon(blank))
                strip.addItem(item)
                self._items.setdefault(path, []).append(item)
                pixmap = self.thumbs.request(path)
                if pixmap is not None:
                    self._thumbnail(path, pixmap)
        self.previewed.emit(n)

    def _thumbnail(self, path: str, pixmap) -> None:
        for item in self._items.get(path, []):
            item.setIcon(QIcon(pixmap.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation)))

    def thumbnails_shown(self) -> bool:
        """True once every previewed photo shows its thumbnail (tests, screenshots)."""
        return all(p in self.thumbs.pixmaps for p in self._items)

    # -- saving ------------------------------------------------------------------------------
    def save(self) -> None:
        """Store the tag (a worker); the dialog closes when it is saved."""
        from clipcore.errors import ClipcoreError
        from clipcore.tags import TagDef, check_name

        name, words = self.name.text().strip(), self.words.text().strip()
        try:
            check_name(name)
            if not words:
                raise ClipcoreError("Type the words the photos should match, e.g. 'a receipt'.")
        except ClipcoreError as err:
            self.job.status.setText(str(err))
            return
        tag, context = TagDef(name, words, self.threshold, self.example_paths()), self.context
        self.save_button.setEnabled(False)
        self.job.run(lambda cancel, progress: _save(context, tag, cancel, progress),
                     lambda count: self._saved(name, count), f"Saving the tag '{name}'…")
        self.job.finished.connect(lambda _o: self.save_button.setEnabled(True))

    def _saved(self, name: str, count: int) -> None:
        self.saved.emit(name, count)
        self.accept()

    def done(self, result: int) -> None:   # accept / reject / close: stop the workers first
        self._rescore.stop()
        self.job.wait()
        self.thumbs.closed = True
        self.pool.drop_queued()
        self.pool.waitForDone()
        self.thumbs.shutdown()
        super().done(result)
