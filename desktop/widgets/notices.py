"""Explanations in the window: the empty states and a non-blocking message bar."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout

__all__ = ["EmptyState", "MessageBar"]


class EmptyState(QFrame):
    """A centred title, an explanation and an optional action button.

    ``action_triggered(name)`` carries the action's name when its button is pressed.
    """

    action_triggered = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.title.setObjectName("emptyTitle")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.title.setFont(font)
        self.body = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.button = QPushButton()
        self.button.clicked.connect(lambda: self.action_triggered.emit(self._action))
        self._action = ""
        self.button.hide()   # until a state with an action is shown
        layout = QVBoxLayout(self)
        layout.setContentsMargins(60, 20, 60, 20)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.body)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)

    def show_state(self, title: str, body: str, action: str = "", button: str = "") -> None:
        self.title.setText(title)
        self.body.setText(body)
        self._action = action
        self.button.setText(button)
        self.button.setVisible(bool(action))


class MessageBar(QFrame):
    """A dismissible one-line message above the results; never blocks the window."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("messageBar")
        # Colours from the palette: a light bar on a light theme, a dark one on a dark
        # theme, always readable (no fixed colours).
        self.setStyleSheet("#messageBar { background: palette(alternate-base); "
                           "border: 1px solid palette(highlight); border-radius: 4px; } "
                           "#messageBar QLabel { color: palette(text); }")
        self.setAccessibleName("Message")
        self.label = QLabel(wordWrap=True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(text="×", toolTip="Dismiss")
        close.setAccessibleName("Dismiss message")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        self.action = QPushButton()          # e.g. "Undo"; shown with a message that has one
        self.action.clicked.connect(self._act)
        self.action.hide()
        self._on_action = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, text: str, action: str = "", on_action=None) -> None:
        """Show ``text``; with ``action`` (a button label) and ``on_action()``, a button that
        hides the bar and calls it."""
        self.label.setText(text)
        self._on_action = on_action if action else None
        self.action.setText(action)
        self.action.setAccessibleName(action)
        self.action.setVisible(self._on_action is not None)
        self.show()

    def _act(self) -> None:
        on_action, self._on_action = self._on_action, None
        self.hide()
        if on_action is not None:
            on_action()
