"""Safe image decoding: one decode per photo gives the model input and the thumbnail.

Formats are detected from the file's content, never its extension, and limited to
:data:`DECODE_FORMATS` (so a file named ``.jpg`` is never handed to Pillow's EPS/Ghostscript or
other exotic plugins). Every failure is an :class:`~clipcore.errors.ImageError` whose ``reason``
is one of a few short, stable phrases (the catalog counts skipped files by reason):

``"file is empty"``, ``"not an image (unrecognised format)"``, ``"truncated or corrupt image
data"``, ``"image too large (N megapixels)"``, ``"image too large (N MB file)"``,
``"permission denied"``, ``"file vanished"``, ``"not a regular file"``, ``"unsupported format"``,
``"I/O error: <strerror>"``.
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np
from PIL import Image, UnidentifiedImageError, features

from . import raw as camera_raw
from .errors import ImageError

__all__ = [
    "IMAGE_EXTENSIONS",
    "DECODE_FORMATS",
    "MAX_PIXELS",
    "MAX_FILE_BYTES",
    "DecodedImage",
    "ModelInput",
    "decode_image",
    "decode_for_model",
    "read_image",
    "make_thumbnail",
]

try:  # HEIC/HEIF (iPhone photos); pillow-heif applies the orientation itself on decode.
    import pillow_heif

    pillow_heif.register_heif_opener()
    _HAS_HEIF = True
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    _HAS_HEIF = False

# Pillow >= 11.2 decodes AVIF natively when built with libavif.
_HAS_AVIF = features.check("avif")

#: Pillow format names (plugins) that decode_image lets identify a file. The JPEG plugin also
#: opens MPO files (a JPEG with extra frames, written by many cameras and phones).
DECODE_FORMATS: tuple[str, ...] = (
    ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "DIB", "GIF")
    + (("HEIF",) if _HAS_HEIF else ())
    + (("AVIF",) if _HAS_AVIF else ())
)

#: File extensions the scanner picks up (lower-case, with dot). Only used to choose files; the
#: decoder itself trusts the content, so a PNG named ``.jpg`` decodes fine.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
    | ({".heic", ".heif", ".hif"} if _HAS_HEIF else set())
    | ({".avif"} if _HAS_AVIF else set())
    | camera_raw.RAW_EXTENSIONS   # camera RAW: decoded by LibRaw (clipcore.raw), chosen by extension
)

#: Largest image accepted, in pixels: twice Pillow's default MAX_IMAGE_PIXELS (89.5 Mpx), i.e.
#: the size at which Pillow itself raises DecompressionBombError. Leaves room for 100-150 Mpx
#: medium-format photos; a 179 Mpx RGB image takes about 0.5 GB decoded.
MAX_PIXELS = 2 * 89_478_485

#: Largest file read, in bytes (the whole file is read into memory once before decoding).
MAX_FILE_BYTES = 512 * 1024 * 1024

# Pillow warns between MAX_IMAGE_PIXELS and twice that and raises above; we refuse anything
# above MAX_PIXELS ourselves (right after reading the header), so align its warning with it.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# Corrupt EXIF is handled here (no orientation, no date); Pillow's TIFF/EXIF parser would also
# print a UserWarning with a line of its own source on the user's terminal for each such photo.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.TiffImagePlugin")

# EXIF tags (TIFF/EXIF 2.32 numbering).
_ORIENTATION = 0x0112
_DATETIME = 0x0132
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011

# EXIF orientation -> the transpose that makes the image upright; the same table as
# PIL.ImageOps.exif_transpose, applied here without rewriting the EXIF block (which fails on
# some corrupt EXIF, and which we do not need: the output is plain RGB pixels).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass
class DecodedImage:
    """One decoded photo.

    ``image``: RGB, upright; its shorter side is >= the requested ``min_side`` px whenever the
    source is that large (it is usually reduced to between 1x and 2x ``min_side``).
    ``width`` / ``height``: the full-resolution size in pixels, after EXIF orientation.
    ``date_taken``: ISO 8601 ("2021-07-04T18:30:05", with "+02:00" when EXIF records the
    offset) from EXIF DateTimeOriginal, else DateTime; None when absent or invalid.
    ``thumbnail``: RGB, longest side <= ``thumb_size`` px, made from the same decode, if asked.
    """

    image: "Image.Image"
    width: int
    height: int
    date_taken: str | None
    thumbnail: "Image.Image | None" = None


def decode_image(source, min_side: int | None = 224, thumb_size: int | None = None) -> DecodedImage:
    """Decode a photo once into an upright RGB image (and optionally its thumbnail).

    ``source``: a path (str / PathLike), bytes, a binary file object, or a PIL image.
    ``min_side`` (px): the consumer needs a shorter side of at least this; JPEGs are decoded at
    a reduced DCT scale (Pillow draft mode: 1/2, 1/4 or 1/8, the smallest scale still >=
    ``max(min_side, thumb_size)``) and other formats are box-reduced by an integer factor, so
    a model with 224 px input sees the same content as from a full decode, several times
    faster. ``None`` or 0 keeps the full resolution.
    ``thumb_size`` (px): also return a thumbnail whose longest side is <= this.

    The file is read into memory once and decoded from that snapshot, so a file being rewritten
    cannot give a mix of two versions. EXIF orientation 1-8 is applied (read robustly: other
    corrupt EXIF entries do not matter; an unreadable orientation leaves the image unrotated). Transparent pixels are composited onto white; CMYK, 16-bit, greyscale, bilevel
    and float images become correct 8-bit RGB.

    Raises ImageError(reason, path) for any problem with the file; never anything else.
    """
    path = None
    if not isinstance(source, (bytes, bytearray, memoryview, Image.Image)) and not hasattr(
            source, "read"):
        path = os.fspath(source)
    try:
        return _decode(source, path, min_side or 0, thumb_size)
    except ImageError as exc:
        if exc.path is None and path is not None:
            raise ImageError(exc.reason, path) from exc
        raise
    except MemoryError as exc:
        raise ImageError("image too large (out of memory)", path) from exc
    except Exception as exc:  # any other decoder failure on bad data is a property of the file
        raise ImageError("truncated or corrupt image data", path) from exc


class ModelInput(Protocol):
    """What :func:`decode_for_model` needs of a model (an Encoder has both)."""

    image_size: int   # the model's input side in pixels

    def preprocess(self, image: "Image.Image") -> Any:
        """Upright RGB PIL image -> the model's input tensor."""
        ...


