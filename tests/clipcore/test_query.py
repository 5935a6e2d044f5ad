"""The query language: what a user types -> weighted text/image terms -> one query vector."""

from __future__ import annotations

import numpy as np
import pytest

from clipcore.errors import QueryError
from clipcore.query import Term, image_term, parse_query, query_vector
from tests.helpers.e2e import make_photos


def _terms(text):
    return [(t.weight, t.kind, t.value) for t in parse_query(text)]


@pytest.mark.parametrize("text, expected", [
    ("beach", [(1.0, "text", "beach")]),
    ("beach at sunset", [(1.0, "text", "beach at sunset")]),
    ("beach + sunset - people",
     [(1.0, "text", "beach"), (1.0, "text", "sunset"), (-1.0, "text", "people")]),
    ("2:cat + dog", [(2.0, "text", "cat"), (1.0, "text", "dog")]),
    ("0.5:red", [(0.5, "text", "red")]),
    (".5:red car", [(0.5, "text", "red car")]),
    ("sea - 2:boats", [(1.0, "text", "sea"), (-2.0, "text", "boats")]),
    ("- people + dog", [(-1.0, "text", "people"), (1.0, "text", "dog")]),
    ("+ dog", [(1.0, "text", "dog")]),
    # + and - inside words, or not standing alone, are text
    ("t-shirt", [(1.0, "text", "t-shirt")]),
    ("C++ book - t-shirt", [(1.0, "text", "C++ book"), (-1.0, "text", "t-shirt")]),
    ("-5 degrees", [(1.0, "text", "-5 degrees")]),
    ("cat+dog", [(1.0, "text", "cat+dog")]),
    # a colon followed by a digit is not a weight
    ("12:30 meeting", [(1.0, "text", "12:30 meeting")]),
    # quotes group (operators inside are text) and are removed
    ('"rock + roll" - guitar', [(1.0, "text", "rock + roll"), (-1.0, "text", "guitar")]),
    ('2:"a - b"', [(2.0, "text", "a - b")]),
    ('"+"', [(1.0, "text", "+")]),
    ("  spaced   out  ", [(1.0, "text", "spaced   out")]),
])
def test_parse_query(text, expected):
    assert _terms(text) == expected


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("   \t\n", "empty"),
    ("+", "ends with '+'"),
    ("-", "ends with '-'"),
    ("+ -", "between two operators"),
    ("cat +", "ends with '+'"),
    ("cat + - dog", "between two operators"),
    ("2:", "no words"),
    ('cat + ""', "no words"),
    ('"unclosed', "unclosed"),
])
def test_bad_queries_raise_a_one_sentence_query_error(text, words):
    with pytest.raises(QueryError) as info:
        parse_query(text)
    message = str(info.value)
    assert words in message
    assert "\n" not in message


def test_a_term_naming_an_image_file_is_an_image_term(tmp_path, monkeypatch):
    photo = make_photos(tmp_path / "photos", 1)[0]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))

    absolute, relative, home = (str(photo), "photos/" + photo.name, "~/photos/" + photo.name)
    for spelling in (absolute, relative, home):
        assert _terms(f"sunset + 0.5:{spelling}") == [
            (1.0, "text", "sunset"), (0.5, "image", str(photo))]
    # a path with spaces, quoted because of its " - "
    spaced = photo.rename(tmp_path / "photos" / "Holiday - 2020.png")
    assert _terms(f'"{spaced}" - sea') == [(1.0, "image", str(spaced)), (-1.0, "text", "sea")]


def test_a_missing_image_path_is_an_error_not_text(tmp_path):
    with pytest.raises(QueryError, match="does not exist"):
        parse_query(f"{tmp_path}/nope.jpg + cat")


def test_image_term_accepts_paths_images_and_bytes(tmp_path):
    photo = make_photos(tmp_path, 1)[0]
    assert image_term(photo) == Term(1.0, "image", str(photo))
    assert image_term(photo.read_bytes(), -2).weight == -2.0


# ---------------------------------------------------------------- combining into one vector

@pytest.fixture(scope="module")
def encoder():
    from clipcore.config import ModelSpec
    from clipcore.encoder import Encoder
    from tests.helpers.e2e import TINY_CONFIG

    return Encoder.load(ModelSpec(name=str(TINY_CONFIG), device="cpu"))


def _unit(v):
    return v / np.linalg.norm(v)


def test_query_vector_is_the_normalised_weighted_sum(encoder, tmp_path):
    photo = make_photos(tmp_path, 1)[0]
    cat, dog = encoder.encode_texts(["cat", "dog"])
    from PIL import Image

    picture = encoder.encode_images([Image.open(photo).convert("RGB")])[0]
    vector = query_vector(parse_query(f"2:cat - dog + 0.5:{photo}"), encoder)

    assert vector.dtype == np.float32 and vector.shape == (encoder.dim,)
    np.testing.assert_allclose(np.linalg.norm(vector), 1.0, atol=1e-5)
    np.testing.assert_allclose(vector, _unit(2 * cat - dog + 0.5 * picture), atol=1e-4)


def test_a_single_term_is_its_own_embedding(encoder):
    np.testing.assert_allclose(query_vector(parse_query("a red car"), encoder),
                               encoder.encode_texts(["a red car"])[0], atol=1e-5)


def test_terms_that_cancel_out_are_a_query_error(encoder):
    with pytest.raises(QueryError, match="cancel out"):
        query_vector(parse_query("cat - cat"), encoder)
