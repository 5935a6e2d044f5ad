"""The results grid's model: hits -> thumbnails, tooltips, drag data.

Sorting (relevance / date taken) and the minimum-score filter are presentation over the hits
the search returned; they never search again. Thumbnails are asked for only when the view asks
for a cell's decoration, i.e. for the cells on screen, so thousands of results stay smooth.
"""

from __future__ import annotations

import math
import os

from PySide6.QtCore import QAbstractListModel, QMimeData, QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap

from ..mime import file_url

__all__ = ["ResultsModel", "HitRole", "SORT_RELEVANCE", "SORT_DATE"]

HitRole = Qt.ItemDataRole.UserRole + 1
SORT_RELEVANCE, SORT_DATE = "relevance", "date"


def _placeholder(side: int, dpr: float, broken: bool = False) -> QPixmap:
    """A flat tile shown until the thumbnail arrives (or a crossed one when it cannot)."""
    px = QPixmap(int(side * dpr), int(side * dpr))
    px.setDevicePixelRatio(dpr)
    px.fill(QColor(0, 0, 0, 0))
    painter = QPainter(px)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor("#dcdcdc") if not broken else QColor("#f1d6d6"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawRoundedRect(2, 2, side - 4, side - 4, 6, 6)
    if broken:
        painter.setPen(QColor("#a05050"))
        painter.drawText(QRect(0, 0, side, side), Qt.AlignmentFlag.AlignCenter, "cannot\nshow")
    painter.end()
    return px


class ResultsModel(QAbstractListModel):
    """List model over :class:`clipcore.search.Hit` objects.

    ``icon_side`` is the cell's image side in logical px; thumbnails are requested at
    ``icon_side * devicePixelRatio`` device px so they are sharp on HiDPI screens.
    ``thumbnail_wanted(path, side_px)`` asks the loader; feed answers to :meth:`set_thumbnail`.
    """

    thumbnail_wanted = Signal(str, int)
    more_wanted = Signal(int)     # the view scrolled to the end: load results after this many

    def __init__(self, icon_side: int = 160, parent=None):
        super().__init__(parent)
        self.icon_side = icon_side
        self.dpr = 1.0
        self._hits: list = []
        self._shown: list = []
        self._row_of: dict[str, int] = {}
        self._pixmaps: dict[str, QPixmap] = {}
        self._broken: set[str] = set()
        self.min_score = -1.0
        self.sort = SORT_RELEVANCE
        self.more_possible = False    # the last page was full: the search may have more
        self._asked_at = -1           # more_wanted already sent for this many hits
        self._placeholder = _placeholder(icon_side, 1.0)
        self._broken_tile = _placeholder(icon_side, 1.0, broken=True)

    # ---------------------------------------------------------------- content
    def set_hits(self, hits, more_possible: bool = False) -> None:
        """Replace the results (best first, as the search returned them); ``more_possible``:
        the page was full, so scrolling to the end asks for more (``more_wanted``)."""
        self._hits = list(hits)
        self._pixmaps.clear()
        self._broken.clear()
        self.more_possible, self._asked_at = more_possible, -1
        self._relayout()

    def append_hits(self, hits, more_possible: bool = False) -> None:
        """Add a further page of results (duplicates of shown ones are dropped)."""
        seen = {h.id for h in self._hits}
        new = [h for h in hits if h.id not in seen]
        self.more_possible = more_possible and bool(new)
        shown = [h for h in new if self.passes(h.score)]
        if self.sort == SORT_DATE or not shown:
            self._hits += new
            self._relayout()
            return
        first = len(self._shown)
        self.beginInsertRows(QModelIndex(), first, first + len(shown) - 1)
        self._hits += new
        self._shown += shown
        self._row_of.update((h.path, first + i) for i, h in enumerate(shown))
        self.endInsertRows()

    def canFetchMore(self, parent=QModelIndex()) -> bool:
        # best first: once a loaded hit is below the minimum score, no later one can pass it
        below = self.sort != SORT_DATE and self._hits and not self.passes(self._hits[-1].score)
        return (not parent.isValid() and self.more_possible and not below
                and self._asked_at != len(self._hits))

    def fetchMore(self, parent=QModelIndex()) -> None:
        if self.canFetchMore(parent):
            self._asked_at = len(self._hits)
            self.more_wanted.emit(len(self._hits))

    def thumbnail(self, path: str) -> QPixmap | None:
        """The loaded thumbnail of ``path`` (None until it arrives)."""
        return self._pixmaps.get(path)

    @property
    def shown_hits(self) -> list:
        """The hits in the grid, in the grid's order."""
        return list(self._shown)

    def passes(self, score: float) -> bool:
        """Whether a hit of cosine similarity ``score`` passes the minimum score, compared as
        both are shown (two decimals): a photo whose badge reads 1.00 passes a 1.00 minimum even
        when float16 storage makes its score 0.9999."""
        return round(score, 2) >= round(self.min_score, 2)

    def set_min_score(self, value: float) -> None:
        self.min_score = value
        self._relayout()

    def set_sort(self, sort: str) -> None:
        self.sort = sort
        self._relayout()

    def set_device_pixel_ratio(self, dpr: float) -> None:
        if dpr != self.dpr:
            self.dpr = dpr
            self._pixmaps.clear()
            self._placeholder = _placeholder(self.icon_side, dpr)
            self._broken_tile = _placeholder(self.icon_side, dpr, broken=True)
            if self._shown:
                self.dataChanged.emit(self.index(0), self.index(len(self._shown) - 1))

    def _relayout(self) -> None:
        self.beginResetModel()
        shown = [h for h in self._hits if self.passes(h.score)]
        if self.sort == SORT_DATE:   # newest first, undated last, ties by relevance
            shown.sort(key=lambda h: (h.date_taken is not None, h.date_taken or ""), reverse=True)
        self._shown = shown
        self._row_of = {h.path: i for i, h in enumerate(shown)}
        self.endResetModel()

    @property
    def hit_count(self) -> int:
        """Hits the search returned, before the minimum-score filter."""
        return len(self._hits)

    def hit(self, row: int):
        return self._shown[row]

    def has_thumbnail(self, path: str) -> bool:
        """True once the photo's thumbnail (not the placeholder) is shown."""
        return path in self._pixmaps

    def set_thumbnail(self, path: str, image: QImage | None) -> None:
        """Receive a loaded thumbnail (None: it cannot be shown)."""
        if image is None:
            self._broken.add(path)
        else:
            side = math.ceil(self.icon_side * self.dpr)   # what was asked for, in device px
            if max(image.width(), image.height()) < side:   # a small photo fills its cell too
                image = image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation)
            row = self._row_of.get(path)
            if row is not None and getattr(self._shown[row], "offline", False):
                image = image.convertToFormat(QImage.Format.Format_Grayscale8)  # not connected
            pixmap = QPixmap.fromImage(image)
            pixmap.setDevicePixelRatio(self.dpr)
            self._pixmaps[path] = pixmap
        row = self._row_of.get(path)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    # ---------------------------------------------------------------- Qt model API
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._shown)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._shown):
            return None
        hit = self._shown[index.row()]
        if role == Qt.ItemDataRole.DecorationRole:
            pixmap = self._pixmaps.get(hit.path)
            if pixmap is not None:
                return pixmap
            if hit.path in self._broken:
                return self._broken_tile
            self.thumbnail_wanted.emit(hit.path, math.ceil(self.icon_side * self.dpr))
            return self._placeholder
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [hit.path, f"Score: {hit.score:.3f}"]
            if getattr(hit, "offline", False):
                lines.append("Drive not connected: connect it to open this photo")
            else:
                from clipcore.raw import raw_sibling   # a RAW + JPEG pair shows as the JPEG

                raw = raw_sibling(hit.path)
                if raw:
                    lines.append(f"RAW: {os.path.basename(raw)}")
            lines.append(f"Taken: {hit.date_taken.replace('T', ' ')}" if hit.date_taken
                         else "Date taken: unknown")
            return "\n".join(lines)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return os.path.basename(hit.path)
        if role == Qt.ItemDataRole.SizeHintRole:
            return QSize(self.icon_side + 8, self.icon_side + 8)
        if role == HitRole:
            return hit
        return None

    def flags(self, index):
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list", "text/plain"]

    def mimeData(self, indexes) -> QMimeData:
        """File URLs of the dragged/copied results (other apps receive the files)."""
        paths = [self._shown[i.row()].path for i in sorted(indexes, key=lambda i: i.row())]
        mime = QMimeData()
        mime.setUrls([file_url(p) for p in paths])
        mime.setText("\n".join(paths))
        return mime

    def supportedDragActions(self):
        return Qt.DropAction.CopyAction