def decode_for_model(source, model: ModelInput, thumb_size: int | None = None
                     ) -> tuple[Any, DecodedImage]:
    """The one "decode + preprocess for this model" used by the indexer and by image queries,
    so an image gives the same input (and vector) whichever path it takes.

    ``source`` as for :func:`decode_image`; it is decoded for the model's real input size
    (``min_side=model.image_size``), then ``model.preprocess`` makes the tensor
    ((3, S, S) float32 for an Encoder, S = ``image_size``). Returns (tensor, DecodedImage).
    Raises ImageError.
    """
    decoded = decode_image(source, min_side=model.image_size, thumb_size=thumb_size)
    return model.preprocess(decoded.image), decoded


def read_image(source) -> "bytes | Image.Image":
    """Read a file (path, bytes or binary file object) into memory and check from its header
    that it is an image we decode, without decoding pixels; a PIL image is returned as is.
    The result is a ``source`` for :func:`decode_image` / :func:`decode_for_model` that gives
    the same pixels as the original. Lets a query fail on a bad image before a model loads.
    Raises ImageError(reason, path)."""
    if isinstance(source, Image.Image):
        return source
    path = None
    if not isinstance(source, (bytes, bytearray, memoryview)) and not hasattr(source, "read"):
        path = os.fspath(source)
    try:
        data = _read_bytes(source, path)
        _check_pixels(_open(data).size)
    except ImageError as exc:
        raise ImageError(exc.reason, path) from exc
    except Exception as exc:  # a decoder failing on bad header data is a property of the file
        raise ImageError("truncated or corrupt image data", path) from exc
    return data


def make_thumbnail(image, size: int) -> "Image.Image":
    """RGB copy of ``image`` whose longest side is <= ``size`` px, aspect ratio kept.

    ``image``: an upright PIL image (any mode; converted as in decode_image), or any
    ``source`` that decode_image accepts, which is then decoded (draft mode, EXIF orientation)
    just for the thumbnail.
    Resampling: Image.thumbnail with LANCZOS after an integer box reduce (reducing_gap=3.0,
    which keeps the result indistinguishable from plain LANCZOS per Pillow's docs).
    Raises ImageError.
    """
    if not isinstance(image, Image.Image):
        return decode_image(image, min_side=size, thumb_size=size).thumbnail
    thumb = _to_rgb(image)
    if thumb is image:
        thumb = image.copy()
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return thumb


def _decode(source, path: str | None, min_side: int, thumb_size: int | None) -> DecodedImage:
    target = max(min_side, thumb_size or 0)
    data = None if isinstance(source, Image.Image) else _read_bytes(source, path)
    if path is not None and camera_raw.is_raw_name(path):
        found = camera_raw.decode_raw(data, target, MAX_PIXELS)   # None: not a RAW after all
        if found is not None:
            rgb, factor = found.image, min(found.image.size) // target if target else 1
            rgb = rgb.reduce(factor) if factor >= 2 else rgb
            return DecodedImage(rgb, found.width, found.height, found.date_taken,
                                make_thumbnail(rgb, thumb_size) if thumb_size else None)
    img = source if data is None else _open(data)
    _check_pixels(img.size)
    full_size = img.size
    if target and img is not source and img.format in ("JPEG", "MPO"):
        img.draft("RGB", (target, target))  # DCT scale 1/1..1/8, both sides >= target
    try:
        img.load()
    except OSError as exc:
        unsupported = "not available" in str(exc)  # Pillow: "decoder xyz not available"
        raise ImageError("unsupported format" if unsupported else
                         "truncated or corrupt image data") from exc

    exif = _exif(img)
    upright = _upright(img, exif)
    if upright.size != img.size:
        full_size = full_size[::-1]
    rgb = _to_rgb(upright)
    factor = min(rgb.size) // target if target else 1
    if factor >= 2:
        rgb = rgb.reduce(factor)
    if rgb is img:  # detach from the file object (and its bytes) or from the caller's image
        rgb = rgb.copy()
    thumb = make_thumbnail(rgb, thumb_size) if thumb_size else None
    return DecodedImage(rgb, full_size[0], full_size[1], _date_taken(exif), thumb)


