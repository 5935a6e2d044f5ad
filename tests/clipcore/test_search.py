"""Searcher over a real (tiny random-weight model) index: ranking, filters, "find similar"."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from clipcore.errors import NotIndexedError, QueryError
from clipcore.indexer import index_folders
from clipcore.library import Library
from clipcore.query import parse_query, query_vector
from clipcore.search import Searcher
from tests.helpers.e2e import make_photos


def _index(library, folders, spec):
    events = list(index_folders(library, [str(f) for f in folders], spec))
    return events[-1].summary


@pytest.fixture(scope="module")
def lib(tmp_path_factory, tiny_spec):
    """12 photos in two library folders, indexed with the tiny model."""
    root = tmp_path_factory.mktemp("search")
    folders = [root / "photos" / "a", root / "photos" / "ab"]
    photos = make_photos(folders[0], 6, seed=1) + make_photos(folders[1], 6, seed=2)
    with Library.open(root / "data") as library:
        _index(library, folders, tiny_spec)
        yield library, folders, photos


@pytest.fixture(scope="module")
def encoder(tiny_spec):
    from clipcore.encoder import Encoder

    return Encoder.load(tiny_spec)


def _exact_ranking(library, photos, vector, spec):
    """Ground truth: every indexed photo's stored vector against the query, best first."""
    scored = []
    for photo in photos:
        row = library.find_image(str(photo))
        scored.append((float(library.vector(row.id, spec.identity()) @ vector), str(photo)))
    return sorted(scored, reverse=True)


def _never_load():
    pytest.fail("the model was loaded, but the query needed only stored vectors")


def test_text_search_returns_k_hits_best_first_as_cosines(lib, encoder, tiny_spec):
    library, _, photos = lib
    hits = Searcher(library, lambda: encoder).search("a dog on a beach", k=5)

    assert len(hits) == 5
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0 <= s <= 1.0 for s in scores)
    truth = _exact_ranking(library, photos, encoder.encode_texts(["a dog on a beach"])[0],
                           tiny_spec)[:5]
    assert [h.path for h in hits] == [path for _, path in truth]
    np.testing.assert_allclose(scores, [s for s, _ in truth], atol=1e-5)
    first = hits[0]
    assert (first.width, first.height) == (24, 24)
    assert first.id == library.find_image(first.path).id


def test_similar_on_an_indexed_photo_uses_its_stored_vector(lib):
    library, _, photos = lib
    searcher = Searcher(library, _never_load)
    for target in (photos[3], str(photos[3]), library.find_image(str(photos[3])).id):
        hits = searcher.similar(target, k=3)
        assert hits[0].path == str(photos[3])
        assert hits[0].score > 0.99
        assert len(hits) == 3


def test_similar_on_a_photo_outside_the_library_encodes_it(lib, encoder, tmp_path):
    library, _, photos = lib
    copy = shutil.copy(photos[7], tmp_path / "copy.png")
    loads = []
    searcher = Searcher(library, lambda: loads.append(1) or encoder)

    hits = searcher.similar(copy, k=2)
    hits_again = searcher.similar(Image.open(copy), k=2)

    assert hits[0].path == str(photos[7]) and hits[0].score > 0.99
    assert [h.path for h in hits_again] == [h.path for h in hits]
    assert loads == [1]  # the factory is called once, on first need


@pytest.mark.parametrize("form", ["path", "pil", "bytes"])
def test_image_query_by_path_pil_or_bytes(lib, encoder, form):
    library, _, photos = lib
    photo = photos[5]
    image = {"path": lambda: str(photo), "pil": lambda: Image.open(photo),
             "bytes": photo.read_bytes}[form]()
    hits = Searcher(library, lambda: encoder).search(image=image, k=3)
    assert hits[0].path == str(photo)
    assert hits[0].score > 0.99


def test_text_and_image_combined(lib, encoder, tiny_spec):
    library, _, photos = lib
    hits = Searcher(library, lambda: encoder).search("red - green", image=photos[0], k=12)

    expected = query_vector(parse_query(f"red - green + {photos[0]}"), encoder)
    truth = _exact_ranking(library, photos, expected, tiny_spec)
    assert [h.path for h in hits] == [path for _, path in truth]
    np.testing.assert_allclose([h.score for h in hits], [s for s, _ in truth], atol=1e-5)


def test_threshold_keeps_only_scores_at_or_above_it(lib, encoder):
    library, _, _ = lib
    searcher = Searcher(library, lambda: encoder)
    everything = searcher.search("sunset", k=12)
    cut = everything[4].score

    kept = searcher.search("sunset", k=12, threshold=cut)

    assert [h.path for h in kept] == [h.path for h in everything if h.score >= cut]
    assert 5 <= len(kept) < 12


