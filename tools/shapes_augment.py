"""Harder training drawings for the shapes model: tools/shapes.py plus real-world artefacts.

The model must recognise shapes drawn by code it never saw (tools/shapes_eval.py, which training
never imports). So training draws, with Pillow (ImageDraw on a supersampled mask, ImageFilter,
the JPEG codec) and a little numpy, the *kinds* of variation photos and drawings have:

- colours: the base colour +-20 per channel (tools/shapes.py), then desaturated towards grey by
  up to 35% and brightness scaled by 0.7-1.1;
- shapes: a star's inner radius 0.34-0.52 of its outer one;
- fills: flat, a linear light gradient, stripes, checks or speckle (brightness only);
- outlines (35%): a ring eroded out of the shape's mask, black, white or a darker shade;
- backgrounds: tools/shapes.py's solid / gradient / noise, or stripes, checks, or clutter (grey
  lines, ellipses and rings) over them, all with a low-chroma tint;
- occlusion (25%): a neutral rectangle or ellipse over 5-40% of the shape;
- small shapes (25%): a circumscribed diameter of 24-72 px in an image at most 3.5x that;
- blur (25%), sensor noise (30%), pixelation (10%), JPEG at quality 20-95 (60%).

A fifth of the drawings are tools/shapes.py's plain ones (random_drawing). A seed gives the
same images on every run.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from tools.shapes import (BACKGROUNDS, CLASSES, COLOURS, JITTER, Drawing, _background, _outline,
                          random_drawing, random_size)

__all__ = ["augmented_drawing"]

PLAIN = 0.2   # share of plain tools/shapes.py drawings


def _size(rng: np.random.Generator, max_side: int) -> tuple[int, int, float]:
    """(width, height, circumscribed diameter) in px."""
    if rng.random() < 0.25:
        diameter = rng.uniform(24, 72)
        long = math.exp(rng.uniform(math.log(diameter + 4), math.log(3.5 * diameter)))
        short = math.exp(rng.uniform(math.log(max(diameter + 2, long / 2)), math.log(long)))
        long, short = round(long), max(round(short), math.ceil(diameter) + 2)
        return ((long, short) if rng.random() < 0.5 else (short, long)) + (diameter,)
    w, h = random_size(rng, 32, max_side)
    return w, h, rng.uniform(0.22, 0.88) * min(w, h)


def _tinted(rng: np.random.Generator, grey: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """An RGB float32 (h, w, 3) array of ``grey`` plus a random low-chroma tint, and the tint."""
    tint = rng.uniform(-1, 1, 3) * rng.uniform(0, 10)
    return np.asarray(grey.convert("L"), dtype=np.float32)[..., None] + tint, tint


def _busy(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """(h, w, 3) float32 background and its tint: plain, or with stripes / checks / clutter."""
    base = _background(rng, BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))], w, h).convert("L")
    kind = rng.choice(["plain", "stripes", "checks", "clutter"], p=[0.3, 0.2, 0.15, 0.35])
    pen = ImageDraw.Draw(base)
    if kind == "stripes":
        period = rng.uniform(4, max(6.0, min(w, h) / 3))
        level = int(rng.integers(0, 256))
        big = Image.new("L", (2 * max(w, h),) * 2, 0)
        stripe = ImageDraw.Draw(big)
        for x in np.arange(0, big.width, period):
            stripe.rectangle([x, 0, x + period * rng.uniform(0.3, 0.7), big.height], fill=255)
        big = big.rotate(rng.uniform(0, 180))
        side = big.width
        mask = big.crop(((side - w) // 2, (side - h) // 2, (side - w) // 2 + w, (side - h) // 2 + h))
        base.paste(level, mask=mask.point(lambda v: int(v * 0.6)))
    elif kind == "checks":
        size = rng.uniform(4, max(6.0, min(w, h) / 4))
        cells = (np.indices((int(h / size) + 2, int(w / size) + 2)).sum(axis=0) % 2).astype(np.uint8) * 255
        mask = Image.fromarray(cells, "L").resize((int(cells.shape[1] * size), int(cells.shape[0] * size)),
                                                  Image.Resampling.NEAREST).crop((0, 0, w, h))
        base.paste(int(rng.integers(0, 256)), mask=mask.point(lambda v: int(v * 0.5)))
    elif kind == "clutter":
        for _ in range(int(rng.integers(3, 15))):
            level = int(rng.integers(0, 256))
            x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
            if rng.random() < 0.6:
                pen.line([x0, y0, x0 + rng.normal(0, 0.35) * w, y0 + rng.normal(0, 0.35) * h], fill=level,
                         width=max(1, int(rng.uniform(1, 0.04 * min(w, h) + 2))))
            else:
                a, b = rng.uniform(0.03, 0.2, 2) * min(w, h) + 1
                box = [x0 - a, y0 - b, x0 + a, y0 + b]
                if rng.random() < 0.5:
                    pen.ellipse(box, fill=level)
                else:
                    pen.ellipse(box, outline=level, width=max(1, int(rng.uniform(1, 0.3 * min(a, b) + 1))))
    return _tinted(rng, base)


def _pattern(rng: np.random.Generator, w: int, h: int, r: float) -> np.ndarray:
    """(h, w) float32 brightness factor of the fill (1 = flat)."""
    kind = rng.choice(["flat", "gradient", "stripes", "checks", "speckle"], p=[0.4, 0.2, 0.15, 0.1, 0.15])
    if kind == "flat":
        return np.ones((h, w), dtype=np.float32)
    amount = rng.uniform(0.06, 0.22)
    if kind == "gradient":
        ramp = Image.linear_gradient("L").resize((w, h)).rotate(rng.uniform(0, 360), expand=False,
                                                                 fillcolor=128)
        return 1 + amount * (np.asarray(ramp, dtype=np.float32) / 127.5 - 1)
    if kind == "speckle":
        return 1 + amount * rng.standard_normal((h, w)).astype(np.float32)
    size = max(1, int(rng.uniform(2, max(3.0, r / 2))))
    if kind == "checks":
        grid = np.indices((h // size + 1, w // size + 1)).sum(axis=0) % 2
        return 1 + amount * (2 * np.kron(grid, np.ones((size, size)))[:h, :w].astype(np.float32) - 1)
    rows = (np.arange(max(w, h) * 2) // size) % 2 * 255
    band = Image.fromarray(np.tile(rows.astype(np.uint8)[:, None], (1, max(w, h) * 2)), "L")
    band = band.rotate(rng.uniform(0, 180)).crop((0, 0, w, h))
    return 1 + amount * (np.asarray(band, dtype=np.float32) / 127.5 - 1)


def _mask(shape: str, w: int, h: int, cx: float, cy: float, r: float, angle: float,
          inner: float) -> Image.Image:
    """An anti-aliased L mask (supersampled, box-reduced) of one shape."""
    ss = max(1, min(4, 1024 // max(w, h)))
    mask = Image.new("L", (w * ss, h * ss), 0)
    pen = ImageDraw.Draw(mask)
    if shape == "circle":
        pen.ellipse([(cx - r) * ss, (cy - r) * ss, (cx + r) * ss, (cy + r) * ss], fill=255)
    else:
        points = _outline(shape, cx, cy, r, angle)
        if shape == "star":
            points = [(cx + (x - cx) * (1 if i % 2 == 0 else inner / 0.42),
                       cy + (y - cy) * (1 if i % 2 == 0 else inner / 0.42)) for i, (x, y) in enumerate(points)]
        pen.polygon([(x * ss, y * ss) for x, y in points], fill=255)
    return mask.resize((w, h), Image.Resampling.BOX) if ss > 1 else mask


def augmented_drawing(rng: np.random.Generator, max_side: int = 384, colour: str | None = None,
                      shape: str | None = None) -> tuple[Image.Image, Drawing]:
    """One random training image with the artefacts above; (RGB image, Drawing).

    ``max_side`` (px) bounds the larger images (small shapes are drawn in small images anyway).
    ``colour`` and ``shape`` fix the class (both or neither; default: a random class).
    The Drawing's ``background`` names what was drawn ("augmented" unless plain).
    """
    if rng.random() < PLAIN:
        return random_drawing(rng, colour, shape, max_side=max_side)
    if colour is None or shape is None:
        colour, shape = CLASSES[int(rng.integers(len(CLASSES)))]
    w, h, diameter = _size(rng, max_side)
    canvas, tint = _busy(rng, w, h)
    r = diameter / 2
    cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
    mask = _mask(shape, w, h, cx, cy, r, rng.uniform(0, 2 * math.pi), rng.uniform(0.34, 0.52))
    alpha = np.asarray(mask, dtype=np.float32)[..., None] / 255

    rgb = np.clip(np.array(COLOURS[colour]) + rng.integers(-JITTER, JITTER + 1, size=3), 0, 255).astype(np.float32)
    grey = rgb.mean()
    rgb = (grey + (rgb - grey) * rng.uniform(0.65, 1.0)) * rng.uniform(0.7, 1.1)
    fill = np.clip(_pattern(rng, w, h, r)[..., None] * rgb, 0, 255)
    canvas = canvas + alpha * (fill - canvas)
    if rng.random() < 0.35:   # an outline: the mask minus the mask eroded
        width = max(1, int(round(rng.uniform(0.05, 0.15) * r)))
        inner = mask.filter(ImageFilter.MinFilter(2 * width + 1)) if width < 12 else \
            mask.resize((max(1, w // 4), max(1, h // 4))).filter(ImageFilter.MinFilter(2 * (width // 4) + 1)).resize((w, h))
        ring = np.clip(alpha[..., 0] - np.asarray(inner, dtype=np.float32) / 255, 0, 1)[..., None]
        pick = rng.random()
        ink = (np.full(3, rng.uniform(0, 50)) if pick < 0.4 else np.full(3, rng.uniform(210, 255))
               if pick < 0.6 else rgb * rng.uniform(0.3, 0.65))
        canvas = canvas + ring * (ink - canvas)
    if rng.random() < 0.25:   # a neutral occluder over part of the shape
        for _ in range(10):
            occluder = Image.new("L", (w, h), 0)
            pen = ImageDraw.Draw(occluder)
            t = rng.uniform(0, 2 * math.pi)
            ox, oy = cx + rng.uniform(0.4, 1.1) * r * math.cos(t), cy + rng.uniform(0.4, 1.1) * r * math.sin(t)
            a, b = rng.uniform(0.2, 0.7) * r, rng.uniform(0.2, 1.5) * r
            if rng.random() < 0.5:
                pen.ellipse([ox - a, oy - a, ox + a, oy + a], fill=255)
            else:
                c, s = math.cos(t), math.sin(t)
                pen.polygon([(ox + u * c - v * s, oy + u * s + v * c)
                             for u, v in ((-a / 2, -b * 2), (a / 2, -b * 2), (a / 2, b * 2), (-a / 2, b * 2))],
                            fill=255)
            cover = np.asarray(occluder, dtype=np.float32)[..., None] / 255
            if 0.05 <= float((cover * alpha).sum() / max(alpha.sum(), 1e-6)) <= 0.4:
                canvas = canvas + cover * (rng.uniform(0, 255) + tint - canvas)
                break
    image = Image.fromarray(np.clip(np.rint(canvas), 0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.25:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.6)))
    if rng.random() < 0.3:
        noisy = np.asarray(image, dtype=np.float32) + rng.normal(0, rng.uniform(2, 12), (h, w, 3))
        image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.1 and min(w, h) >= 96:
        f = int(rng.integers(2, 5))
        image = image.resize((max(1, w // f), max(1, h // f)), Image.Resampling.NEAREST).resize(
            (w, h), Image.Resampling.NEAREST)
    quality = int(rng.integers(20, 96)) if rng.random() < 0.6 else None
    if quality is not None:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        image = Image.open(buffer).convert("RGB")
    return image, Drawing(colour, shape, "augmented", w, h, "JPEG" if quality else "PNG", quality)
