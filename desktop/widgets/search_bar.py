"""The search bar: query text (Enter or search-as-you-type), the query-image chip, buttons."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtGui import QKeySequence, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QToolButton, QWidget

from .query_chips import CHIP_SIDE, set_chip_picture

__all__ = ["SearchBar", "DEBOUNCE_MS"]

DEBOUNCE_MS = 350   # typing pause before search-as-you-type fires (ms)


class ImageChip(QWidget):
    """A small picture of the query image with its name and a clear (×) button."""

    cleared = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("imageChip")
        self.picture = QLabel()
        self.picture.setFixedSize(CHIP_SIDE, CHIP_SIDE)
        self.picture.setScaledContents(False)
        self.name = QLabel()
        self.clear_button = QToolButton(text="×", toolTip="Clear the query image")
        self.clear_button.setAccessibleName("Clear the query image")
        self.clear_button.setAutoRaise(True)
        self.clear_button.clicked.connect(self.cleared)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.picture)
        layout.addWidget(self.name)
        layout.addWidget(self.clear_button)
        self.hide()

    def show_image(self, name: str, pixmap: QPixmap | None) -> None:
        self.name.setText(name if len(name) <= 24 else name[:21] + "…")
        self.name.setToolTip(name)
        self.set_picture(pixmap)
        self.show()

    def set_picture(self, pixmap: QPixmap | None) -> None:
        if not set_chip_picture(self.picture, pixmap):
            self.picture.clear()


class SearchBar(QWidget):
    """Signals: ``query_changed()`` after a typing pause or on Enter (at once; read
    :attr:`text`; emitted by signal-to-signal connections, so no Python frame of ours sits
    between the key press and the window's search);
    ``image_requested()`` ("Search by image…"); ``image_cleared()``; ``paste_requested()``
    when Ctrl+V is pressed in the text box (the window decides whether the clipboard holds an
    image; if not, it calls :meth:`paste_text`)."""

    query_changed = Signal()
    image_requested = Signal()
    image_cleared = Signal()
    paste_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.edit = QLineEdit(placeholderText="Search your photos: beach + sunset - people")
        self.edit.setAccessibleName("Search")
        self.edit.setClearButtonEnabled(True)
        self.edit.setAcceptDrops(False)   # drops go to the window: folders and query images
        self.edit.installEventFilter(self)
        self.chip = ImageChip()
        self.chip.cleared.connect(self.clear_image)
        self.image_button = QPushButton("Search by image…")
        self.image_button.setAccessibleName("Search by image")
        self.image_button.clicked.connect(self.image_requested)
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self.query_changed)
        self.edit.textEdited.connect(lambda _t: self._timer.start())
        self.edit.returnPressed.connect(self._timer.stop)
        self.edit.returnPressed.connect(self.query_changed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.chip)
        layout.addWidget(self.image_button)

    @property
    def text(self) -> str:
        return self.edit.text().strip()

    def clear_image(self) -> None:
        self.chip.hide()
        self.image_cleared.emit()

    def paste_text(self) -> None:
        self.edit.paste()

    def eventFilter(self, obj, event) -> bool:
        if (obj is self.edit and event.type() == QEvent.Type.KeyPress
                and event.matches(QKeySequence.StandardKey.Paste)):
            self.paste_requested.emit()
            return True
        return super().eventFilter(obj, event)