def _read_bytes(source, path: str | None) -> bytes:
    """The whole file in memory (one consistent snapshot), or ImageError."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif path is None:  # a binary file object
        try:
            data = source.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise ImageError(f"I/O error: {exc.strerror or exc}") from exc
    else:
        data = _read_file(path)
    if not data:
        raise ImageError("file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"image too large ({len(data) // 2**20} MB file)")
    return data


def _read_file(path: str) -> bytes:
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
        raise ImageError(f"I/O error: {exc.strerror or exc}") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ImageError("not a regular file")
        with open(fd, "rb", closefd=False) as fh:
            return fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ImageError(f"I/O error: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


def _open(data: bytes) -> Image.Image:
    """Identify the format from the content and read the header only (no pixel allocation)."""
    try:
        img = Image.open(io.BytesIO(data), formats=DECODE_FORMATS)
    except UnidentifiedImageError as exc:
        raise ImageError("not an image (unrecognised format)") from exc
    except Image.DecompressionBombError as exc:
        # Pillow's message: "Image size (2500000000 pixels) exceeds limit of ..."
        pixels = next((int(w) for w in str(exc).replace("(", " ").split() if w.isdigit()), 0)
        raise ImageError(_too_large(pixels)) from exc
    return img


def _check_pixels(size: tuple[int, int]) -> None:
    if size[0] * size[1] > MAX_PIXELS:
        raise ImageError(_too_large(size[0] * size[1]))


def _too_large(pixels: int) -> str:
    return f"image too large ({round(pixels / 1e6)} megapixels)" if pixels else "image too large"


def _exif(img: Image.Image):
    """The image's EXIF (PIL.Image.Exif), or None when it is absent or unreadable."""
    try:
        return img.getexif()
    except Exception:
        return None


def _upright(img: Image.Image, exif) -> Image.Image:
    """Apply EXIF orientation 2-8; anything odd about the tag leaves the image as it is."""
    try:
        method = _UPRIGHT.get(int(exif.get(_ORIENTATION, 1))) if exif else None
    except (TypeError, ValueError):
        method = None
    return img.transpose(method) if method is not None else img


def _to_rgb(img: Image.Image) -> Image.Image:
    """Correct 8-bit RGB for any Pillow mode; returns img itself when it already is RGB."""
    mode = img.mode
    if mode == "RGB" and "transparency" not in img.info:
        return img
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_to_uint8(np.asarray(img), mode), "L").convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    try:
        return img.convert("RGB")  # L, 1, P, CMYK (Adobe-inverted handled by Pillow), YCbCr
    except ValueError as exc:
        raise ImageError("unsupported format") from exc


def _to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """Scale 16-bit, 32-bit integer or float samples to 0-255 (not clipped to white).

    "I;16*" modes are 16-bit by definition: divided by 257 (65535 -> 255). For "I" (32-bit
    int) and "F" (float) the range is guessed from the data: integers within 0..255 are kept,
    within 0..65535 treated as 16-bit, floats within 0..1 multiplied by 255, and any other range
    stretched min..max.
    """
    v = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
    if mode.startswith("I;16") or (lo >= 0 and 255 < hi <= 65535):
        v = v / 257.0
    elif mode == "F" and lo >= 0 and hi <= 1:
        v = v * 255.0
    elif lo < 0 or hi > 255:
        v = (v - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(v)
    return np.clip(np.rint(v), 0, 255).astype(np.uint8)


def _date_taken(exif) -> str | None:
    """ISO 8601 from EXIF DateTimeOriginal (+ OffsetTimeOriginal), else DateTime; else None."""
    if not exif:
        return None
    try:
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:
        sub = {}
    for raw, offset in ((sub.get(_DATETIME_ORIGINAL), sub.get(_OFFSET_TIME_ORIGINAL)),
                        (exif.get(_DATETIME), None)):
        if not isinstance(raw, str):
            continue
        try:
            when = datetime.strptime(raw.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
        except ValueError:
            continue
        iso = when.isoformat()
        if isinstance(offset, str):
            try:
                iso = datetime.fromisoformat(iso + offset.strip("\x00 ")).isoformat()
            except ValueError:
                pass
        return iso
    return None
