"""Drawn images of coloured shapes: the training and test data of the small shapes model.

One image = one filled shape (circle, square, triangle or star) in one of six colours, on a
neutral background ("solid" white / black / grey, a two-tone grey "gradient", or grey "noise").
The shape's circumscribed circle has a diameter of 20-80% of the image's shorter side and lies
wholly inside the image, so a shape is never cut off at any rotation. Images are 32-1024 px on
a side with an aspect ratio between 1:2 and 2:1, kept as PNG or round-tripped through JPEG at
quality 60-95.

Everything is drawn from a ``numpy.random.Generator``, so a seed gives the same images on every
run (Pillow's PNG/JPEG encoders are deterministic).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "COLOURS",
    "SHAPES",
    "BACKGROUNDS",
    "CLASSES",
    "Drawing",
    "draw_shape",
    "random_size",
    "random_drawing",
    "write_labelled_folder",
]

# Base RGB of each colour; draw_shape jitters each channel by up to +-JITTER.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (30, 60, 220),
    "yellow": (240, 220, 30),
    "purple": (140, 40, 180),
    "orange": (250, 140, 20),
}
JITTER = 20
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")
BACKGROUNDS: tuple[str, ...] = ("solid", "gradient", "noise")
CLASSES: tuple[tuple[str, str], ...] = tuple((c, s) for c in COLOURS for s in SHAPES)
STAR_INNER_RATIO = 0.42   # inner / outer radius of the 5-pointed star
_CORNERS = {"square": 4, "triangle": 3}


@dataclass(frozen=True)
class Drawing:
    """What one drawn image shows and how it is stored. ``path`` is set once written."""

    colour: str
    shape: str
    background: str
    width: int            # px
    height: int           # px
    format: str           # "PNG" | "JPEG"
    quality: int | None   # JPEG quality, None for PNG
    path: str | None = None


def _background(rng: np.random.Generator, kind: str, w: int, h: int) -> Image.Image:
    """A neutral (grey-level) RGB background of size (w, h) px."""
    if kind == "solid":
        level = rng.choice([0, 255, int(rng.integers(0, 256))], p=[0.25, 0.25, 0.5])
        grey = np.full((h, w), level, dtype=np.uint8)
    elif kind == "gradient":
        a, b = rng.integers(0, 256, size=2)
        theta = rng.uniform(0, 2 * math.pi)
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        t = x * math.cos(theta) + y * math.sin(theta)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
        grey = (a + (float(b) - a) * t).astype(np.uint8)
    elif kind == "noise":
        cell = int(rng.integers(1, 9))                  # grain size in px
        low = int(rng.integers(0, 200))
        high = int(rng.integers(low + 40, 257))
        small = rng.integers(low, high, size=(h // cell + 1, w // cell + 1), dtype=np.uint8)
        grey = np.repeat(np.repeat(small, cell, axis=0), cell, axis=1)[:h, :w]
    else:
        raise ValueError(f"unknown background {kind!r}; expected one of {BACKGROUNDS}")
    return Image.fromarray(np.ascontiguousarray(grey), mode="L").convert("RGB")


def _outline(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    """Polygon vertices (px) of a shape with circumradius r, centre (cx, cy), rotated by angle."""
    if shape == "star":
        radii = [r if i % 2 == 0 else r * STAR_INNER_RATIO for i in range(10)]
        steps = [angle + i * math.pi / 5 for i in range(10)]
    else:
        n = _CORNERS[shape]
        radii = [r] * n
        steps = [angle + i * 2 * math.pi / n for i in range(n)]
    return [(cx + q * math.sin(t), cy - q * math.cos(t)) for q, t in zip(radii, steps)]


def draw_shape(rng: np.random.Generator, colour: str, shape: str, size: tuple[int, int] = (128, 128),
               background: str = "solid", *, scale: float | None = None,
               centre: tuple[float, float] | None = None) -> Image.Image:
    """Draw one filled, anti-aliased shape on a neutral background.

    ``size`` is (width, height) in px; ``scale`` is the diameter of the shape's circumscribed
    circle as a fraction of the shorter side (default: uniform in [0.2, 0.8]). ``centre`` is the
    shape's position as fractions (x, y) of the image's width and height, moved inward as little
    as needed for the whole shape to fit (default: anywhere it fits, uniformly). Rotation (any
    angle), the colour's shade (+-20 per RGB channel) and the background's tones come from
    ``rng``. Returns an RGB PIL image. Raises ValueError for an unknown colour, shape or background.
    """
    if colour not in COLOURS or shape not in SHAPES:
        raise ValueError(f"unknown class {colour!r} {shape!r}; colours {list(COLOURS)}, shapes {SHAPES}")
    w, h = size
    image = _background(rng, background, w, h)
    scale = rng.uniform(0.2, 0.8) if scale is None else scale
    r = scale * min(w, h) / 2
    if centre is None:
        cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
    else:
        cx, cy = min(max(centre[0] * w, r), w - r), min(max(centre[1] * h, r), h - r)
    angle = rng.uniform(0, 2 * math.pi)
    rgb = np.clip(np.array(COLOURS[colour]) + rng.integers(-JITTER, JITTER + 1, size=3), 0, 255)

    ss = max(1, min(4, 1024 // max(w, h)))          # supersampling factor for anti-aliasing
    mask = Image.new("L", (w * ss, h * ss), 0)
    pen = ImageDraw.Draw(mask)
    if shape == "circle":
        pen.ellipse([(cx - r) * ss, (cy - r) * ss, (cx + r) * ss, (cy + r) * ss], fill=255)
    else:
        pen.polygon([(x * ss, y * ss) for x, y in _outline(shape, cx, cy, r, angle)], fill=255)
    if ss > 1:
        mask = mask.resize((w, h), Image.Resampling.BOX)
    image.paste(tuple(int(v) for v in rgb), mask=mask)
    return image


def random_size(rng: np.random.Generator, min_side: int = 32, max_side: int = 1024) -> tuple[int, int]:
    """(width, height) in px, both sides in [min_side, max_side], aspect ratio in [1:2, 2:1].

    The longer side is log-uniform in [min_side, max_side], the shorter one log-uniform in
    [max(min_side, longer / 2), longer]; portrait or landscape with equal chance.
    """
    long = math.exp(rng.uniform(math.log(min_side), math.log(max_side)))
    short = math.exp(rng.uniform(math.log(max(min_side, long / 2)), math.log(long)))
    long, short = round(long), max(min_side, round(short))
    return (long, short) if rng.random() < 0.5 else (short, long)


def _jpeg_roundtrip(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def random_drawing(rng: np.random.Generator, colour: str | None = None, shape: str | None = None,
                   background: str | None = None, *, min_side: int = 32, max_side: int = 1024,
                   jpeg_probability: float = 0.5) -> tuple[Image.Image, Drawing]:
    """Draw one image with every unset property (class, background, size, format) random.

    With probability ``jpeg_probability`` the image is round-tripped through JPEG at a quality
    uniform in [60, 95], so it carries the same artefacts as a saved JPEG.
    Returns (RGB PIL image, its Drawing).
    """
    if colour is None or shape is None:
        c, s = CLASSES[int(rng.integers(len(CLASSES)))]
        colour, shape = colour or c, shape or s
    background = background or BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    w, h = random_size(rng, min_side, max_side)
    image = draw_shape(rng, colour, shape, (w, h), background)
    quality = int(rng.integers(60, 96)) if rng.random() < jpeg_probability else None
    if quality is not None:
        image = _jpeg_roundtrip(image, quality)
    return image, Drawing(colour, shape, background, w, h, "JPEG" if quality else "PNG", quality)


def write_labelled_folder(folder: str | Path, rng: np.random.Generator, per_class: int = 10, *,
                          min_side: int = 32, max_side: int = 512, large: int = 0,
                          jpeg_probability: float = 0.5) -> list[Drawing]:
    """Write ``per_class`` images of each of the 24 classes into ``folder`` (created if needed).

    Backgrounds cycle through every kind within each class; sizes are ``random_size(min_side,
    max_side)`` except for ``large`` images per class drawn at up to 1024 px. Files are named
    ``<colour>-<shape>-<n>.png`` / ``.jpg``. Returns the Drawings with their paths, in write order.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    drawings = []
    for colour, shape in CLASSES:
        for n in range(per_class):
            top = 1024 if n < large else max_side
            image, d = random_drawing(rng, colour, shape, BACKGROUNDS[n % len(BACKGROUNDS)],
                                      min_side=min_side, max_side=top, jpeg_probability=0)
            quality = int(rng.integers(60, 96)) if rng.random() < jpeg_probability else None
            path = folder / f"{colour}-{shape}-{n:03d}.{'jpg' if quality else 'png'}"
            if quality:
                image.save(path, format="JPEG", quality=quality)
            else:
                image.save(path, format="PNG")
            d = replace(d, format="JPEG" if quality else "PNG", quality=quality, path=str(path))
            drawings.append(d)
    return drawings
