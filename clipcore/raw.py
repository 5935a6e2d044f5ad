"""Camera RAW photos (Canon CR2/CR3, Nikon NEF, Sony ARW, Fujifilm RAF, Olympus ORF, Panasonic
RW2, Pentax PEF, Adobe DNG and the rest LibRaw reads) through rawpy, for clipcore.imaging.

The model needs a few hundred pixels, not a 24-megapixel demosaic: the JPEG preview a camera
embeds in its RAW (usually full size or 1-2 Mpx) is used when its shorter side is at least the
size asked for, which costs a JPEG decode (draft mode) and no demosaic. Otherwise the RAW is
demosaiced at half size (LibRaw ``half_size``: each 2x2 Bayer block becomes one pixel, about 4x
faster than a full demosaic), with the camera's white balance, 8 bits per channel.
Orientation comes from the RAW's metadata (LibRaw ``sizes.flip``), never from the preview's own
EXIF, and the date from its EXIF capture time (LibRaw ``other.timestamp``).

A RAW beside a JPEG (or any other photo) of the same name stem in the same folder is a pair the
camera wrote together: the scanner shows the JPEG only (:func:`raw_sibling` finds the RAW back
for the viewer). Errors are :class:`~clipcore.errors.ImageError` with the reasons of imaging:
``"unsupported format"`` (LibRaw does not know the camera), ``"truncated or corrupt image
data"``, ``"image too large (N megapixels)"``.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import datetime

from PIL import Image

from .errors import ImageError

__all__ = ["RAW_EXTENSIONS", "RawImage", "decode_raw", "is_raw_name", "raw_sibling", "HAVE_RAWPY"]

try:
    import rawpy
    HAVE_RAWPY = True
except ImportError:  # pragma: no cover - rawpy is a declared dependency
    rawpy = None  # type: ignore[assignment]
    HAVE_RAWPY = False

#: RAW file extensions (lower-case, with dot) handed to LibRaw.
RAW_EXTENSIONS: frozenset[str] = frozenset(
    ".cr2 .cr3 .crw .nef .nrw .arw .srf .sr2 .dng .orf .raf .rw2 .pef .srw .3fr .erf .kdc .mef "
    ".mos .mrw .rwl .iiq".split()) if HAVE_RAWPY else frozenset()

# LibRaw's sizes.flip (dcraw's "flip") -> the PIL transpose that makes the picture upright.
# dcraw maps TIFF orientation o to flip "50132467"[o]; so flip 3 = orientation 3 (180 deg),
# 5 = orientation 8 (turn left), 6 = orientation 6 (turn right); 1, 2, 4, 7 the mirrored ones.
_UPRIGHT = {
    1: Image.Transpose.FLIP_LEFT_RIGHT,
    2: Image.Transpose.FLIP_TOP_BOTTOM,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.TRANSPOSE,
    5: Image.Transpose.ROTATE_90,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
}
_SWAPS_SIDES = {4, 5, 6, 7}


@dataclass
class RawImage:
    """A decoded RAW: ``image`` RGB, upright, its shorter side >= the size asked for when the
    sensor is that large; ``width`` / ``height`` the full upright size in pixels (the sensor's
    output size); ``date_taken`` ISO 8601 (camera local time) or None; ``source`` "preview"
    (the embedded JPEG / bitmap) or "demosaic" (half-size)."""

    image: Image.Image
    width: int
    height: int
    date_taken: str | None
    source: str


def is_raw_name(path: str) -> bool:
    """Whether the file name has a RAW extension (case-insensitive)."""
    return os.path.splitext(path)[1].lower() in RAW_EXTENSIONS


def raw_sibling(path: str) -> str | None:
    """The RAW file written with the photo at ``path`` (same folder, same name stem, a RAW
    extension), or None. One directory listing; never raises."""
    folder, name = os.path.split(path)
    stem = os.path.splitext(name)[0].lower()
    try:
        names = sorted(os.listdir(folder or "."))
    except OSError:
        return None
    for other in names:
        base, ext = os.path.splitext(other)
        if other != name and base.lower() == stem and ext.lower() in RAW_EXTENSIONS:
            return os.path.join(folder, other)
    return None


def decode_raw(data: bytes, min_side: int, max_pixels: int) -> RawImage | None:
    """Decode RAW file bytes (see the module docstring). ``min_side`` px: the shorter side the
    caller needs (0: full resolution preview or half-size demosaic); ``max_pixels``: larger
    sensors are refused. Returns None when LibRaw does not recognise the data at all (e.g. a
    JPEG saved with a RAW extension: the caller decodes it as an ordinary image, and Pillow
    reports what it is). Cost: reading the RAW data (LibRaw unpack) + the preview's JPEG decode,
    or + a half-size demosaic.
    Raises ImageError."""
    if rawpy is None:  # pragma: no cover
        raise ImageError("unsupported format")
    raw = rawpy.RawPy()
    try:
        raw.open_buffer(io.BytesIO(data))
    except (rawpy.LibRawError, ValueError):  # not a RAW LibRaw knows (or not even its header)
        raw.close()
        return None
    except MemoryError as exc:
        raw.close()
        raise ImageError("image too large (out of memory)") from exc
    with raw:
        try:
            return _decode(raw, min_side, max_pixels)
        except ImageError:
            raise
        except MemoryError as exc:
            raise ImageError("image too large (out of memory)") from exc
        except Exception as exc:  # LibRaw's I/O and data errors on a damaged file
            raise ImageError("truncated or corrupt image data") from exc


def _decode(raw, min_side: int, max_pixels: int) -> RawImage:
    # rawpy unpacks (reads the RAW data, no demosaic) on first access to ``sizes``: even when
    # the preview is used, a truncated file fails here and is skipped like any damaged photo,
    # not indexed from the part that survived.
    sizes = raw.sizes
    width, height = sizes.width, sizes.height
    if width * height > max_pixels:
        raise ImageError(f"image too large ({round(width * height / 1e6)} megapixels)")
    if width <= 0 or height <= 0:
        raise ImageError("truncated or corrupt image data")
    flip = sizes.flip if sizes.flip in _UPRIGHT else 0
    if flip in _SWAPS_SIDES:
        width, height = height, width
    date = _date(raw)
    preview = _preview(raw, min_side)
    if preview is not None:
        if flip:
            preview = preview.transpose(_UPRIGHT[flip])
        return RawImage(preview, width, height, date, "preview")
    rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8,
                          no_auto_bright=False)   # applies the flip itself
    return RawImage(Image.fromarray(rgb, "RGB"), width, height, date, "demosaic")


def _preview(raw, min_side: int) -> Image.Image | None:
    """The embedded preview as RGB (not yet upright) if its shorter side is >= min_side."""
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    except rawpy.LibRawError:
        return None   # a damaged preview: the RAW data itself may still be fine
    if thumb.format == rawpy.ThumbFormat.JPEG:
        try:
            img = Image.open(io.BytesIO(thumb.data), formats=("JPEG",))
            if min(img.size) < min_side:
                return None
            if min_side:
                img.draft("RGB", (min_side, min_side))
            img.load()
        except Exception:
            return None
        return img.convert("RGB")
    if thumb.format == rawpy.ThumbFormat.BITMAP:
        bitmap = Image.fromarray(thumb.data).convert("RGB")
        return bitmap if min(bitmap.size) >= min_side else None
    return None


def _date(raw) -> str | None:
    """The capture time LibRaw read from the RAW's EXIF, ISO 8601, or None."""
    try:
        when = raw.other.timestamp
    except Exception:
        return None
    if not isinstance(when, datetime) or when.timestamp() <= 0:
        return None
    return when.replace(microsecond=0).isoformat()
