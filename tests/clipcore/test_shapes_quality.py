"""Search quality end to end with the shipped shapes model: draw a fresh held-out library,
index it with the real indexer, and query it through the public Searcher. Twice: drawn by the
training renderer (tools/shapes.py) and by the independent evaluation renderer
(tools/shapes_eval.py: other drawing code, outlines, textures, busy backgrounds, occlusion,
small shapes, JPEG artefacts), which training never sees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clipcore.encoder import Encoder
from clipcore.indexer import index_folders
from clipcore.library import Library
from clipcore.presets import resolve_model_spec
from clipcore.search import Searcher
from tools.shapes import BACKGROUNDS, CLASSES, COLOURS, draw_shape, random_size, write_labelled_folder
from tools.shapes_eval import eval_drawing, write_eval_folder

pytestmark = pytest.mark.slow   # end to end: draws, indexes and searches 288 + 264 images (~50 s)

PER_CLASS = 12   # > 10, so precision@10 can be perfect without every image being in the top 10
EVAL_PER_CLASS = 11   # the evaluation renderer's library: a small sample, >= 11 for precision@10
# What the evaluation renderer's small sample must reach: a floor under the shipped model (the
# issue's targets, text 0.97 and image 0.95, are benchmarks/shapes_quality.py's, on 20 images
# per class; here 24 queries of 10 hits over 11 per class, one query drawing per class). The
# model of 2026-11-30 (augmented data, label-average loss) reaches text 0.954 and image 0.896
# here; the one before it reached text 0.78.
EVAL_TEXT_P10, EVAL_IMAGE_P10 = 0.9, 0.8


def label(hit) -> tuple[str, str]:
    """(colour, shape) from a file name written by write_labelled_folder: red-circle-003.png."""
    colour, shape, _ = Path(hit.path).name.split("-")
    return colour, shape


@pytest.fixture(scope="module")
def searcher(tmp_path_factory):
    photos = tmp_path_factory.mktemp("shapes-photos")
    drawings = write_labelled_folder(photos, np.random.default_rng(2024), PER_CLASS,
                                     max_side=512, large=1, jpeg_probability=0.5)
    assert {d.background for d in drawings} == set(BACKGROUNDS)
    assert {d.format for d in drawings} == {"PNG", "JPEG"}

    encoder = Encoder.load(resolve_model_spec("shapes", device="cpu"))
    library = Library.open(tmp_path_factory.mktemp("shapes-data"))
    events = list(index_folders(library, [str(photos)], encoder.spec, encoder=encoder))
    summary = events[-1].summary
    assert (summary.new, summary.skipped) == (len(drawings), 0)
    yield Searcher(library, lambda: encoder)
    library.close()


@pytest.fixture(scope="module")
def eval_searcher(tmp_path_factory):
    """A library of evaluation-renderer drawings, indexed by the real indexer."""
    photos = tmp_path_factory.mktemp("shapes-eval-photos")
    drawings = write_eval_folder(photos, np.random.default_rng(2026), EVAL_PER_CLASS)
    assert any(d.small for d in drawings) and any(d.occluded for d in drawings)
    assert any(d.outline for d in drawings) and any(d.quality for d in drawings)

    encoder = Encoder.load(resolve_model_spec("shapes", device="cpu"))
    library = Library.open(tmp_path_factory.mktemp("shapes-eval-data"))
    events = list(index_folders(library, [str(photos)], encoder.spec, encoder=encoder))
    assert (events[-1].summary.new, events[-1].summary.skipped) == (len(drawings), 0)
    yield Searcher(library, lambda: encoder)
    library.close()


def precision_at_10(hits, wanted) -> float:
    assert len(hits) == 10
    return float(np.mean([wanted(label(h)) for h in hits]))


def test_text_queries_find_each_class(searcher):
    precision = [precision_at_10(searcher.search(f"a {c} {s}", k=10), lambda l, c=c, s=s: l == (c, s))
                 for c, s in CLASSES]
    assert np.mean(precision) >= 0.9, dict(zip(CLASSES, precision))


def test_image_queries_find_the_same_class(searcher):
    rng = np.random.default_rng(2025)
    precision = []
    for n, (c, s) in enumerate(CLASSES):
        query = draw_shape(rng, c, s, random_size(rng, 64, 512), BACKGROUNDS[n % len(BACKGROUNDS)])
        precision.append(precision_at_10(searcher.search(image=query, k=10), lambda l, c=c, s=s: l == (c, s)))
    assert np.mean(precision) >= 0.9, dict(zip(CLASSES, precision))


def test_colour_only_queries_return_that_colour(searcher):
    precision = [precision_at_10(searcher.search(c, k=10), lambda l, c=c: l[0] == c) for c in COLOURS]
    assert np.mean(precision) >= 0.9, dict(zip(COLOURS, precision))


def test_negative_terms_push_a_colour_down(searcher):
    for colour in COLOURS:
        with_colour = searcher.search(f"{colour} circle", k=10)
        without = searcher.search(f"{colour} circle - {colour}", k=10)
        count = lambda hits, colour=colour: sum(label(h)[0] == colour for h in hits)   # noqa: E731
        assert count(without) < count(with_colour), colour


def test_two_red_circles_as_examples_rank_red_circles_first_and_less_like_blue_pushes_blue_out(
        searcher):
    """'More like these' over two indexed red circles (their stored vectors: no encoding), then
    a red and a blue circle as examples (blue circles come in), then another blue circle as an
    example against (they go out again)."""
    from clipcore.search import Example

    circles = {c: sorted(h.path for h in searcher.search(f"a {c} circle", k=40)
                         if label(h) == (c, "circle")) for c in ("red", "blue")}
    red, blue = circles["red"][:2], circles["blue"][:2]
    hits = searcher.search(examples=[red[0], red[1]], k=10)
    assert precision_at_10(hits, lambda l: l == ("red", "circle")) >= 0.9

    mixed = searcher.search(examples=[red[0], blue[0]], k=10)
    assert sum(label(h) == ("blue", "circle") for h in mixed) >= 3      # blue circles come in ...
    against = searcher.search(examples=[red[0], blue[0], Example(blue[1], -1.0)], k=10)
    assert not any(label(h) == ("blue", "circle") for h in against)   # ... and are pushed out
    assert precision_at_10(against, lambda l: l == ("red", "circle")) >= 0.9


def test_text_queries_find_each_class_drawn_by_another_renderer(eval_searcher):
    precision = [precision_at_10(eval_searcher.search(f"a {c} {s}", k=10), lambda l, c=c, s=s: l == (c, s))
                 for c, s in CLASSES]
    assert np.mean(precision) >= EVAL_TEXT_P10, dict(zip(CLASSES, precision))


def test_image_queries_find_the_same_class_drawn_by_another_renderer(eval_searcher):
    """A fresh evaluation drawing of each class as the query (not one of the library's)."""
    rng = np.random.default_rng(2027)
    precision = []
    for c, s in CLASSES:
        query, _ = eval_drawing(rng, c, s)
        precision.append(precision_at_10(eval_searcher.search(image=query, k=10),
                                         lambda l, c=c, s=s: l == (c, s)))
    assert np.mean(precision) >= EVAL_IMAGE_P10, dict(zip(CLASSES, precision))
