"""A second, independent renderer of coloured shapes, used ONLY to evaluate the shapes model.

tools/shapes.py draws the training data with Pillow (ImageDraw polygons on a supersampled mask,
fixed base colours +-20, a plain / gradient / noise grey background). This module shares no
drawing code with it: every shape, stroke and background element here is a signed distance
field evaluated with numpy, and its anti-aliasing is the analytic pixel coverage of that field
(clip(0.5 - distance_px, 0, 1)), not a supersampled mask. What it draws differs too:

- colours: sampled in HSV around each colour name's hue (red 0, orange 30, yellow 54, green 128,
  blue 228, purple 283 degrees; a window of +-5 to +-15 degrees), saturation 0.6-1, value
  0.55-1 (orange and yellow 0.8-1: darker ones read as brown / olive);
- shapes: a star's inner radius is 0.36-0.50 of its outer one (the training star: 0.42); corners
  may be rounded by up to 8% of the radius;
- fills: flat, shaded (a linear light gradient), or textured (stripes, checks or speckle that
  modulate brightness, not hue); an outline stroke (black, white or a darker shade) on 35%;
- backgrounds, all low-chroma (a grey with a tint of at most ~16 levels): flat, smooth
  multi-octave value noise, stripes, tiles, or clutter (grey line strokes, rings and blobs over
  noise);
- partly occluded shapes (25%): a neutral bar or disc covering 10-35% of the shape's area;
- small shapes (25%): a circumscribed diameter of 32-64 px in an image at most 3.5x that size;
  otherwise 30-85% of the shorter side of a 64-1024 px image (aspect ratio 1:2 to 2:1);
- artefacts: Gaussian blur (25%), sensor noise (30%), pixelation (10%), JPEG at quality 25-90
  (60%; Pillow is used only as the JPEG codec).

No part of training may import this module (a test checks tools/train_shapes.py does not).
Everything comes from a ``numpy.random.Generator``: a seed gives the same images on every run.
"""

from __future__ import annotations

import colorsys
import io
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

__all__ = ["HUES", "SHAPES", "CLASSES", "BACKGROUNDS", "FILLS", "EvalDrawing", "eval_drawing",
           "write_eval_folder"]

