"""The row above the results: what is shown, the minimum score and the sort order."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QSlider, QWidget

from ..models.results import SORT_DATE, SORT_RELEVANCE

__all__ = ["ResultFilters", "ElidedLabel"]


class ElidedLabel(QLabel):
    """A one-line label that shortens its text with "…" to the width it is given, and never
    asks for more (the full text is its tooltip)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(0)

    def setText(self, text: str) -> None:  # noqa: N802 -- Qt's name
        self._full = text
        self.setToolTip(text)
        self._elide()

    def text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideMiddle,
                                              max(0, self.width()))
        super().setText(shown)


class ResultFilters(QWidget):
    """``info`` (a label the window fills), ``min_score`` (slider 0-100, in hundredths of cosine
    similarity; 0 means no minimum) and ``sort``.

    Signals: ``min_score_changed(float)`` with the minimum cosine similarity (-1.0 for none);
    ``sort_changed(str)`` with SORT_RELEVANCE or SORT_DATE.
    """

    min_score_changed = Signal(float)
    sort_changed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.info = ElidedLabel()   # a long query never widens the window
        self.min_score = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100)
        self.min_score.setAccessibleName("Minimum score")
        self.min_score.setFixedWidth(140)
        self.min_score.setToolTip("Hide results whose cosine similarity is below this")
        self.min_score_label = QLabel()
        self.sort = QComboBox()
        self.sort.setAccessibleName("Sort results")
        self.sort.addItem("Most relevant first", SORT_RELEVANCE)
        self.sort.addItem("Newest first (date taken)", SORT_DATE)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.info, 1)
        layout.addWidget(QLabel("Minimum score"))
        layout.addWidget(self.min_score)
        layout.addWidget(self.min_score_label)
        layout.addSpacing(12)
        layout.addWidget(self.sort)
        self._on_min_score(0)
        self.min_score.valueChanged.connect(self._on_min_score)
        self.sort.currentIndexChanged.connect(lambda _i: self.sort_changed.emit(self.sort.currentData()))

    @property
    def minimum(self) -> float:
        """The minimum cosine similarity shown (0.0 when the slider is at "any")."""
        return self.min_score.value() / 100

    def _on_min_score(self, value: int) -> None:
        self.min_score_label.setText(f"{value / 100:.2f}" if value else "any")
        self.min_score_changed.emit(value / 100 if value else -1.0)
