"""EXIF in a photo: read robustly, the orientation applied, the date it was taken.

Corrupt EXIF is common (phone apps, editors): every reader here returns "nothing" instead of
raising, so a bad tag never costs the photo itself.
"""

from __future__ import annotations

from datetime import datetime

from PIL import Image

__all__ = ["date_taken", "read_exif", "upright"]

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


def read_exif(img: Image.Image):
    """The image's EXIF (PIL.Image.Exif), or None when it is absent or unreadable."""
    try:
        return img.getexif()
    except Exception:
        return None


def upright(img: Image.Image, exif) -> Image.Image:
    """Apply EXIF orientation 2-8; anything odd about the tag leaves the image as it is."""
    try:
        method = _UPRIGHT.get(int(exif.get(_ORIENTATION, 1))) if exif else None
    except (TypeError, ValueError):
        method = None
    return img.transpose(method) if method is not None else img


def date_taken(exif) -> str | None:
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