def test_folder_restricts_results_to_that_library_folder(lib, encoder):
    library, folders, photos = lib
    searcher = Searcher(library, lambda: encoder)
    for folder, expected in ((folders[0], photos[:6]), (folders[1], photos[6:])):
        hits = searcher.search("sunset", k=12, folder=str(folder))
        assert sorted(h.path for h in hits) == sorted(map(str, expected))


def test_deleted_photos_are_never_returned(tmp_path, tiny_spec):
    photos = make_photos(tmp_path / "photos", 5)
    with Library.open(tmp_path / "data") as library:
        _index(library, [tmp_path / "photos"], tiny_spec)
        photos[2].unlink()
        _index(library, [tmp_path / "photos"], tiny_spec)
        hits = Searcher(library, _never_load).similar(photos[0], k=10)
    assert sorted(h.path for h in hits) == sorted(str(p) for p in photos if p != photos[2])


def test_searching_a_model_without_vectors_says_to_index(lib, tmp_path):
    library, _, _ = lib
    with pytest.raises(NotIndexedError, match="index"):
        Searcher(library, _never_load, model_identity="ViT-B-32|openai").search("cat")
    with Library.open(tmp_path / "empty") as empty:
        with pytest.raises(NotIndexedError, match="clipcore index"):
            Searcher(empty, _never_load).search("cat")


@pytest.mark.parametrize("text", ["", "   ", "+ -"])
def test_a_bad_query_fails_before_loading_the_model(lib, text):
    library, _, _ = lib
    with pytest.raises(QueryError):
        Searcher(library, _never_load).search(text)


def test_an_unreadable_image_fails_before_loading_the_model(lib, tmp_path):
    from clipcore.errors import ImageError

    library, _, _ = lib
    searcher = Searcher(library, _never_load)
    bad = tmp_path / "bad.png"
    bad.write_text("not a photo")
    with pytest.raises(ImageError, match="not an image"):
        searcher.similar(bad)
    with pytest.raises(ImageError, match="not an image"):
        searcher.search("cat", image=bad.read_bytes())
    with pytest.raises(ImageError, match="no such file"):
        searcher.similar(tmp_path / "missing.png")


def test_without_an_encoder_the_librarys_own_model_is_loaded(lib, encoder):
    library, _, _ = lib
    hits = Searcher(library).search("a cat", k=4)
    assert [h.path for h in hits] == [h.path for h in
                                      Searcher(library, lambda: encoder).search("a cat", k=4)]


def test_an_encoder_for_another_model_is_refused(lib, tmp_path):
    from clipcore.config import ModelSpec
    from clipcore.encoder import Encoder
    from clipcore.errors import ClipcoreError
    from tests.helpers.e2e import TINY_CONFIG

    other_config = tmp_path / "other-tiny.json"
    other_config.write_text(TINY_CONFIG.read_text().replace('"embed_dim": 32', '"embed_dim": 16'))
    other = Encoder.load(ModelSpec(name=str(other_config), device="cpu"))
    library, _, _ = lib
    searcher = Searcher(library, lambda: other, model_identity=library.model_spec().identity())
    for _ in range(2):  # and it stays refused
        with pytest.raises(ClipcoreError, match="not the one being searched"):
            searcher.search("a cat")


def test_text_queries_search_with_the_wider_beam(lib, encoder, monkeypatch):
    """Words sit far from every photo (the modality gap): the HNSW search of a text query
    uses the text beam (IndexParams.ef_for(text=True)); "find similar" the image one."""
    from clipcore.ann import HnswIndex
    from clipcore.config import IndexParams

    library = lib[0]
    beams = []
    real = HnswIndex.search

    def search(self, query, k, allowed=None, text=False):
        beams.append(self.params.ef_for(self.live, k, text))
        return real(self, query, k, allowed, text=text)

    monkeypatch.setattr(HnswIndex, "search", search)
    params = IndexParams(exact_below=0)                  # through HNSW, not the exact matrix
    with Library.open(library.data_dir, params) as hnsw_library:
        searcher = Searcher(hnsw_library, lambda: encoder)
        text_hits = searcher.search("a dog on a beach", k=3)
        similar = searcher.similar(text_hits[0].id, k=3)
    assert beams == [params.ef_for(12, 3, text=True), params.ef_for(12, 3)]
    assert beams[0] > beams[1] and similar[0].id == text_hits[0].id
