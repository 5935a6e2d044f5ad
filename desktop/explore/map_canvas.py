"""The map's drawing: every photo a dot, painted by ONE item (:class:`Dots`), so 100,000
photos are one drawPoints call instead of 100,000 scene items; thumbnails only when zoomed in
(level of detail by density: when the view holds at most :data:`MAX_THUMBS` photos, each of
them becomes a thumbnail item; zooming out removes them again).

Scene units: the layout's [0, 1] x [0, 1] scaled to :data:`SIDE`. Wheel: zoom at the cursor;
drag: pan; Shift + drag: rubber-band selection (``selected(list[int])`` carries the rows)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import (QGraphicsItem, QGraphicsPixmapItem, QGraphicsScene,
                               QGraphicsView)

__all__ = ["Dots", "MapCanvas", "MAX_THUMBS", "SIDE"]

SIDE = 1000.0        # scene units of the map's side
MAX_THUMBS = 150     # thumbnails appear when the view holds at most this many photos
THUMB_PX = 72        # a thumbnail's longest side on screen (logical px)
DOT = QColor(90, 160, 255)
HIT = QColor(255, 170, 40)
PICKED = QColor(255, 80, 120)


def _argb(colour: QColor) -> np.uint32:
    """Premultiplied ARGB32 pixel of an opaque colour."""
    return np.uint32(0xFF000000 | (colour.red() << 16) | (colour.green() << 8) | colour.blue())


def _disk(radius: int) -> list[tuple[int, int]]:
    return [(dx, dy) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)
            if dx * dx + dy * dy <= radius * radius + radius]


class Dots(QGraphicsItem):
    """All photos as dots of the same size on screen at any zoom; highlighted rows (a search's
    hits) and selected rows drawn bigger on top.

    paint() does not draw 100,000 shapes: it maps the points to the viewport with numpy (one
    affine transform), stamps small disks into an ARGB32 array of the viewport's size and draws
    that as ONE image. Measured with 100,000 photos in a 1000 x 700 view at load average 13
    on this 2-core machine: 65-110 ms a frame, where QPainter.drawPoints with a 3 px pen took
    500-800 ms under the same load (benchmarks/RESULTS.md, issue 13, "Map drawing")."""

    def __init__(self):
        super().__init__()
        self.xy = np.empty((0, 2), np.float64)
        self.hits = np.empty(0, np.int64)
        self.picked = np.empty(0, np.int64)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)

    def set_points(self, xy: np.ndarray) -> None:
        """``xy`` (N, 2) scene coordinates."""
        self.prepareGeometryChange()
        self.xy = np.asarray(xy, np.float64)
        self.hits = self.picked = np.empty(0, np.int64)
        self.update()

    def set_marked(self, hits: np.ndarray, picked: np.ndarray) -> None:
        """Rows to draw as hits and as selected."""
        self.hits = np.asarray(hits, np.int64)
        self.picked = np.asarray(picked, np.int64)
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(-10, -10, SIDE + 20, SIDE + 20)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        device = widget if widget is not None else painter.device()
        w, h = device.width(), device.height()
        if w <= 0 or h <= 0 or not len(self.xy):
            return
        t = painter.worldTransform()
        px = np.rint(self.xy[:, 0] * t.m11() + self.xy[:, 1] * t.m21() + t.dx()).astype(np.int64)
        py = np.rint(self.xy[:, 0] * t.m12() + self.xy[:, 1] * t.m22() + t.dy()).astype(np.int64)
        pad = 4                                  # the biggest disk's radius
        width = w + 2 * pad
        canvas = np.zeros((h + 2 * pad, width), np.uint32)
        flat = canvas.reshape(-1)
        for rows, colour, radius in ((None, DOT, 2), (self.hits, HIT, 4), (self.picked, PICKED, 4)):
            x, y = (px, py) if rows is None else (px[rows], py[rows])
            inside = (x >= -radius) & (x < w + radius) & (y >= -radius) & (y < h + radius)
            if not inside.any():
                continue
            at = (y[inside] + pad) * width + (x[inside] + pad)
            if rows is None and len(at) > 20_000:     # a dense map: smaller dots
                radius = 1
            value = _argb(colour)
            for dx, dy in _disk(radius):
                flat[at + dy * width + dx] = value
        canvas = np.ascontiguousarray(canvas[pad:pad + h, pad:pad + w])
        image = QImage(canvas.data, w, h, 4 * w, QImage.Format.Format_ARGB32_Premultiplied)
        painter.save()
        painter.resetTransform()
        painter.drawImage(0, 0, image)
        painter.restore()


class MapCanvas(QGraphicsView):
    """Signals: ``selected(list[int])`` rows inside a finished rubber band;
    ``thumbs_wanted(list[int])`` rows that should show thumbnails now (feed
    :meth:`set_thumbnail`); ``zoomed(bool)`` whether thumbnails are shown."""

    selected = Signal(list)
    thumbs_wanted = Signal(list)
    zoomed = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(-20, -20, SIDE + 40, SIDE + 40, self))
        self.setBackgroundBrush(QColor(28, 30, 36))
        self.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        for policy in (self.setHorizontalScrollBarPolicy, self.setVerticalScrollBarPolicy):
            policy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)     # drag to move, wheel to zoom
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setAccessibleName("Map of the library")
        self.dots = Dots()
        self.scene().addItem(self.dots)
        self.thumb_items: dict[int, QGraphicsPixmapItem] = {}
        self._band: QPointF | None = None      # scene point where a Shift + drag began
        self._lod = QTimer(self, singleShot=True, interval=60)
        self._lod.timeout.connect(self.update_detail)

    # -- content ---------------------------------------------------------------------------
    def set_points(self, coords: np.ndarray) -> None:
        """``coords`` (N, 2) in [0, 1]; thumbnails are dropped, the whole map shown."""
        for item in self.thumb_items.values():
            self.scene().removeItem(item)
        self.thumb_items = {}
        self.dots.set_points(np.asarray(coords, np.float64) * SIDE)
        self.fit_all()

    def fit_all(self) -> None:
        self.fitInView(QRectF(-10, -10, SIDE + 20, SIDE + 20), Qt.AspectRatioMode.KeepAspectRatio)
        self._lod.start()

    def zoom(self, factor: float, at: QPointF | None = None) -> None:
        """Scale by ``factor`` (around the scene point ``at``, default the view's centre)."""
        if at is not None:
            self.centerOn(at)
        self.scale(factor, factor)
        if at is not None:
            self.centerOn(at)
        self._lod.start()

    def visible_rows(self) -> np.ndarray:
        """Rows whose dot is inside the viewport."""
        area = self.mapToScene(self.viewport().rect()).boundingRect()
        xy = self.dots.xy
        inside = ((xy[:, 0] >= area.left()) & (xy[:, 0] <= area.right())
                  & (xy[:, 1] >= area.top()) & (xy[:, 1] <= area.bottom()))
        return np.flatnonzero(inside)

    def update_detail(self) -> None:
        """Level of detail: thumbnails for the photos in view when there are few, else dots."""
        rows = self.visible_rows()
        show = 0 < len(rows) <= MAX_THUMBS
        keep = set(rows.tolist()) if show else set()
        for row in [r for r in self.thumb_items if r not in keep]:
            self.scene().removeItem(self.thumb_items.pop(row))
        self.zoomed.emit(show)
        if show:
            self.thumbs_wanted.emit([r for r in rows.tolist() if r not in self.thumb_items])

    def set_thumbnail(self, row: int, pixmap) -> None:
        """Show ``pixmap`` at ``row``'s dot (same size on screen at any zoom)."""
        if row in self.thumb_items or row >= len(self.dots.xy):
            return
        scaled = pixmap.scaled(THUMB_PX, THUMB_PX, Qt.AspectRatioMode.KeepAspectRatio,
                               Qt.TransformationMode.SmoothTransformation)
        item = QGraphicsPixmapItem(scaled)
        item.setOffset(-scaled.width() / 2, -scaled.height() / 2)
        item.setPos(*self.dots.xy[row])
        item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        item.setZValue(1)
        self.scene().addItem(item)
        self.thumb_items[row] = item

    # -- input -----------------------------------------------------------------------------
    def wheelEvent(self, event) -> None:
        factor = 1.25 if event.angleDelta().y() > 0 else 0.8
        self.scale(factor, factor)
        self._lod.start()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        self._lod.start()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._lod.start()

    def mousePressEvent(self, event) -> None:
        band = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        self._band = self.mapToScene(event.position().toPoint()) if band else None
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag if band
                         else QGraphicsView.DragMode.ScrollHandDrag)
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        if self._band is not None:       # the band ends: select what it covered
            start, self._band = self._band, None
            self.select_rect(QRectF(start, self.mapToScene(event.position().toPoint())).normalized())

    def select_rect(self, area: QRectF) -> list[int]:
        """Emit ``selected`` with the rows whose dot is inside ``area`` (scene units)."""
        xy = self.dots.xy
        inside = ((xy[:, 0] >= area.left()) & (xy[:, 0] <= area.right())
                  & (xy[:, 1] >= area.top()) & (xy[:, 1] <= area.bottom()))
        rows = np.flatnonzero(inside).tolist()
        self.selected.emit(rows)
        return rows
