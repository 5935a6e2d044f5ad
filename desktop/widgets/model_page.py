"""The page shown while the model's weights download, or when they cannot be had.

Downloading: the model's name, its size and where it goes, a real progress bar (bytes done /
total), MB/s and time left, and Cancel (what arrived is kept; "Try again" resumes). Missing
(offline, cancelled, a server error): why, in one sentence, and what to do about it as buttons:
try again, choose a weights file, open the folder where weights go, or use the bundled demo
model (which only knows coloured shapes).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QVBoxLayout)

__all__ = ["ModelPage", "describe_progress"]


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 10e6 else f"{n / 1e6:,.1f} MB"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def describe_progress(p) -> str:
    """"123 of 601 MB · 5.2 MB/s · about 2 min left" for a DownloadProgress."""
    parts = [f"{_mb(p.done)} of {_mb(p.total)}" if p.total else _mb(p.done)]
    if p.rate > 0:
        parts.append(f"{p.rate / 1e6:,.1f} MB/s")
    if p.eta_seconds is not None:
        parts.append(f"about {_duration(p.eta_seconds)} left")
    return " · ".join(parts)


class ModelPage(QFrame):
    """``action(name)``: "cancel", "retry", "choose_file", "open_folder" or "use_demo"."""

    action = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.title.setFont(font)
        self.body = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bar = QProgressBar(minimum=0, maximum=1000, textVisible=False)
        self.bar.setAccessibleName("Download progress")
        self.detail = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.buttons: dict[str, QPushButton] = {}
        column = QVBoxLayout()
        for name, text, tip in (
                ("cancel", "Cancel download", "Stop; what arrived is kept for the next try"),
                ("retry", "Try again", "Download the weights again (resumes where it stopped)"),
                ("choose_file", "Choose a weights file…", "Use a .safetensors / .pt file you have"),
                ("open_folder", "Open the weights folder",
                 "Where downloaded weights are kept: copy them here from another computer"),
                ("use_demo", "Use the demo model",
                 "Ships with clipdesk; it only knows coloured shapes, not real photos")):
            button = QPushButton(text, toolTip=tip)
            button.setAccessibleName(text.rstrip("…"))
            button.clicked.connect(lambda _=False, n=name: self.action.emit(n))
            self.buttons[name] = button
            column.addWidget(button)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addLayout(column)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(60, 20, 60, 20)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.body)
        layout.addSpacing(8)
        layout.addWidget(self.bar)
        layout.addWidget(self.detail)
        layout.addSpacing(8)
        layout.addLayout(row)
        layout.addStretch(2)

    def _show_buttons(self, *names: str) -> None:
        for name, button in self.buttons.items():
            button.setVisible(name in names)

    def show_download(self, p, folder: str = "") -> None:
        """Show a DownloadProgress of the model's weights."""
        size = f"{_mb(p.total)}, " if p.total else ""
        self.title.setText(f"Getting the model {p.what}")
        self.body.setText(
            f"clipdesk needs this model's weights once ({size}from the Hugging Face hub"
            + (f", kept in {folder}" if folder else "") + "). You can add folders meanwhile; "
            "they are indexed as soon as the model is here.")
        self.bar.show()
        self.bar.setValue(int(1000 * p.done / p.total) if p.total else 0)
        self.bar.setMaximum(1000 if p.total else 0)   # unknown size: a busy bar
        self.detail.setText(describe_progress(p))
        self.detail.show()
        self._show_buttons("cancel")

    def show_missing(self, model: str, why: str, folder: str = "", cancelled: bool = False) -> None:
        """The weights of ``model`` are not here because ``why``; ``folder``: where they go."""
        self.title.setText("Download paused" if cancelled else
                           f"The model {model} is not on this computer")
        where = (f"<br><br>Weights for it go in <b>{folder}</b>: copy that folder from a "
                 "computer where clipdesk has downloaded them." if folder else "")
        self.body.setText(
            (f"The download of {model} was cancelled; what arrived is kept." if cancelled
             else f"It could not be downloaded: {why}.")
            + where + "<br><br>Photos already indexed stay searchable with “Find similar”. "
            "The demo model ships with clipdesk but only knows coloured shapes, not real photos.")
        self.buttons["retry"].setText("Resume download" if cancelled else "Try again")
        self.bar.hide()
        self.detail.hide()
        self._show_buttons("retry", "choose_file", "use_demo",
                           *(("open_folder",) if folder else ()))
