"""The viewer: one result large inside the window, fitted and sharp on HiDPI screens.

The photo is decoded off the GUI thread by :func:`clipcore.imaging.decode_image` (one read,
JPEG draft mode at the smallest DCT scale still covering the screen, EXIF orientation
applied), so a 12 MP JPEG becomes first pixels in a fraction of a full decode. Until it
arrives the result's thumbnail is shown, scaled up. Once a photo is shown its neighbours are
decoded ahead, so Left / Right show the next one at once. Keys: Left / Right previous / next
result, Esc (or Space) closes, Enter opens the file in the default application.
"""

from __future__ import annotations

import os
from collections import OrderedDict

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..workers import WorkPool

__all__ = ["Viewer", "decode_for_screen", "info_line"]

KEEP_DECODED = 4    # decoded photos kept: the one shown, its neighbours, the last one left


def decode_for_screen(path: str, box: tuple[int, int]) -> tuple[QImage, int]:
    """Runs in a worker: the photo at ``path`` upright (EXIF orientation), fitted into ``box``
    (width, height in device px; never enlarged), as a ``Format_RGB32`` QImage (the raster
    pixmap's own format: QPixmap.fromImage on the GUI thread then converts nothing), and the
    file size in bytes.

    The header gives the size first, so :func:`clipcore.imaging.decode_image` decodes a JPEG
    at the smallest DCT scale (draft mode) still covering the fitted size, and the last step
    is one resize here (Qt's smooth scale, about half the CPU time of Pillow's bilinear
    resize plus the RGB -> RGB32 conversion: benchmarks/viewer.py) rather than a large smooth
    scale in every paint on the GUI thread. Raises clipcore's ImageError for an unreadable
    file."""
    from PIL import Image

    from clipcore.imaging import decode_image

    try:
        with Image.open(path) as header:
            w, h = header.size
    except Exception:   # noqa: BLE001 -- decode_image below says what is wrong with the file
        w = h = 0
    # either orientation may be the upright one: cover the larger of the two fits
    scale = max(min(box[0] / w, box[1] / h), min(box[0] / h, box[1] / w)) if w and h else 0
    need = int(min(w, h) * min(scale, 1.0) + 1) if scale else None
    image = decode_image(path, min_side=need).image
    data = image.tobytes("raw", "BGRX")          # = RGB32 (0xffRRGGBB) in memory order
    qimage = QImage(data, image.width, image.height, image.width * 4, QImage.Format.Format_RGB32)
    fit = min(box[0] / image.width, box[1] / image.height, 1.0)
    if fit < 1.0:
        size = (max(1, round(image.width * fit)), max(1, round(image.height * fit)))
        qimage = qimage.scaled(*size, Qt.AspectRatioMode.IgnoreAspectRatio,
                               Qt.TransformationMode.SmoothTransformation)   # owns its pixels
    else:
        qimage = qimage.copy()                   # own the pixels (``data`` goes away)
    return qimage, os.path.getsize(path)


def _fits(decoded_for: tuple[int, int], box: tuple[int, int]) -> bool:
    """Whether a photo decoded for ``decoded_for`` (device px) still suits ``box``: not more
    than 15% smaller in either direction (the canvas fits it either way)."""
    return all(d >= 0.85 * b for d, b in zip(decoded_for, box))


