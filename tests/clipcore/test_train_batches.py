"""What tools/train_shapes.py trains on: balanced batches, the plain-first curriculum, and the
held-out sets from the training renderers (a recipe choice is judged on them)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from tools import train_shapes
from tools.shapes import CLASSES, COLOURS, SHAPES
from tools.shapes_augment import augmented_drawing
from tools.shapes_metrics import draw_heldout


@pytest.fixture(scope="module")
def pipeline():
    _model, preprocess, tokenizer = train_shapes.build_model(train_shapes.CONFIG)
    return preprocess, tokenizer


def classes_of(labels: torch.Tensor) -> Counter:
    """(colour, shape) -> how many images of the batch show it (labels: DrawnBatches')."""
    return Counter((list(COLOURS)[c], SHAPES[s]) for c, s in labels[:, :2].tolist())


def test_balanced_batches_hold_every_class_equally(pipeline):
    batches = iter(train_shapes.DrawnBatches(0, 48, *pipeline, 96, "augmented", balanced=True))
    for _ in range(2):
        images, tokens, labels = next(batches)
        assert images.shape == (48, 3, 64, 64) and len(tokens) == 48
        assert classes_of(labels) == Counter({cls: 2 for cls in CLASSES})
    # 30 is not a multiple of 24: every class once, six of them twice.
    _images, _tokens, labels = next(iter(train_shapes.DrawnBatches(1, 30, *pipeline, 96, "plain",
                                                                   balanced=True)))
    counts = classes_of(labels)
    assert set(counts) == set(CLASSES) and sorted(counts.values()) == [1] * 18 + [2] * 6


def test_unbalanced_batches_pick_classes_at_random(pipeline):
    _images, _tokens, labels = next(iter(train_shapes.DrawnBatches(0, 48, *pipeline, 96, "plain")))
    assert classes_of(labels) != Counter({cls: 2 for cls in CLASSES})


def test_balanced_batches_are_reproducible_from_a_seed(pipeline):
    def first_two(seed):
        it = iter(train_shapes.DrawnBatches(seed, 24, *pipeline, 96, "augmented", balanced=True))
        return [next(it) for _ in range(2)]

    for a, b in zip(first_two(3), first_two(3)):
        assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(first_two(3)[0][0], first_two(4)[0][0])


def test_curriculum_draws_the_first_batches_plain(pipeline, monkeypatch):
    """--plain-first: the first batches come from tools/shapes.py only, the rest from --data."""
    calls: list[str] = []

    def spy(name, draw):
        def wrapped(*args, **kwargs):
            calls.append(name)
            return draw(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(train_shapes, "random_drawing", spy("plain", train_shapes.random_drawing))
    monkeypatch.setattr(train_shapes, "augmented_drawing", spy("augmented", augmented_drawing))
    batches = iter(train_shapes.DrawnBatches(0, 8, *pipeline, 96, "augmented", plain_batches=2))
    seen = []
    for _ in range(3):
        calls.clear()
        next(batches)
        seen.append(set(calls))
    assert seen == [{"plain"}, {"plain"}, {"augmented"}]


def test_augmented_drawing_draws_the_class_asked_for():
    rng = np.random.default_rng(8)
    for colour, shape in CLASSES[::5]:
        image, d = augmented_drawing(rng, 96, colour, shape)
        assert (d.colour, d.shape) == (colour, shape) and image.size == (d.width, d.height)


def test_heldout_sets_from_the_augmented_renderer_come_class_by_class():
    images, labels, records = draw_heldout("augmented", seed=5, per_class=2, max_side=96)
    assert labels == [f"{c} {s}" for c, s in CLASSES for _ in range(2)]
    assert [f"{r.colour} {r.shape}" for r in records] == labels
    # max_side bounds the larger images; small shapes come in images of at most 3.5 x 72 px
    assert all(max(im.size) <= 252 for im in images)
    again, _, _ = draw_heldout("augmented", seed=5, per_class=2, max_side=96)
    assert [im.tobytes() for im in images] == [im.tobytes() for im in again]
    with pytest.raises(ValueError, match="unknown renderer"):
        draw_heldout("nope", seed=5, per_class=1)


def test_averaged_label_aware_loss_leaves_no_colour_only_shortcut():
    """Two red circles, captions "red" and "a circle" (both true of both). An image that
    matches only the colour caption (shape-blind) costs nothing with the log of the mass on
    the positives (the shortcut that learned colour but not shape), but costs with the mean
    of -log p over the positives (label-average): each true caption needs its share."""
    from tools.train_shapes import COLOUR_INDEX, SHAPE_INDEX, label_aware_loss

    red, circle = COLOUR_INDEX["red"], SHAPE_INDEX["circle"]
    labels = torch.tensor([[red, circle, red, -1], [red, circle, -1, circle]])
    images = torch.tensor([[1.0, 0.0], [1.0, 0.0]])          # both on the colour caption
    texts = torch.tensor([[1.0, 0.0], [0.0, 1.0]])           # "red", "a circle"
    scale = torch.tensor(20.0)
    shortcut = label_aware_loss(images, texts, scale, labels, image_weight=0.0)
    averaged = label_aware_loss(images, texts, scale, labels, image_weight=0.0, average=True)
    assert float(shortcut) == pytest.approx(0.0, abs=1e-5)
    assert float(averaged) > 1.0
    # Both captions given an equal share: the averaged loss falls to its floor, log 2.
    both = torch.nn.functional.normalize(torch.tensor([[1.0, 1.0], [1.0, 1.0]]), dim=-1)
    assert float(label_aware_loss(both, texts, scale, labels, image_weight=0.0, average=True)) < float(averaged)
