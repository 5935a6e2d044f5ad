"""Subtracting an image: `beach - ~/x.jpg` means "like beach, unlike this photo". The minus sign
before an image term must count exactly as it does before a text term."""

from __future__ import annotations

import numpy as np
import pytest

from clipcore.query import parse_query, query_vector
from tests.helpers.e2e import make_photos


def _terms(text):
    return [(t.weight, t.kind, t.value) for t in parse_query(text)]


@pytest.fixture
def photo(tmp_path, monkeypatch):
    """An image file at ~/x.png (HOME is this test's folder), also the current directory."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    made = make_photos(tmp_path / "made", 1)[0]
    return made.rename(tmp_path / "x.png")


@pytest.mark.parametrize("spelling", ["~/x.png", "x.png", "ABS"])
def test_a_minus_before_an_image_term_makes_its_weight_negative(photo, spelling):
    spelling = str(photo) if spelling == "ABS" else spelling
    assert _terms(f"beach - {spelling}") == [(1.0, "text", "beach"), (-1.0, "image", str(photo))]
    assert _terms(f"beach - 2:{spelling}") == [(1.0, "text", "beach"), (-2.0, "image", str(photo))]
    assert _terms(f"- {spelling} + beach") == [(-1.0, "image", str(photo)), (1.0, "text", "beach")]


class _AxisEncoder:
    """A stand-in Encoder whose embeddings are unit axes: every text is e0, every image e1, so
    the query vector shows each term's signed weight directly."""

    image_size = 32

    def preprocess(self, image):
        import torch

        return torch.zeros(3, self.image_size, self.image_size)

    def encode_texts(self, texts):
        return np.tile(np.eye(4, dtype=np.float32)[0], (len(texts), 1))

    def encode_images(self, images):
        return np.tile(np.eye(4, dtype=np.float32)[1], (len(images), 1))


def test_a_subtracted_image_points_the_query_away_from_it(photo):
    vector = query_vector(parse_query("beach - ~/x.png"), _AxisEncoder())
    np.testing.assert_allclose(vector, np.array([1, -1, 0, 0]) / np.sqrt(2), atol=1e-6)
    vector = query_vector(parse_query("beach - 3:~/x.png"), _AxisEncoder())
    np.testing.assert_allclose(vector, np.array([1, -3, 0, 0]) / np.sqrt(10), atol=1e-6)


def test_searching_for_a_photo_minus_another_scores_the_other_below_zero(tmp_path, tiny_spec):
    """End to end with the real (tiny) model: `A - B` over a library of photos ranks and scores
    the photos by their stored vectors against normalise(v_A - v_B); B scores below zero."""
    from clipcore.encoder import Encoder
    from clipcore.indexer import index_folders
    from clipcore.library import Library
    from clipcore.search import Searcher

    photos = make_photos(tmp_path / "photos", 8, seed=21, size=32)
    with Library.open(tmp_path / "data") as library:
        list(index_folders(library, [str(tmp_path / "photos")], tiny_spec))
        identity = tiny_spec.identity()
        stored = {str(p): library.vector(library.find_image(str(p)).id, identity) for p in photos}
        encoder = Encoder.load(tiny_spec)
        a, b = str(photos[2]), str(photos[5])
        hits = Searcher(library, lambda: encoder).search(f"{a} - {b}", k=8)

    query = stored[a] - stored[b]
    query /= np.linalg.norm(query)
    expected = sorted(((float(v @ query), path) for path, v in stored.items()), reverse=True)
    assert [h.path for h in hits] == [path for _, path in expected]
    score = {h.path: h.score for h in hits}
    assert score[a] > 0 > score[b]     # like A, unlike B (B scores -sqrt((1 - cos(A, B)) / 2))
    np.testing.assert_allclose([h.score for h in hits], [s for s, _ in expected], atol=2e-3)
