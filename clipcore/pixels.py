"""Pixels of any Pillow mode -> correct 8-bit RGB, optionally box-reduced without a full copy.

Used by :mod:`clipcore.imaging` after a decode: transparent pixels are composited onto white,
CMYK / palette / greyscale / bilevel convert through Pillow, 16-bit, 32-bit integer and float
samples are scaled to 0-255 (not clipped). :func:`rgb_reduced` does the conversion and an
integer ``Image.reduce`` strip by strip, so a 169-megapixel RGBA PNG never needs a second
full-size buffer.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .errors import ImageError

__all__ = ["rgb_reduced", "to_rgb"]

# Rows of a big image converted to RGB and reduced at once (about 4 megapixels per strip).
_STRIP_PIXELS = 4_000_000


def rgb_reduced(img: Image.Image, factor: int) -> Image.Image:
    """``_to_rgb(img).reduce(factor)`` without a full-size RGB copy: plain RGB is reduced
    directly; other modes are converted and reduced in strips of whole reduce blocks (so the
    result is the same pixel for pixel), with 16-bit / float ranges taken from the whole image.
    ``factor`` < 2: just ``_to_rgb(img)``."""
    if factor < 2:
        return to_rgb(img)
    if img.mode == "RGB" and "transparency" not in img.info:
        return img.reduce(factor)
    w, h = img.size
    span = img.getextrema() if img.mode.startswith("I") or img.mode == "F" else None
    rows = max(1, _STRIP_PIXELS // max(1, w) // factor) * factor
    out = Image.new("RGB", (-(-w // factor), -(-h // factor)))
    for top in range(0, h, rows):
        strip = img.crop((0, top, w, min(h, top + rows)))
        out.paste(to_rgb(strip, span).reduce(factor), (0, top // factor))
    return out


def to_rgb(img: Image.Image, span: tuple | None = None) -> Image.Image:
    """Correct 8-bit RGB for any Pillow mode; returns img itself when it already is RGB.
    ``span``: the (min, max) sample values to scale 32-bit / float modes by (default: img's)."""
    mode = img.mode
    if mode == "RGB" and "transparency" not in img.info:
        return img
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_to_uint8(np.asarray(img), mode, span), "L").convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    try:
        return img.convert("RGB")  # L, 1, P, CMYK (Adobe-inverted handled by Pillow), YCbCr
    except ValueError as exc:
        raise ImageError("unsupported format") from exc


def _to_uint8(values: np.ndarray, mode: str, span: tuple | None = None) -> np.ndarray:
    """Scale 16-bit, 32-bit integer or float samples to 0-255 (not clipped to white).

    "I;16*" modes are 16-bit by definition: divided by 257 (65535 -> 255). For "I" (32-bit
    int) and "F" (float) the range is guessed from the data: integers within 0..255 are kept,
    within 0..65535 treated as 16-bit, floats within 0..1 multiplied by 255, and any other range
    stretched min..max. ``span``: (min, max) to use instead of the data's own.
    """
    v = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if span is not None and all(np.isfinite(float(x)) for x in span):
        lo, hi = float(span[0]), float(span[1])
    else:
        lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
    if mode.startswith("I;16") or (lo >= 0 and 255 < hi <= 65535):
        v = v / 257.0
    elif mode == "F" and lo >= 0 and hi <= 1:
        v = v * 255.0
    elif lo < 0 or hi > 255:
        v = (v - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(v)
    return np.clip(np.rint(v), 0, 255).astype(np.uint8)
