"""The query's example photos as chips, plus the folder chip ("in: Holidays").

Each example chip shows the photo, its name, its sign (+ more like it / − less like it, a
button that flips it) and its weight (editable in place), and × removes it. The chips only
hold what the user chose; clipcore combines them (``Searcher.search(examples=...)``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QDoubleSpinBox, QFrame, QHBoxLayout, QLabel, QToolButton,
                               QWidget)

__all__ = ["QueryChips", "ExampleChip", "FolderChip", "CHIP_SIDE", "set_chip_picture"]

CHIP_SIDE = 22      # logical px of a chip's picture


def set_chip_picture(label: QLabel, pixmap: QPixmap | None) -> bool:
    """Show ``pixmap`` in a chip's ``label`` at CHIP_SIDE logical px (aspect kept, sharp at the
    screen's device pixel ratio). False, the label left as it was, when there is no picture."""
    if pixmap is None or pixmap.isNull():
        return False
    dpr = label.devicePixelRatioF()
    scaled = pixmap.scaled(QSize(CHIP_SIDE, CHIP_SIDE) * dpr, Qt.AspectRatioMode.KeepAspectRatio,
                           Qt.TransformationMode.SmoothTransformation)
    scaled.setDevicePixelRatio(dpr)
    label.setPixmap(scaled)
    return True
_STYLE = {1: "QFrame#chip { background: #e3eefc; border: 1px solid #9bb9e4; border-radius: 6px; }",
          -1: "QFrame#chip { background: #fbe3e3; border: 1px solid #e09b9b; border-radius: 6px; }"}


@dataclass
class _Example:
    target: object          # image id or path
    name: str
    path: str | None
    weight: float           # signed


class ExampleChip(QFrame):
    """One example photo. Signals: ``changed()`` (sign or weight edited), ``removed()``."""

    changed = Signal()
    removed = Signal()

    def __init__(self, example: _Example, parent=None):
        super().__init__(parent)
        self.example = example
        self.setObjectName("chip")
        self.picture = QLabel()
        self.picture.setFixedSize(CHIP_SIDE, CHIP_SIDE)
        self.sign = QToolButton(toolTip="More like this (+) or less like this (−); click to flip")
        self.sign.setAutoRaise(True)
        self.sign.clicked.connect(self.flip)
        self.weight = QDoubleSpinBox(minimum=0.1, maximum=9.9, singleStep=0.5, decimals=1)
        self.weight.setToolTip("Weight of this photo in the query")
        self.weight.setAccessibleName(f"Weight of {example.name}")
        self.weight.setValue(abs(example.weight))
        self.weight.setFixedWidth(52)
        self.weight.valueChanged.connect(self._weight_edited)
        name = QLabel(example.name if len(example.name) <= 20 else example.name[:17] + "…")
        name.setToolTip(example.path or example.name)
        close = QToolButton(text="×", toolTip="Remove this photo from the query")
        close.setAutoRaise(True)
        close.clicked.connect(self.removed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 1, 2, 1)
        layout.setSpacing(3)
        for w in (self.sign, self.picture, name, self.weight, close):
            layout.addWidget(w)
        self._restyle()

    @property
    def weight_value(self) -> float:
        """The signed weight."""
        return self.example.weight

    def flip(self) -> None:
        self.example.weight = -self.example.weight
        self._restyle()
        self.changed.emit()

    def _weight_edited(self, value: float) -> None:
        self.example.weight = value if self.example.weight >= 0 else -value
        self.changed.emit()

    def _restyle(self) -> None:
        positive = self.example.weight >= 0
        self.sign.setText("+" if positive else "−")
        self.setStyleSheet(_STYLE[1 if positive else -1])

    def set_picture(self, pixmap: QPixmap | None) -> None:
        set_chip_picture(self.picture, pixmap)


class FolderChip(QFrame):
    """"in: Holidays" with ×; ``cleared()``."""

    cleared = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("chip")
        self.setStyleSheet("QFrame#chip { background: #e6f4e6; border: 1px solid #94c894; "
                           "border-radius: 6px; }")
        self.label = QLabel()
        close = QToolButton(text="×", toolTip="Search the whole library again")
        close.setAutoRaise(True)
        close.clicked.connect(self.cleared)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 1, 2, 1)
        layout.addWidget(self.label)
        layout.addWidget(close)


class QueryChips(QWidget):
    """The chips row. ``changed()`` fires whenever the examples or the folder change.

    ``examples()`` -> [(target, signed weight)] for :class:`~desktop.search_request.SearchRequest`;
    ``folder`` is the folder results are limited to (None: the whole library).
    """

    changed = Signal()
    picture_wanted = Signal(str)     # a chip needs the thumbnail of this path

    def __init__(self, parent=None):
        super().__init__(parent)
        self.chips: list[ExampleChip] = []
        self.folder: str | None = None
        self.folder_chip = FolderChip()
        self.folder_chip.cleared.connect(lambda: self.set_folder(None))
        self.folder_chip.hide()
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self._layout.addWidget(self.folder_chip)
        self._layout.addStretch(1)
        self.setVisible(False)

    def examples(self) -> list[tuple[object, float]]:
        return [(c.example.target, c.example.weight) for c in self.chips]

    @property
    def has_images(self) -> bool:
        return bool(self.chips)

    def add(self, target, name: str, weight: float = 1.0, path: str | None = None,
            notify: bool = True) -> ExampleChip:
        """Add an example (an image id or a path) unless it is already there (then its sign
        and weight are replaced)."""
        for chip in self.chips:
            if chip.example.target == target:
                chip.example.weight = weight
                chip.weight.blockSignals(True)
                chip.weight.setValue(abs(weight))
                chip.weight.blockSignals(False)
                chip._restyle()
                if notify:
                    self.changed.emit()
                return chip
        chip = ExampleChip(_Example(target, name, path, weight))
        chip.changed.connect(self.changed)
        chip.removed.connect(lambda c=chip: self.remove(c))
        self.chips.append(chip)
        self._layout.insertWidget(len(self.chips) - 1, chip)
        self._update_visible()
        if path:
            self.picture_wanted.emit(path)
        if notify:
            self.changed.emit()
        return chip

    def remove(self, chip: ExampleChip) -> None:
        self.chips.remove(chip)
        chip.setParent(None)
        chip.deleteLater()
        self._update_visible()
        self.changed.emit()

    def clear_images(self) -> bool:
        """Remove every example chip; True if there were any."""
        if not self.chips:
            return False
        for chip in self.chips:
            chip.setParent(None)
            chip.deleteLater()
        self.chips = []
        self._update_visible()
        self.changed.emit()
        return True

    def set_folder(self, folder: str | None) -> None:
        if folder == self.folder:
            return
        self.folder = folder
        if folder:
            self.folder_chip.label.setText(f"in: {os.path.basename(folder.rstrip(os.sep)) or folder}")
            self.folder_chip.setToolTip(folder)
        self.folder_chip.setVisible(bool(folder))
        self._update_visible()
        self.changed.emit()

    def set_picture(self, path: str, pixmap: QPixmap) -> None:
        for chip in self.chips:
            if chip.example.path == path:
                chip.set_picture(pixmap)

    def _update_visible(self) -> None:
        self.setVisible(bool(self.chips) or bool(self.folder))
