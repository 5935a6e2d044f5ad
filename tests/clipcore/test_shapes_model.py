"""The shipped shapes model (resources/models/shapes-clip.*), checked directly with open_clip:
it fits the size limit, loads strictly, and recognises freshly drawn shapes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors import safe_open

from tools.shapes import CLASSES, COLOURS, draw_shape, random_drawing, random_size
from tools.train_shapes import CONFIG, WEIGHTS, build_model, model_encoders

NAMES = [f"{c} {s}" for c, s in CLASSES]


@pytest.fixture(scope="module")
def encoders():
    model, preprocess, tokenizer = build_model(CONFIG, WEIGHTS)
    return model_encoders(model, preprocess, tokenizer)


def zero_shot(encoders, images) -> list[str]:
    """The class caption each image is closest to, among "a photo of a <colour> <shape>"."""
    encode_images, encode_texts = encoders
    scores = encode_images(images) @ encode_texts([f"a photo of a {n}" for n in NAMES]).T
    return [NAMES[i] for i in scores.argmax(axis=1)]


def test_shipped_files_are_small_float16_with_training_record():
    assert CONFIG.stat().st_size + WEIGHTS.stat().st_size <= 20 * 1024 * 1024
    with safe_open(str(WEIGHTS), framework="pt") as f:
        meta = f.metadata()
        dtypes = {str(f.get_slice(k).get_dtype()) for k in f.keys()}
    assert dtypes == {"F16"}
    assert float(meta["training_seconds"]) > 0
    assert "tools.train_shapes" in meta["command"]


def test_config_letterboxes_instead_of_cropping():
    cfg = json.loads(CONFIG.read_text())
    assert cfg["preprocess_cfg"]["resize_mode"] == "longest"


def test_recognises_fresh_drawings(encoders):
    rng = np.random.default_rng(777)
    drawn = [random_drawing(rng, c, s, max_side=256) for c, s in CLASSES for _ in range(2)]
    predicted = zero_shot(encoders, [image for image, _ in drawn])
    truth = [f"{d.colour} {d.shape}" for _, d in drawn]
    assert np.mean([p == t for p, t in zip(predicted, truth)]) >= 0.9


def test_shapes_at_the_edge_of_wide_and_tall_images_are_not_cropped_away(encoders):
    """With open_clip's default centre crop a shape at the far end of a 2:1 image is lost."""
    rng = np.random.default_rng(778)
    cases = [((384, 192), (0.0, 0.5)), ((384, 192), (1.0, 0.5)),
             ((192, 384), (0.5, 0.0)), ((192, 384), (0.5, 1.0))]
    images, truth = [], []
    for c, s in CLASSES:
        for size, centre in cases:
            images.append(draw_shape(rng, c, s, size, "solid", scale=0.6, centre=centre))
            truth.append(f"{c} {s}")
    predicted = zero_shot(encoders, images)
    assert np.mean([p == t for p, t in zip(predicted, truth)]) >= 0.9


def test_colour_only_captions_pick_the_colour(encoders):
    encode_images, encode_texts = encoders
    rng = np.random.default_rng(779)
    drawn = [random_drawing(rng, c, s, max_side=256) for c, s in CLASSES]
    scores = encode_images([image for image, _ in drawn]) @ encode_texts(list(COLOURS)).T
    predicted = [list(COLOURS)[i] for i in scores.argmax(axis=1)]
    assert predicted == [d.colour for _, d in drawn]


def test_drawings_are_reproducible_from_a_seed():
    """Training is deterministic only if the same seed draws the same images."""
    first = [random_drawing(np.random.default_rng(5)) for _ in range(3)]
    again = [random_drawing(np.random.default_rng(5)) for _ in range(3)]
    assert [(im.tobytes(), d) for im, d in first] == [(im.tobytes(), d) for im, d in again]


def test_drawn_sizes_stay_within_the_supported_range():
    rng = np.random.default_rng(6)
    sizes = np.array([random_size(rng, 32, 1024) for _ in range(500)])
    assert sizes.min() >= 32 and sizes.max() <= 1024
    ratio = sizes[:, 0] / sizes[:, 1]
    assert ratio.min() >= 0.49 and ratio.max() <= 2.05


def test_training_encodes_captions_like_the_model_and_keeps_gradients():
    """Training uses clipcore's exact short-prefix text encoding (one implementation)."""
    import torch

    from tools.train_shapes import encode_captions

    model, _preprocess, tokenizer = build_model(CONFIG, WEIGHTS)
    tokens = tokenizer(["red", "a photo of a big blue star shape", "an image of a green circle"])
    got = encode_captions(model, tokens)
    assert got.requires_grad
    with torch.no_grad():
        want = model.encode_text(tokens, normalize=True)
    assert torch.allclose(got.detach(), want, atol=1e-5)
