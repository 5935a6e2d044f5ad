"""Paints a result tile: the thumbnail as usual, plus a small score badge when asked."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QStyledItemDelegate

from ..models.results import HitRole

__all__ = ["TileDelegate"]


class TileDelegate(QStyledItemDelegate):
    """``show_scores``: draw each hit's cosine similarity ("0.31") in a badge at the tile's
    bottom-right corner."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.show_scores = False

    def paint(self, painter: QPainter, option, index) -> None:
        super().paint(painter, option, index)
        if not self.show_scores:
            return
        hit = index.data(HitRole)
        if hit is None:
            return
        painter.save()
        font = QFont(option.font)
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        font.setBold(True)
        painter.setFont(font)
        text = f"{hit.score:.2f}"
        metrics = painter.fontMetrics()
        w, h = metrics.horizontalAdvance(text) + 10, metrics.height() + 2
        r = option.rect
        badge = QRectF(r.right() - w - 6, r.bottom() - h - 6, w, h)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(20, 20, 20, 190))
        painter.drawRoundedRect(badge, h / 2, h / 2)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()
