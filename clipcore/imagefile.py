"""Opening a photo file safely, before any pixel is decoded (:mod:`clipcore.imaging` decodes).

A path must be a regular, non-empty file of at most :data:`MAX_FILE_BYTES` (a FIFO named
``photo.jpg`` is refused, never waited on); files up to :data:`WHOLE_READ_BYTES` are read whole
and decoded from that snapshot, bigger ones are decoded from the open file and checked
unchanged afterwards. The format is identified from the content among :data:`DECODE_FORMATS`
only, and only the header is read. Every failure is an
:class:`~clipcore.errors.ImageError` with one of imaging's stable reasons.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
from collections.abc import Callable, Iterator
from typing import IO, BinaryIO, Union, cast

from PIL import Image, UnidentifiedImageError, features

from .errors import ImageError

__all__ = ["ImageSource", "DECODE_FORMATS", "HAS_HEIF", "HAS_AVIF", "MAX_FILE_BYTES", "WHOLE_READ_BYTES",
           "CHANGED_WHILE_READ", "CORRUPT", "os_error_reason", "source_image", "regular_file", "read_bytes", "checked_bytes",
           "check_file_size", "open_header", "too_large"]

#: What the decoders accept: a path, encoded bytes, a binary file object, or a PIL image.
ImageSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes], Image.Image]

try:  # HEIC/HEIF (iPhone photos); pillow-heif applies the orientation itself on decode.
    import pillow_heif

    pillow_heif.register_heif_opener()
    HAS_HEIF = True
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    HAS_HEIF = False

# Pillow >= 11.2 decodes AVIF natively when built with libavif.
HAS_AVIF = features.check("avif")

#: Pillow format names (plugins) that decode_image lets identify a file. The JPEG plugin also
#: opens MPO files (a JPEG with extra frames, written by many cameras and phones).
DECODE_FORMATS: tuple[str, ...] = (
    ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "DIB", "GIF")
    + (("HEIF",) if HAS_HEIF else ())
    + (("AVIF",) if HAS_AVIF else ())
)

#: Largest file accepted, in bytes (from its size on disk, before anything is read).
MAX_FILE_BYTES = 512 * 1024 * 1024

#: Files up to this size are read into memory once and decoded from that snapshot; bigger ones
#: are decoded straight from the open file (checked unchanged afterwards), so no decode holds
#: more than this many bytes of file data. 32 MiB covers every camera JPEG, HEIC and most PNGs.
WHOLE_READ_BYTES = 32 * 1024 * 1024

#: Skip reason for a file whose size or mtime changed while it was being read.
CHANGED_WHILE_READ = "file changed while being read"
CORRUPT = "truncated or corrupt image data"


def _unchanged() -> None:
    """check_unchanged for sources read whole into memory: nothing can change."""


@contextlib.contextmanager
def source_image(source: ImageSource, path: str | None
                 ) -> Iterator[tuple[Image.Image, Callable[[], None]]]:
    """(PIL image with only its header read, check_unchanged()) for any kind of source."""
    if isinstance(source, Image.Image):
        yield source, _unchanged
        return
    if path is None:
        yield open_header(read_bytes(source)), _unchanged
        return
    with regular_file(path) as (fh, before):
        if before.st_size <= WHOLE_READ_BYTES:
            data = fh.read(WHOLE_READ_BYTES + 1)
            if len(data) > WHOLE_READ_BYTES:
                raise ImageError(CHANGED_WHILE_READ)
            yield open_header(checked_bytes(data)), _unchanged
            return

        def check_unchanged() -> None:
            after = os.fstat(fh.fileno())
            if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
                raise ImageError(CHANGED_WHILE_READ)

        yield open_header(fh), check_unchanged


@contextlib.contextmanager
def regular_file(path: str) -> Iterator[tuple[BinaryIO, os.stat_result]]:
    """(binary file, its os.stat_result) of a regular, non-empty file of at most MAX_FILE_BYTES;
    ImageError otherwise. OSError while in use becomes ImageError("I/O error: ...")."""
    # O_NONBLOCK: opening a FIFO named photo.jpg must not block forever; it has no effect on
    # regular files. The fstat check refuses FIFOs, devices and directories before reading.
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError as exc:
        raise ImageError("file vanished") from exc
    except PermissionError as exc:
        raise ImageError("permission denied") from exc
    except OSError as exc:
        raise ImageError(os_error_reason(exc)) from exc
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise ImageError("not a regular file")
        check_file_size(before.st_size)
        with open(fd, "rb", closefd=False) as fh:
            yield fh, before
    except OSError as exc:
        raise ImageError(os_error_reason(exc)) from exc
    finally:
        os.close(fd)


def os_error_reason(exc: OSError) -> str:
    """The skip reason for an OSError met while reading or decoding a photo: one from the OS
    (it has an errno: EIO, a drive gone) is "I/O error: <strerror>"; one without an errno is a
    decoder's complaint about the data (Pillow raises OSError("Truncated File Read"), "broken
    data stream ...") and reads :data:`CORRUPT` (it was "I/O error: Truncated File Read",
    which sent people looking for a disk fault)."""
    return f"I/O error: {exc.strerror or exc}" if exc.errno is not None else CORRUPT


def read_bytes(source: ImageSource, path: str | None = None) -> bytes:
    """In-memory bytes, a binary file object read to the end, or the regular file at ``path``
    read whole: at most MAX_FILE_BYTES (for one image, e.g. a query; indexing streams big files)."""
    if path is not None:
        with regular_file(path) as (fh, _):
            return checked_bytes(fh.read(MAX_FILE_BYTES + 1))
    if isinstance(source, (bytes, bytearray, memoryview)):
        return checked_bytes(bytes(source))
    stream = cast(IO[bytes], source)   # not a path (path is None), not bytes: a file object
    try:
        return checked_bytes(stream.read(MAX_FILE_BYTES + 1))
    except OSError as exc:
        raise ImageError(os_error_reason(exc)) from exc


def checked_bytes(data: bytes) -> bytes:
    check_file_size(len(data))
    return data


def check_file_size(size: int) -> None:
    if size == 0:
        raise ImageError("file is empty")
    if size > MAX_FILE_BYTES:
        raise ImageError(f"image too large ({size // 2**20} MB file)")


def open_header(data: bytes | IO[bytes]) -> Image.Image:
    """Identify the format from the content (bytes or an open binary file) and read the
    header only (no pixel allocation)."""
    try:
        fh = io.BytesIO(data) if isinstance(data, bytes) else data
        img = Image.open(fh, formats=DECODE_FORMATS)
    except UnidentifiedImageError as exc:
        raise ImageError("not an image (unrecognised format)") from exc
    except OSError as exc:     # a header cut short: Pillow's "Truncated File Read"
        raise ImageError(os_error_reason(exc)) from exc
    except Image.DecompressionBombError as exc:
        # Pillow's message: "Image size (2500000000 pixels) exceeds limit of ..."
        pixels = next((int(w) for w in str(exc).replace("(", " ").split() if w.isdigit()), 0)
        raise ImageError(too_large(pixels)) from exc
    return img


def too_large(pixels: int) -> str:
    return f"image too large ({round(pixels / 1e6)} megapixels)" if pixels else "image too large"
