"""The indexing strip: progress bar with count, images/s and ETA, current file, Cancel."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

__all__ = ["IndexProgress", "describe_progress", "format_eta"]

def format_eta(seconds: float | None) -> str:
    """'about 2 min left' / 'about 40 s left' / '' when unknown."""
    if seconds is None or seconds != seconds or seconds <= 0:
        return ""
    if seconds >= 3600:
        return f"about {seconds / 3600:.1f} h left"
    if seconds >= 90:
        return f"about {round(seconds / 60)} min left"
    return f"about {max(1, round(seconds))} s left"


def describe_progress(event) -> str:
    """'Indexing 1,234 / 5,000 · 42.0 images/s · about 2 min left' for a ProgressEvent
    (phases "encode" and "commit"); 'Looking for photos…' and 'Loading the model…' before."""
    if event.phase == "scan":
        return "Looking for photos…" + (f" {event.done:,} found" if event.done else "")
    if event.phase == "load-model":
        return "Loading the model…"
    parts = [f"Indexing {event.done:,} / {event.total:,}" if event.total else "Indexing"]
    if event.rate:
        parts.append(f"{event.rate:.1f} images/s")
    if format_eta(event.eta_seconds):
        parts.append(format_eta(event.eta_seconds))
    return " · ".join(parts)


class IndexProgress(QWidget):
    """Shown while indexing; ``cancel_requested()`` when Cancel is pressed."""

    cancel_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setAccessibleName("Indexing progress")
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(10)
        self.label = QLabel("Starting…")
        self.current = QLabel()
        self.current.setStyleSheet("color: palette(mid);")
        self.current.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel indexing")
        self.cancel_button.clicked.connect(self._cancel)
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.label)
        text.addWidget(self.bar)
        text.addWidget(self.current)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(text, 1)
        layout.addWidget(self.cancel_button)
        self.hide()

    def start(self, folders) -> None:
        names = ", ".join(os.path.basename(p.rstrip(os.sep)) or p for p in folders)
        self.label.setText(f"Indexing {names}…")
        self.current.clear()
        self.bar.setRange(0, 0)   # busy until the scan has counted the photos
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        self.show()

    def update_progress(self, event) -> None:
        self.label.setText(describe_progress(event))
        if event.total:
            self.bar.setRange(0, event.total)
            self.bar.setValue(min(event.done, event.total))
        if event.current:
            self.current.setText(self.fontMetrics().elidedText(
                event.current, Qt.TextElideMode.ElideMiddle, max(200, self.current.width())))

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Stopping…")
        self.cancel_requested.emit()
