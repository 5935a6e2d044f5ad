"""What a drop or a paste carries: folders to add, or an image to search with; and leaving the
clipboard safe at exit."""

from __future__ import annotations

import atexit
import os
import urllib.parse

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMimeData, QUrl
from PySide6.QtGui import QGuiApplication, QImage

__all__ = ["file_url", "url_path", "local_paths", "dropped_folders", "dropped_image", "image_bytes"]


def _image_extensions() -> frozenset[str]:
    from clipcore.imaging import IMAGE_EXTENSIONS

    return IMAGE_EXTENSIONS


def file_url(path: str) -> QUrl:
    """A file URL for ``path`` that keeps its exact bytes: a name that is not valid UTF-8 (a
    surrogate-escaped str from os.fsdecode) is percent-encoded byte for byte, where
    QUrl.fromLocalFile would turn it into a URL of a file that does not exist."""
    if os.name == "posix":
        quoted = urllib.parse.quote(os.fsencode(os.path.abspath(path)), safe="/")
        return QUrl.fromEncoded(QByteArray(b"file://" + quoted.encode("ascii")))
    return QUrl.fromLocalFile(path)


def url_path(url: QUrl) -> str:
    """The local path of a file URL, the inverse of :func:`file_url` (bytes kept exactly)."""
    if os.name == "posix":
        encoded = url.path(QUrl.ComponentFormattingOption.FullyEncoded)
        return os.fsdecode(urllib.parse.unquote_to_bytes(encoded))
    return url.toLocalFile()


def local_paths(mime: QMimeData) -> list[str]:
    """Local file paths named by the mime data's URLs (or by its text, one per line)."""
    paths = [url_path(u) for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
    if not paths and mime.hasText():
        paths = [line.strip() for line in mime.text().splitlines()
                 if line.strip().startswith(("/", "~")) or line[1:3] == ":\\"]
        paths = [os.path.expanduser(p) for p in paths]
    return paths


def dropped_folders(mime: QMimeData) -> list[str]:
    return [p for p in local_paths(mime) if os.path.isdir(p)]


def dropped_image(mime: QMimeData):
    """The image to search with: a path to an image file, or PNG bytes of an image in the
    mime data (a pasted screenshot), or None."""
    for path in local_paths(mime):
        if os.path.isfile(path) and os.path.splitext(path)[1].lower() in _image_extensions():
            return path
    if mime.hasImage():
        image = mime.imageData()
        if isinstance(image, QImage) and not image.isNull():
            return image_bytes(image)
    return None


def image_bytes(image: QImage) -> bytes:
    """Encode a QImage as PNG bytes (what clipcore takes as an image query)."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


# Platforms whose clipboard is Qt's generic in-process one (headless runs and tests use
# "offscreen"). It keeps the last QMimeData in a C++ static that is destroyed after Python has
# shut down, and deleting a QMimeData made in Python then crashes the process at exit (SIGSEGV
# in shiboken). Real clipboards (X11, Wayland, Windows, macOS) belong to the platform
# integration, which Qt tears down while Python runs, and are left alone so that a clipboard
# manager can keep what was copied after the app quits.
IN_PROCESS_CLIPBOARD_PLATFORMS = frozenset({"offscreen", "minimal", "eglfs", "linuxfb", "vnc"})


@atexit.register
def _empty_in_process_clipboard() -> None:
    """Empty an in-process clipboard while Python still runs (see above)."""
    if (QGuiApplication.instance() is not None
            and QGuiApplication.platformName() in IN_PROCESS_CLIPBOARD_PLATFORMS):
        QGuiApplication.clipboard().clear()
