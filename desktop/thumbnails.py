"""Thumbnails for the results grid: a disk cache and a background loader.

Disk cache: ``<resolve_cache_dir()>/thumbs/<2 hex>/<sha1>.jpg``, longest side
:data:`CACHE_SIDE` px, keyed by the photo's absolute path, size (bytes) and mtime (ns), so an
edited photo gets a new thumbnail. The indexer fills it from the decode it already does
(:meth:`ThumbnailCache.store`); the grid fills the rest on demand.

Loader: requests for the most recently shown cells run first (a pool priority that grows with
every request), so scrolling fast through thousands of results shows the cells in view first.
Images arrive as :class:`QImage` (safe to build off the GUI thread) and become pixmaps with the
screen's devicePixelRatio in the GUI thread.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from pathlib import Path
from typing import Iterable

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader

from clipcore.config import resolve_cache_dir

from .workers import Task, WorkPool

__all__ = ["CACHE_SIDE", "ThumbnailCache", "ThumbnailLoader"]

CACHE_SIDE = 320   # px: a 160 px cell at devicePixelRatio 2 stays sharp


class ThumbnailCache:
    """JPEG thumbnails on disk. Thread-safe: files are written to a temp name, then renamed."""

    def __init__(self, cache_dir: str | os.PathLike | None = None, side: int = CACHE_SIDE):
        self.root = Path(resolve_cache_dir(cache_dir)) / "thumbs"
        self.side = side

    def path_for(self, image_path: str) -> Path:
        """Cache file for a photo (stat()s it; raises OSError when the photo is gone)."""
        st = os.stat(image_path)
        key = f"{os.path.abspath(image_path)}|{st.st_size}|{st.st_mtime_ns}|{self.side}"
        digest = hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()
        return self.root / digest[:2] / f"{digest}.jpg"

    def store(self, image_path: str, image) -> Path | None:
        """Save a thumbnail of a PIL RGB image; the indexer's ``thumbnails`` callback.

        Returns the cache file, or None when the photo vanished or the disk refused the write
        (a thumbnail is a cache: failing to write one is never an error for the user).
        """
        from clipcore.imaging import make_thumbnail

        try:
            target = self.path_for(image_path)
            if target.exists():
                return target
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(f".{os.getpid()}.{id(image)}.tmp")
            make_thumbnail(image, self.side).save(tmp, "JPEG", quality=85)
            os.replace(tmp, target)
            return target
        except OSError:
            return None

    def load(self, image_path: str, side: int) -> QImage:
        """QImage whose longest side is <= ``side`` px, from the cache or decoded now.

        Raises :class:`~clipcore.errors.ImageError` when the photo cannot be decoded and
        OSError when it is gone.
        """
        target = self.path_for(image_path)
        if not target.exists():
            from clipcore.imaging import decode_image

            decoded = decode_image(image_path, min_side=self.side, thumb_size=self.side)
            if self.store(image_path, decoded.thumbnail or decoded.image) is None:
                return _to_qimage(decoded.thumbnail or decoded.image, side)
        reader = QImageReader(str(target))
        size = reader.size()
        if size.isValid() and max(size.width(), size.height()) > side:
            reader.setScaledSize(size.scaled(QSize(side, side), Qt.AspectRatioMode.KeepAspectRatio))
        image = reader.read()
        if image.isNull():
            raise OSError(f"unreadable thumbnail {target}")
        return image


def _to_qimage(pil_image, side: int) -> QImage:
    """PIL RGB image -> QImage (a copy owning its pixels), longest side <= ``side`` px."""
    rgb = pil_image.convert("RGB")
    rgb.thumbnail((side, side))
    data = rgb.tobytes("raw", "RGB")
    return QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888).copy()


class ThumbnailLoader(QObject):
    """Loads thumbnails in the background; emits ``ready(path, QImage)`` or ``failed(path)``.

    ``request(path, side)`` is cheap to call again for a path already pending. ``forget()``
    drops requests that have not started, so a new result list does not wait behind decodes
    for the one it replaced; the window calls it whenever it replaces the results.
    """

    ready = Signal(str, QImage)
    failed = Signal(str)

    def __init__(self, cache: ThumbnailCache, parent: QObject | None = None):
        super().__init__(parent)
        self.cache = cache
        self.pool = WorkPool(max_threads=2, parent=self)
        self._pending: dict[str, Task] = {}
        self._priority = itertools.count()

    def request(self, path: str, side: int) -> None:
        if path in self._pending:
            return
        self._pending[path] = self.pool.run(
            self.cache.load, path, side,
            on_result=lambda image, p=path: self._done(p, image),
            on_error=lambda _err, p=path: self._done(p, None),
            priority=min(next(self._priority), 2**31 - 1))

    def _done(self, path: str, image: QImage | None) -> None:
        self._pending.pop(path, None)
        if image is None:
            self.failed.emit(path)
        else:
            self.ready.emit(path, image)

    def forget(self, keep: Iterable[str] = ()) -> None:
        """Drop the requests that have not started, except those for the paths in ``keep``
        (e.g. the query image's picture). Running decodes finish and are delivered."""
        keep = set(keep)
        dropped = set(self.pool.drop_queued(t for p, t in self._pending.items() if p not in keep))
        self._pending = {p: t for p, t in self._pending.items() if t not in dropped}

    def shutdown(self) -> None:
        """Drop queued requests and wait for the running ones (at most two small decodes)."""
        self.forget()
        self.pool.waitForDone()
