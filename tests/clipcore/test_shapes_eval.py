"""The evaluation renderer (tools/shapes_eval.py) draws what it says, from its own code, and
training never sees it: otherwise its numbers would not measure generalisation."""

from __future__ import annotations

import ast
import colorsys
import math
from pathlib import Path

import numpy as np
import pytest

from tools import shapes_eval
from tools.shapes_eval import BACKGROUNDS, CLASSES, FILLS, HUES, eval_drawing

TOOLS = Path(shapes_eval.__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
    return names


@pytest.fixture(scope="module")
def drawn():
    rng = np.random.default_rng(31)
    return [eval_drawing(rng, c, s) for _ in range(6) for c, s in CLASSES]


def test_shares_no_drawing_code_with_the_training_renderer():
    assert not {m for m in imported_modules(TOOLS / "shapes_eval.py") if m.startswith("tools")}


def test_training_never_uses_the_evaluation_renderer(monkeypatch):
    """Neither the training script nor the renderers it draws with import it, and drawing a
    training batch never calls it (it is made to fail here)."""
    from tools.train_shapes import CONFIG, DrawnBatches, build_model

    for name in ("train_shapes.py", "shapes.py", "shapes_augment.py"):
        assert "tools.shapes_eval" not in imported_modules(TOOLS / name), name

    def refuse(*args, **kwargs):
        raise AssertionError("training drew with the evaluation renderer")

    monkeypatch.setattr(shapes_eval, "eval_drawing", refuse)
    monkeypatch.setattr(shapes_eval, "_render", refuse)
    _model, preprocess, tokenizer = build_model(CONFIG)
    for data in ("plain", "augmented"):
        images, tokens, labels = next(iter(DrawnBatches(0, 16, preprocess, tokenizer, 128, data)))
        assert images.shape == (16, 3, 64, 64) and len(tokens) == 16 and labels.shape == (16, 4)


def test_drawings_are_reproducible_from_a_seed():
    first = [eval_drawing(np.random.default_rng(9)) for _ in range(2)]
    again = [eval_drawing(np.random.default_rng(9)) for _ in range(2)]
    assert [(im.tobytes(), d) for im, d in first] == [(im.tobytes(), d) for im, d in again]


def test_draws_every_kind_of_difficulty(drawn):
    records = [d for _, d in drawn]
    assert {d.background for d in records} == set(BACKGROUNDS)
    assert {d.fill for d in records} == set(FILLS)
    for flag in ("outline", "small", "occluded", "blur", "noise", "quality"):
        assert 0.1 < np.mean([bool(getattr(d, flag)) for d in records]) < 0.9, flag
    for image, d in drawn:
        assert image.size == (d.width, d.height) and image.mode == "RGB"
        assert 32 <= min(d.width, d.height) and max(d.width, d.height) <= 1024
        assert d.diameter <= min(d.width, d.height)
        if d.small:
            assert 32 <= d.diameter <= 64 and max(d.width, d.height) <= 3.5 * d.diameter + 1
        assert d.occluded == 0 or 0.1 <= d.occluded <= 0.35


def test_shapes_have_their_class_area_and_colour(drawn):
    """In clean drawings (no occluder, outline, JPEG, blur, noise), the saturated pixels are the
    shape (backgrounds are low-chroma): their area over the circumscribed circle's is the
    class's (circle 1, square 2/pi, triangle 3*sqrt(3)/(4*pi), star 0.34-0.47; plus the
    anti-aliased rim, up to ~8% on a 32 px shape) and their hue is the colour's."""
    want = {"circle": (0.92, 1.06), "square": (0.56, 0.69), "triangle": (0.37, 0.47), "star": (0.30, 0.51)}
    checked = 0
    for image, d in drawn:
        if d.occluded or d.outline or d.quality or d.blur or d.noise or d.pixelated > 1:
            continue
        rgb = np.asarray(image, dtype=np.float32) / 255
        chroma = rgb.max(axis=2) - rgb.min(axis=2)
        shape = chroma > 0.3
        ratio = shape.sum() / (math.pi * (d.diameter / 2) ** 2)
        low, high = want[d.shape]
        assert low <= ratio <= high, (d, ratio)
        r, g, b = np.median(rgb[shape], axis=0)
        hue = colorsys.rgb_to_hsv(r, g, b)[0] * 360
        centre, window, _ = HUES[d.colour]
        assert abs((hue - centre + 180) % 360 - 180) <= window + 4, (d, hue)
        checked += 1
    assert checked >= 8


def test_written_folder_names_each_file_by_its_class(tmp_path):
    from PIL import Image

    drawings = shapes_eval.write_eval_folder(tmp_path, np.random.default_rng(3), per_class=1)
    assert len(drawings) == len(CLASSES)
    for d in drawings:
        path = Path(d.path)
        assert path.name.startswith(f"{d.colour}-{d.shape}-")
        assert path.suffix == (".jpg" if d.quality else ".png")
        with Image.open(path) as im:
            assert im.size == (d.width, d.height)