def _size_text(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def info_line(hit, file_size: int | None) -> str:
    """"IMG_0042.jpg — Holidays — score 0.312 — taken 2021-07-04 18:30 — 4000 × 3000 —
    3.2 MB"; a date from the file's modification time says "file date" instead of "taken"."""
    parts = [os.path.basename(hit.path), os.path.dirname(hit.path), f"score {hit.score:.3f}"]
    if hit.date_taken:
        when = hit.date_taken[:16].replace("T", " ")
        parts.append(f"file date {when}" if getattr(hit, "date_source", None) == "file"
                     else f"taken {when}")
    else:
        parts.append("date unknown")
    if hit.width and hit.height:
        parts.append(f"{hit.width} × {hit.height}")
    if file_size is not None:
        parts.append(_size_text(file_size))
    return "  —  ".join(parts)


class _Canvas(QWidget):
    """Paints a pixmap fitted to the widget, centred, at the screen's device pixel ratio."""

    painted = Signal(object)    # the QPixmap just painted (the first paint of each one)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.pixmap: QPixmap | None = None
        self.stretch = False        # a thumbnail stand-in: stretched to fit until the photo comes
        self._announced = None
        self.setMinimumSize(200, 150)

    def set_pixmap(self, pixmap: QPixmap | None, stretch: bool = False) -> None:
        self.pixmap, self.stretch = pixmap, stretch
        self.update()

    def target_rect(self) -> QRectF:
        """Where the pixmap goes, in logical px: fitted to the canvas (a photo decoded for this
        canvas is drawn 1:1; a small photo or the thumbnail stand-in is enlarged), centred."""
        if self.pixmap is None or self.pixmap.isNull():
            return QRectF()
        dpr = self.pixmap.devicePixelRatio()
        size = QSize(self.pixmap.width(), self.pixmap.height())
        logical = size / dpr
        area = self.size()
        logical = logical.scaled(area, Qt.AspectRatioMode.KeepAspectRatio)   # fit: up or down
        x = (area.width() - logical.width()) / 2
        y = (area.height() - logical.height()) / 2
        return QRectF(x, y, logical.width(), logical.height())

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#1e1e1e"))
        if self.pixmap is not None and not self.pixmap.isNull():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawPixmap(self.target_rect(), self.pixmap, QRectF(self.pixmap.rect()))
        painter.end()
        if self.pixmap is not None and self._announced is not self.pixmap:
            self._announced = self.pixmap
            self.painted.emit(self.pixmap)


class Viewer(QWidget):
    """Shows one hit at a time from the list given to :meth:`show_hits`.

    Signals: ``closed()`` (Esc / Space), ``open_requested(hit)`` (Enter),
    ``current_changed(row)`` (Left / Right), ``photo_shown(path)`` once the decoded photo
    (not the thumbnail stand-in) has been painted, ``failed(path, message)``.
    ``thumbnail(path) -> QPixmap | None`` gives the stand-in shown while decoding.
    """

    closed = Signal()
    open_requested = Signal(object)
    current_changed = Signal(int)
    photo_shown = Signal(str)
    failed = Signal(str, str)

    def __init__(self, thumbnail=None, parent=None):
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAutoFillBackground(True)
        self.thumbnail = thumbnail or (lambda path: None)
        self.canvas = _Canvas()
        self.info = QLabel()
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setStyleSheet("padding: 4px;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.info)
        self.pool = WorkPool(max_threads=1, parent=self)
        self.hits: list = []
        self.row = -1
        self._file_size: int | None = None
        self._decoded_for: str | None = None
        self._cache: OrderedDict[str, tuple[QImage, int, tuple]] = OrderedDict()  # path ->
        self._pending: dict[str, object] = {}         # path -> its queued/running decode Task
        self.canvas.painted.connect(self._on_painted)

    @property
    def hit(self):
        return self.hits[self.row] if 0 <= self.row < len(self.hits) else None

    def show_hits(self, hits, row: int) -> None:
        """Show ``hits[row]``; Left/Right move within ``hits``."""
        self.hits = list(hits)
        self._cache.clear()          # a new list: photos may have changed on disk meanwhile
        self.go(row)

    def go(self, row: int) -> None:
        """Show ``hits[row]``: at once when it was decoded ahead (a neighbour of the last
        photo shown), else the thumbnail stand-in until its decode arrives."""
        if not self.hits:
            return
        row = max(0, min(row, len(self.hits) - 1))
        self.row = row
        hit = self.hits[row]
        self._file_size, self._decoded_for = None, None
        self.info.setText(info_line(hit, None))
        dropped = self.pool.drop_queued()      # decodes ahead for where the user no longer is
        self._pending = {k: t for k, t in self._pending.items() if t not in dropped}
        box = self._box()
        cached = self._cache.get(hit.path)
        if cached is not None and _fits(cached[2], box):
            self._show(hit, cached[0], cached[1])
        else:
            self._cache.pop(hit.path, None)
            self.canvas.set_pixmap(self.thumbnail(hit.path), stretch=True)
            self._fetch(hit.path, box, priority=1)
        self.current_changed.emit(row)

    def _box(self) -> tuple[int, int]:
        """The canvas in device px (at least 400 x 300): what the photo is fitted into."""
        size, dpr = self.canvas.size(), self.devicePixelRatioF()
        return max(400, int(size.width() * dpr)), max(300, int(size.height() * dpr))

    def _fetch(self, path: str, box: tuple[int, int], priority: int = 0) -> None:
        """Decode ``path`` for ``box`` in the worker unless done or under way."""
        if path in self._cache or path in self._pending:
            return
        self._pending[path] = self.pool.run(
            decode_for_screen, path, box, priority=priority,
            on_result=lambda r, p=path, b=box: self._arrived(p, b, *r),
            on_error=lambda err, p=path: self._failed(p, err))

    def _arrived(self, path: str, box: tuple, image: QImage, file_size: int) -> None:
        self._pending.pop(path, None)
        self._cache[path] = (image, file_size, box)
        while len(self._cache) > KEEP_DECODED:
            self._cache.popitem(last=False)
        hit = self.hit
        if hit is not None and self._decoded_for is None and hit.path == path:
            self._show(hit, image, file_size)

    def _show(self, hit, image: QImage, file_size: int) -> None:
        """Put the decoded photo of ``hit`` on the canvas, then decode its neighbours ahead."""
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(self.devicePixelRatioF())
        self._file_size, self._decoded_for = file_size, hit.path
        self.info.setText(info_line(hit, file_size))
        self.canvas.set_pixmap(pixmap)
        box = self._box()
        for row in (self.row + 1, self.row - 1):
            if 0 <= row < len(self.hits):
                self._fetch(self.hits[row].path, box)

    def _failed(self, path: str, err: BaseException) -> None:
        self._pending.pop(path, None)
        if self.hit is not None and self.hit.path == path:
            self.info.setText(f"{os.path.basename(path)} cannot be shown: {err}")
            self.failed.emit(path, str(err))

    def _on_painted(self, pixmap) -> None:
        if self._decoded_for is not None and not self.canvas.stretch:
            self.photo_shown.emit(self._decoded_for)

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Escape, Qt.Key.Key_Space):
            self.closed.emit()
        elif key == Qt.Key.Key_Left:
            self.go(self.row - 1)
        elif key == Qt.Key.Key_Right:
            self.go(self.row + 1)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.hit is not None:
            self.open_requested.emit(self.hit)
        else:
            super().keyPressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        self.closed.emit()
