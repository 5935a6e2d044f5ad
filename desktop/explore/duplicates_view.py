"""Duplicate review: find near-duplicate and identical photos in the background (progress,
Cancel), show each group side by side (thumbnail, pixel size, file size, date, folder) with the
suggested keeper marked (largest, then oldest: clipcore.duplicates.keep_order), and move the
others to the Trash after a confirmation (send2trash through clipcore.duplicates.trash_others:
never a permanent delete; the catalog forgets them)."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QDoubleSpinBox, QFrame, QHBoxLayout, QLabel,
                               QListWidget, QMessageBox, QPushButton, QRadioButton,
                               QScrollArea, QSplitter, QVBoxLayout, QWidget)

from .common import ExploreContext, JobBar, Thumbs, human_size, picture_label

__all__ = ["DuplicatesView"]

THUMB = 200
MAX_SHOWN = 500     # groups listed (the largest first); the CLI lists them all


def _find(library, threshold: float, identity, cancel, progress):
    """Worker side: the groups and the catalog row of every photo in them."""
    from clipcore.duplicates import find_duplicates

    groups = find_duplicates(library, threshold, model_identity=identity, cancel=cancel,
                             progress=progress)
    shown = groups[:MAX_SHOWN]
    rows = {r.path: r for r in library.images([i for g in shown for i in g.ids])}
    return groups, rows


def _date(row) -> str:
    if row.date_taken:
        kind = "file date " if row.date_source == "file" else "taken "
        return kind + row.date_taken.replace("T", " ")[:16]
    import datetime

    when = datetime.datetime.fromtimestamp(row.mtime_ns / 1e9) if row.mtime_ns else None
    return "file date " + when.strftime("%Y-%m-%d %H:%M") if when else "date unknown"


class DuplicatesView(QWidget):
    """Signals: ``found(int)`` (groups, after a search), ``trashed(list[str])`` (paths moved to
    the Trash; the catalog already forgot them)."""

    found = Signal(int)
    trashed = Signal(list)

    def __init__(self, context: ExploreContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.groups: list = []
        self.rows: dict = {}
        self.thumbs = Thumbs(context.cache, THUMB, self)
        self.thumbs.ready.connect(self._thumbnail)
        self._pictures: dict[str, QLabel] = {}

        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.5, 1.0)
        self.threshold.setSingleStep(0.01)
        from clipcore.duplicates import DEFAULT_THRESHOLD

        self.threshold.setValue(DEFAULT_THRESHOLD)
        self.threshold.setToolTip("How alike two photos' embeddings must be to be compared "
                                  "(cosine similarity); lower looks wider. Candidates are "
                                  "confirmed by perceptual hashes.")
        self.find_button = QPushButton("Find duplicates")
        self.job = JobBar()
        self.job.status.setText("Finds copies of the same photo: resized, recompressed, "
                                "slightly cropped or edited, and identical files.")
        top = QHBoxLayout()
        top.addWidget(QLabel("Similarity"))
        top.addWidget(self.threshold)
        top.addWidget(self.find_button)
        top.addWidget(self.job, 1)

        self.list = QListWidget()
        self.list.setAccessibleName("Groups of duplicates")
        self.list.setSpacing(3)
        self.cards = QWidget()
        self.cards_layout = QHBoxLayout(self.cards)
        self.cards_layout.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.cards)
        self.trash_button = QPushButton("Move the others to Trash…")
        self.trash_button.setEnabled(False)
        self.hint = QLabel()
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.hint)
        column.addWidget(scroll, 1)
        column.addWidget(self.trash_button, alignment=Qt.AlignmentFlag.AlignRight)
        split = QSplitter()
        split.addWidget(self.list)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([240, 760])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)

        self.keep = QButtonGroup(self)
        self.find_button.clicked.connect(self.start)
        self.list.currentRowChanged.connect(self._show_group)
        self.trash_button.clicked.connect(self.trash_others)
        self.job.finished.connect(lambda _outcome: self.find_button.setEnabled(True))

    # -- finding ---------------------------------------------------------------------------
    def start(self) -> None:
        """Look for duplicates in a worker (progress and Cancel in the job bar)."""
        library, identity, t = self.context.library, self.context.model_identity, self.threshold.value()
        self.find_button.setEnabled(False)
        self.job.run(lambda cancel, progress: _find(library, t, identity, cancel, progress),
                     self._done, "Comparing photos…")

    def _done(self, result) -> None:
        self.groups, self.rows = result
        self.list.clear()
        for g in self.groups[:MAX_SHOWN]:
            kind = "identical files" if g.exact else f"similarity {g.similarity:.2f}"
            self.list.addItem(f"{len(g.paths)} photos · {kind}\n{os.path.basename(g.paths[0])}")
        copies = sum(len(g.paths) - 1 for g in self.groups)
        self.job.status.setText(
            f"{len(self.groups)} group(s) of duplicates; {copies} photo(s) could go."
            + (f" Showing the {MAX_SHOWN} largest." if len(self.groups) > MAX_SHOWN else "")
            if self.groups else "No duplicates found. A lower similarity looks wider.")
        if self.groups:
            self.list.setCurrentRow(0)
        else:
            self._show_group(-1)
        self.found.emit(len(self.groups))

    # -- one group -------------------------------------------------------------------------
    def _show_group(self, index: int) -> None:
        while self.cards_layout.count():
            item = self.cards_layout.takeAt(0)
            if item.widget() is not None:     # hidden now: deleteLater waits for the loop
                item.widget().hide()
                item.widget().deleteLater()
        for button in self.keep.buttons():
            self.keep.removeButton(button)
        self._pictures = {}
        ok = 0 <= index < len(self.groups)
        self.trash_button.setEnabled(ok)
        self.hint.setText("Suggested: keep the largest photo (most pixels, then biggest file), "
                          "then the oldest. Choose another to keep if you like." if ok else "")
        if ok:
            self.thumbs.forget()
            for n, path in enumerate(self.groups[index].paths):
                self.cards_layout.addWidget(self._card(path, n == 0))

    def _card(self, path: str, suggested: bool) -> QWidget:
        card = QFrame()
        card.setFrameShape(QFrame.Shape.StyledPanel)
        box = QVBoxLayout(card)
        picture = picture_label(THUMB)
        pixmap = self.thumbs.request(path)
        if pixmap is not None:
            picture.setPixmap(pixmap)
        elif not os.path.exists(path):
            picture.setText("file not found")
        self._pictures[path] = picture
        row = self.rows.get(path)
        facts = [f"<b>{os.path.basename(path)}</b>"]
        if row is not None:
            pixels = f"{row.width} × {row.height} px" if row.width else "size unknown"
            facts += [f"{pixels} · {human_size(row.size)}", _date(row)]
        facts.append(f"<span style='color:#666'>{os.path.dirname(path)}</span>")
        info = QLabel("<br>".join(facts))
        info.setTextFormat(Qt.TextFormat.RichText)
        info.setWordWrap(True)
        info.setFixedWidth(THUMB)
        keep = QRadioButton("Keep (suggested)" if suggested else "Keep")
        keep.setChecked(suggested)
        keep.setProperty("path", path)
        self.keep.addButton(keep)
        for w in (picture, info, keep):
            box.addWidget(w)
        box.addStretch(1)
        if suggested:
            card.setStyleSheet("QFrame { border: 2px solid #3a7bd5; border-radius: 6px; }"
                               "QLabel { border: none; }")
        return card

    def _thumbnail(self, path: str, pixmap) -> None:
        label = self._pictures.get(path)
        if label is not None:
            label.setPixmap(pixmap.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.SmoothTransformation))

    def kept_path(self) -> str | None:
        """The photo chosen to keep in the shown group."""
        button = self.keep.checkedButton()
        return button.property("path") if button else None

    # -- to the Trash ----------------------------------------------------------------------
    def trash_others(self) -> None:
        """Ask, then move every photo of the shown group except the kept one to the Trash (in
        a worker: send2trash and the catalog update)."""
        from clipcore.duplicates import trash_others

        index = self.list.currentRow()
        keep = self.kept_path()
        if not 0 <= index < len(self.groups) or keep is None or self.job.busy:
            return
        group = self.groups[index]
        others = [p for p in group.paths if p != keep]
        answer = QMessageBox.question(
            self, "Move to Trash",
            f"Move {len(others)} photo(s) to the Trash and keep {os.path.basename(keep)}?\n\n"
            + "\n".join(others[:8]) + ("\n…" if len(others) > 8 else "")
            + "\n\nThey can be restored from the Trash.")
        if answer != QMessageBox.StandardButton.Yes:
            return
        library = self.context.library
        self.trash_button.setEnabled(False)
        self.job.run(lambda cancel, progress: trash_others(library, group, keep),
                     lambda moved: self._trashed(group, moved), "Moving to the Trash…")
        self.job.finished.connect(self._after_trash, Qt.ConnectionType.SingleShotConnection)

    def _trashed(self, group, moved: list) -> None:
        if group in self.groups:
            index = self.groups.index(group)
            del self.groups[index]
            self.list.takeItem(index)
        self.job.status.setText(f"Moved {len(moved)} photo(s) to the Trash; "
                                f"{len(self.groups)} group(s) left.")
        self.trashed.emit(list(moved))

    def _after_trash(self, outcome: str) -> None:
        self.trash_button.setEnabled(0 <= self.list.currentRow() < len(self.groups))

    def shutdown(self) -> None:
        """Cancel a running search and wait for it and the thumbnail loads (closing)."""
        self.job.wait()
        self.thumbs.shutdown()