# colour name -> (centre hue, half window) in degrees, and the lowest HSV value that still reads
# as that colour.
HUES: dict[str, tuple[float, float, float]] = {
    "red": (0.0, 6.0, 0.55), "orange": (30.0, 5.0, 0.8), "yellow": (54.0, 5.0, 0.8),
    "green": (128.0, 15.0, 0.55), "blue": (228.0, 10.0, 0.55), "purple": (283.0, 8.0, 0.55),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")
CLASSES: tuple[tuple[str, str], ...] = tuple((c, s) for c in HUES for s in SHAPES)
BACKGROUNDS: tuple[str, ...] = ("flat", "value_noise", "stripes", "tiles", "clutter")
FILLS: tuple[str, ...] = ("flat", "shaded", "stripes", "checks", "speckle")


@dataclass(frozen=True)
class EvalDrawing:
    """What one evaluation image shows and how it was made. ``path`` is set once written."""

    colour: str
    shape: str
    background: str
    fill: str
    outline: bool
    occluded: float       # fraction of the shape's area covered by an occluder (0 = none)
    small: bool
    width: int            # px
    height: int           # px
    diameter: float       # the shape's circumscribed diameter, px
    blur: float           # Gaussian sigma, px (0 = none)
    noise: float          # sensor noise sigma, 8-bit levels (0 = none)
    pixelated: int        # pixelation factor (1 = none)
    quality: int | None   # JPEG quality, None = lossless
    path: str | None = None


# ---------------------------------------------------------------- signed distance fields (px)

def _grid(box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x, y) of box = (x0, y0, x1, y1), each (y1-y0, x1-x0) float32."""
    x0, y0, x1, y1 = box
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    return xs + 0.5, ys + 0.5


def _polygon_sdf(x: np.ndarray, y: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Signed distance (negative inside) from points (x, y) to a simple polygon (n, 2)."""
    vx, vy = vertices[:, 0], vertices[:, 1]
    dist2 = (x - vx[0]) ** 2 + (y - vy[0]) ** 2
    sign = np.ones_like(x)
    n = len(vertices)
    for i in range(n):
        j = i - 1
        ex, ey = vx[j] - vx[i], vy[j] - vy[i]
        wx, wy = x - vx[i], y - vy[i]
        t = np.clip((wx * ex + wy * ey) / (ex * ex + ey * ey), 0.0, 1.0)
        dist2 = np.minimum(dist2, (wx - ex * t) ** 2 + (wy - ey * t) ** 2)
        above, below, left = y >= vy[i], y < vy[j], ex * wy > ey * wx
        sign = np.where((above & below & left) | (~above & ~below & ~left), -sign, sign)
    return sign * np.sqrt(dist2)


def _segment_sdf(x, y, a, b, half_width: float) -> np.ndarray:
    """Signed distance to a stroke of ``half_width`` px along the segment a-b (round caps)."""
    ex, ey = b[0] - a[0], b[1] - a[1]
    wx, wy = x - a[0], y - a[1]
    t = np.clip((wx * ex + wy * ey) / max(ex * ex + ey * ey, 1e-6), 0.0, 1.0)
    return np.hypot(wx - ex * t, wy - ey * t) - half_width


def _ellipse_sdf(x, y, centre, a: float, b: float, angle: float) -> np.ndarray:
    """Approximate signed distance to an ellipse with semi-axes a, b rotated by angle (rad)."""
    c, s = math.cos(angle), math.sin(angle)
    u = (x - centre[0]) * c + (y - centre[1]) * s
    v = -(x - centre[0]) * s + (y - centre[1]) * c
    return (np.hypot(u / a, v / b) - 1.0) * min(a, b)


def _shape_vertices(shape: str, r: float, angle: float, star_inner: float) -> np.ndarray:
    """(n, 2) vertices of a regular polygon / star of circumradius r around (0, 0)."""
    if shape == "star":
        k = np.arange(10)
        radius = np.where(k % 2 == 0, r, r * star_inner)
        theta = angle + k * (math.pi / 5)
    else:
        n = {"square": 4, "triangle": 3}[shape]
        radius = np.full(n, r)
        theta = angle + np.arange(n) * (2 * math.pi / n)
    return np.stack([radius * np.cos(theta), radius * np.sin(theta)], axis=1)


def _coverage(sdf: np.ndarray) -> np.ndarray:
    """Analytic anti-aliasing: the fraction of a pixel inside (sdf in px, negative inside)."""
    return np.clip(0.5 - sdf, 0.0, 1.0)


def _composite(canvas: np.ndarray, box, alpha: np.ndarray, rgb) -> None:
    """Blend ``rgb`` (3,) or (h, w, 3) into canvas[box] with coverage ``alpha`` (h, w), in place."""
    x0, y0, x1, y1 = box
    region = canvas[y0:y1, x0:x1]
    region += alpha[..., None] * (np.asarray(rgb, dtype=np.float32) - region)


def _clip_box(x0, y0, x1, y1, w, h) -> tuple[int, int, int, int] | None:
    box = (max(0, int(math.floor(x0))), max(0, int(math.floor(y0))),
           min(w, int(math.ceil(x1))), min(h, int(math.ceil(y1))))
    return box if box[2] > box[0] and box[3] > box[1] else None


# ---------------------------------------------------------------- colours and backgrounds

def _shade(rng: np.random.Generator, colour: str) -> np.ndarray:
    """(3,) float32 RGB 0-255 of one shade of ``colour`` (HSV around its hue)."""
    centre, window, low_value = HUES[colour]
    hue = ((centre + rng.uniform(-window, window)) % 360.0) / 360.0
    r, g, b = colorsys.hsv_to_rgb(hue, rng.uniform(0.6, 1.0), rng.uniform(low_value, 1.0))
    return np.array([r, g, b], dtype=np.float32) * 255.0


def _neutral(rng: np.random.Generator, tint: np.ndarray, low: int = 0, high: int = 256) -> np.ndarray:
    """(3,) float32: a grey level in [low, high) plus the background's low-chroma tint."""
    return float(rng.integers(low, high)) + tint


def _value_noise(rng: np.random.Generator, w: int, h: int, octaves: int) -> np.ndarray:
    """(h, w) float32 in ~[-1, 1]: smooth noise, octaves of bilinearly upsampled random grids."""
    out = np.zeros((h, w), dtype=np.float32)
    amplitude, total = 1.0, 0.0
    cells = int(rng.integers(2, 6))
    for _ in range(octaves):
        grid = rng.uniform(-1, 1, size=(cells + 1, cells + 1)).astype(np.float32)
        out += amplitude * ndimage.zoom(grid, ((h + 1) / (cells + 1), (w + 1) / (cells + 1)),
                                        order=1, mode="nearest")[:h, :w]
        total += amplitude
        amplitude *= 0.55
        cells *= 2
    return out / total


def _background(rng: np.random.Generator, kind: str, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """-> ((h, w, 3) float32 0-255 busy but low-chroma background, (3,) its tint)."""
    tint = rng.normal(0, 1, 3).astype(np.float32)
    tint *= rng.uniform(0, 16) / max(float(np.linalg.norm(tint)), 1e-6)
    base = float(rng.integers(0, 256))
    if kind == "flat":
        grey = np.full((h, w), base, dtype=np.float32)
    elif kind in ("value_noise", "clutter"):
        contrast = rng.uniform(20, 90) if kind == "value_noise" else rng.uniform(5, 40)
        grey = base + contrast * _value_noise(rng, w, h, int(rng.integers(2, 6)))
    elif kind == "stripes":
        x, y = _grid((0, 0, w, h))
        theta = rng.uniform(0, math.pi)
        period = rng.uniform(4, max(6.0, min(w, h) / 3))
        wave = np.sin(2 * math.pi * (x * math.cos(theta) + y * math.sin(theta)) / period)
        wave = np.sign(wave) if rng.random() < 0.5 else wave
        grey = base + rng.uniform(15, 70) * wave
    elif kind == "tiles":
        x, y = _grid((0, 0, w, h))
        size = rng.uniform(4, max(6.0, min(w, h) / 4))
        checks = (np.floor(x / size) + np.floor(y / size)) % 2
        grey = base + rng.uniform(15, 70) * (checks - 0.5)
    else:
        raise ValueError(f"unknown background {kind!r}; expected one of {BACKGROUNDS}")
    canvas = np.repeat(grey[..., None], 3, axis=2) + tint
    if kind == "clutter":
        for _ in range(int(rng.integers(4, 16))):
            colour = _neutral(rng, tint)
            if rng.random() < 0.6:   # a stroke
                a = rng.uniform(0, 1, 2) * (w, h)
                b = a + rng.normal(0, 0.35, 2) * (w, h)
                half = rng.uniform(0.5, 0.02 * min(w, h) + 1.0)
                box = _clip_box(min(a[0], b[0]) - half - 1, min(a[1], b[1]) - half - 1,
                                max(a[0], b[0]) + half + 1, max(a[1], b[1]) + half + 1, w, h)
                if box:
                    _composite(canvas, box, _coverage(_segment_sdf(*_grid(box), a, b, half)), colour)
            else:                    # a blob or a ring
                c = rng.uniform(0, 1, 2) * (w, h)
                ra, rb = rng.uniform(0.03, 0.2, 2) * min(w, h) + 1.0
                box = _clip_box(c[0] - max(ra, rb) - 1, c[1] - max(ra, rb) - 1,
                                c[0] + max(ra, rb) + 1, c[1] + max(ra, rb) + 1, w, h)
                if box:
                    d = _ellipse_sdf(*_grid(box), c, ra, rb, rng.uniform(0, math.pi))
                    if rng.random() < 0.5:
                        d = np.abs(d) - rng.uniform(0.5, 0.15 * min(ra, rb) + 1.0)
                    _composite(canvas, box, _coverage(d), colour)
    return canvas, tint


def _fill(rng: np.random.Generator, kind: str, rgb: np.ndarray, x, y, r: float) -> np.ndarray:
    """(h, w, 3) float32 fill colour over the points (x, y): brightness patterns, hue kept."""
    if kind == "flat":
        factor = np.ones_like(x)
    elif kind == "shaded":
        theta = rng.uniform(0, 2 * math.pi)
        t = (x * math.cos(theta) + y * math.sin(theta)) / max(r, 1.0)
        factor = 1.0 + rng.uniform(0.1, 0.2) * (t - t.mean())
    elif kind == "stripes":
        theta = rng.uniform(0, math.pi)
        period = rng.uniform(3, max(4.0, r / 1.5))
        factor = 1.0 + rng.uniform(0.08, 0.18) * np.sign(
            np.sin(2 * math.pi * (x * math.cos(theta) + y * math.sin(theta)) / period))
    elif kind == "checks":
        size = rng.uniform(2, max(3.0, r / 2))
        factor = 1.0 + rng.uniform(0.08, 0.18) * (((np.floor(x / size) + np.floor(y / size)) % 2) - 0.5) * 2
    elif kind == "speckle":
        factor = 1.0 + rng.uniform(0.06, 0.14) * rng.standard_normal(x.shape).astype(np.float32)
    else:
        raise ValueError(f"unknown fill {kind!r}; expected one of {FILLS}")
    return np.clip(factor[..., None] * rgb, 0, 255)


# ---------------------------------------------------------------- one image

def _size(rng: np.random.Generator, small: bool) -> tuple[int, int, float]:
    """(width, height, circumscribed diameter) in px."""
    if small:
        diameter = rng.uniform(32, 64)
        long = math.exp(rng.uniform(math.log(diameter + 4), math.log(3.5 * diameter)))
        short = math.exp(rng.uniform(math.log(max(diameter + 2, long / 2)), math.log(long)))
    else:
        long = math.exp(rng.uniform(math.log(64), math.log(1024)))
        short = math.exp(rng.uniform(math.log(max(64, long / 2)), math.log(long)))
        diameter = rng.uniform(0.3, 0.85) * short
    long, short = round(long), max(round(short), math.ceil(diameter) + 2)
    w, h = (long, short) if rng.random() < 0.5 else (short, long)
    return w, h, diameter


def _occlude(rng: np.random.Generator, canvas: np.ndarray, shape_alpha: np.ndarray, box,
             cx: float, cy: float, r: float, tint: np.ndarray) -> float:
    """Paint a neutral bar or disc over 10-35% of the shape's area; returns the fraction covered."""
    x, y = _grid(box)
    area = float(shape_alpha.sum())
    for _ in range(30):
        angle = rng.uniform(0, 2 * math.pi)
        offset = rng.uniform(0.4, 1.1) * r
        ox, oy = cx + offset * math.cos(angle), cy + offset * math.sin(angle)
        if rng.random() < 0.5:
            length = rng.uniform(1.0, 3.0) * r
            d = _segment_sdf(x, y, (ox - length * math.sin(angle), oy + length * math.cos(angle)),
                             (ox + length * math.sin(angle), oy - length * math.cos(angle)),
                             rng.uniform(0.1, 0.35) * r)
        else:
            rr = rng.uniform(0.3, 0.7) * r
            d = _ellipse_sdf(x, y, (ox, oy), rr, rr, 0.0)
        alpha = _coverage(d)
        covered = float((alpha * shape_alpha).sum()) / max(area, 1e-6)
        if 0.10 <= covered <= 0.35:
            _composite(canvas, box, alpha, _neutral(rng, tint))
            return covered
    return 0.0


def _render(rng: np.random.Generator, colour: str | None,
            shape: str | None) -> tuple[Image.Image, EvalDrawing]:
    """Everything of eval_drawing except the JPEG round trip (its quality is drawn, not applied)."""
    if colour is None or shape is None:
        c, s = CLASSES[int(rng.integers(len(CLASSES)))]
        colour, shape = colour or c, shape or s
    if colour not in HUES or shape not in SHAPES:
        raise ValueError(f"unknown class {colour!r} {shape!r}; colours {list(HUES)}, shapes {SHAPES}")
    small = bool(rng.random() < 0.25)
    w, h, diameter = _size(rng, small)
    background = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    canvas, tint = _background(rng, background, w, h)

    r = diameter / 2
    cx, cy = rng.uniform(r + 1, w - r - 1), rng.uniform(r + 1, h - r - 1)
    box = _clip_box(cx - r - 2, cy - r - 2, cx + r + 2, cy + r + 2, w, h)
    x, y = _grid(box)
    rounding = rng.uniform(0, 0.08) * r if shape in ("square", "triangle") and rng.random() < 0.4 else 0.0
    if shape == "circle":
        sdf = np.hypot(x - cx, y - cy) - r
    else:
        vertices = _shape_vertices(shape, r - rounding, rng.uniform(0, 2 * math.pi),
                                   rng.uniform(0.36, 0.50)) + (cx, cy)
        sdf = _polygon_sdf(x, y, vertices) - rounding
    alpha = _coverage(sdf)
    rgb = _shade(rng, colour)
    fill = FILLS[int(rng.choice(len(FILLS), p=[0.4, 0.2, 0.15, 0.1, 0.15]))]
    _composite(canvas, box, alpha, _fill(rng, fill, rgb, x - cx, y - cy, r))
    outline = bool(rng.random() < 0.35)
    if outline:
        width = max(1.0, rng.uniform(0.05, 0.14) * r)
        pick = rng.random()
        ink = (np.full(3, rng.uniform(0, 40)) if pick < 0.4 else np.full(3, rng.uniform(225, 255))
               if pick < 0.6 else rgb * rng.uniform(0.35, 0.6))
        _composite(canvas, box, _coverage(np.abs(sdf + width / 2) - width / 2), ink)
    occluded = _occlude(rng, canvas, alpha, box, cx, cy, r, tint) if rng.random() < 0.25 else 0.0

    blur = float(rng.uniform(0.5, 1.5)) if rng.random() < 0.25 else 0.0
    if blur:
        canvas = ndimage.gaussian_filter(canvas, sigma=(blur, blur, 0))
    noise = float(rng.uniform(2, 10)) if rng.random() < 0.3 else 0.0
    if noise:
        canvas = canvas + rng.normal(0, noise, canvas.shape).astype(np.float32)
    pixelated = int(rng.integers(2, 5)) if rng.random() < 0.1 and min(w, h) >= 128 else 1
    if pixelated > 1:
        canvas = np.repeat(np.repeat(canvas[::pixelated, ::pixelated], pixelated, 0), pixelated, 1)[:h, :w]
    image = Image.fromarray(np.clip(np.rint(canvas), 0, 255).astype(np.uint8), mode="RGB")
    quality = int(rng.integers(25, 91)) if rng.random() < 0.6 else None
    return image, EvalDrawing(colour, shape, background, fill, outline, round(occluded, 3), small,
                              w, h, round(diameter, 1), round(blur, 2), round(noise, 2), pixelated, quality)


def eval_drawing(rng: np.random.Generator, colour: str | None = None,
                 shape: str | None = None) -> tuple[Image.Image, EvalDrawing]:
    """Draw one evaluation image; every unset property (class included) is random.

    Returns (RGB PIL image, its EvalDrawing); a drawing with a JPEG ``quality`` comes back
    decoded from those JPEG bytes. Raises ValueError for an unknown colour or shape.
    """
    image, d = _render(rng, colour, shape)
    if d.quality is not None:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=d.quality)
        buffer.seek(0)
        image = Image.open(buffer).convert("RGB")
    return image, d


def write_eval_folder(folder: str | Path, rng: np.random.Generator, per_class: int = 10) -> list[EvalDrawing]:
    """Write ``per_class`` evaluation images of each of the 24 classes into ``folder``.

    Files are named ``<colour>-<shape>-<n>.png``, or ``.jpg`` for drawings with a JPEG quality
    (compressed once, at that quality). Returns the EvalDrawings with their paths, in write order.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    drawings = []
    for colour, shape in CLASSES:
        for n in range(per_class):
            image, d = _render(rng, colour, shape)
            path = folder / f"{colour}-{shape}-{n:03d}.{'jpg' if d.quality else 'png'}"
            if d.quality:
                image.save(path, format="JPEG", quality=d.quality)
            else:
                image.save(path, format="PNG")
            drawings.append(replace(d, path=str(path)))
    return drawings
