"""Filtered search (clipcore.scope): a folder or date filter returns the nearest allowed photos,
min(k, allowed) of them, whichever way it is searched (exact among few, HNSW with a larger k
for a large share, hnswlib's filter otherwise), and follows the catalog as it changes."""

from __future__ import annotations

import numpy as np
import pytest

from clipcore.config import IndexParams, ModelSpec
from clipcore.library import Changes, IndexedImage, Library
from tests.helpers.vectors import clustered_unit_vectors

SPEC = ModelSpec(name="ViT-B-32", pretrained="fake")
N, DIM, CLUSTERS = 3000, 32, 30


def _date(i: int) -> str:
    """Photo i's date: 2010 + i % 10, day i % 28 + 1; every 7th one with a UTC offset."""
    offset = "+02:00" if i % 7 == 0 else ""
    return f"{2010 + i % 10}-05-{i % 28 + 1:02d}T10:00:00{offset}"


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """3,000 clustered vectors in folders a/ (photos 0-2899, 30 clusters) and b/ (2900-2999,
    one cluster of its own), dated over 2010-2019; searched through HNSW (exact_below=100,
    below the library's size)."""
    root = tmp_path_factory.mktemp("scope")
    vectors = np.concatenate([clustered_unit_vectors(2900, DIM, clusters=CLUSTERS, seed=3),
                              clustered_unit_vectors(100, DIM, clusters=1, seed=4, centre_seed=9)])
    with Library.open(root / "data", IndexParams(M=8, ef_construction=64, exact_below=100)) as lib:
        images = []
        for name, span in (("a", range(0, 2900)), ("b", range(2900, N))):
            (root / name).mkdir()
            fid = lib.add_folder(str(root / name)).id
            images += [IndexedImage(str(root / name / f"{i}.jpg"), fid, 1, 1, vectors[i],
                                    date_taken=_date(i), date_source="exif") for i in span]
        lib.apply(Changes(indexed=images), SPEC, DIM)
        ids = np.array([lib.find_image(im.path).id for im in images])
        yield lib, root, vectors, ids


def _truth(vectors, ids, query, allowed, k):
    """The exact k nearest among the allowed photo numbers: catalog ids, best first."""
    allowed = np.flatnonzero(allowed)
    order = np.argsort(-(vectors[allowed] @ query), kind="stable")[:k]
    return list(ids[allowed[order]])


def _check(lib, vectors, ids, query, allowed, k, min_recall=0.9, **filters):
    hits = lib.nearest(query, SPEC.identity(), k, **filters)
    truth = _truth(vectors, ids, query, allowed, k)
    assert len(hits) == min(k, int(allowed.sum()))            # never fewer while more exist
    assert {i for i, _ in hits} <= set(ids[allowed].tolist())  # all inside the filter
    assert len({i for i, _ in hits} & set(truth)) >= min_recall * len(truth)
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    return hits


@pytest.mark.parametrize("years", [(2010, 2014), (2013, 2013)], ids=["half", "tenth"])
def test_a_large_share_of_dates_gives_the_nearest_inside(library, years):
    lib, _, vectors, ids = library
    years_of = 2010 + np.arange(N) % 10
    allowed = (years_of >= years[0]) & (years_of <= years[1])
    for q in range(0, N, 300):
        _check(lib, vectors, ids, vectors[q], allowed, 20,
               dates=(f"{years[0]}-01-01", f"{years[1] + 1}-01-01"))


def test_few_allowed_are_searched_exactly(library):
    lib, _, vectors, ids = library
    days = np.arange(N) % 28 + 1
    allowed = ((2010 + np.arange(N) % 10) == 2012) & (days == 13)   # ~11 photos (< exact_below)
    assert 0 < allowed.sum() < 100
    for q in (0, 1000, 2000):
        hits = _check(lib, vectors, ids, vectors[q], allowed, 5, min_recall=1.0,
                      dates=("2012-05-13", "2012-05-14"))
        assert [i for i, _ in hits] == _truth(vectors, ids, vectors[q], allowed, 5)


def test_a_small_share_far_from_the_query_still_fills_k(library):
    """b/ (100 photos, 3%, a cluster of their own) asked with queries from a/'s clusters: the
    oversampled unfiltered search finds none of them; the fallback still gives k."""
    lib, root, vectors, ids = library
    allowed = np.arange(N) >= 2900
    for q in (5, 1234, 2222):
        for k in (5, 50):     # k=5: HNSW with k'=300 first (none inside), then the filter
            _check(lib, vectors, ids, vectors[q], allowed, k, min_recall=0.9,
                   folder=str(root / "b"))
    everything = lib.nearest(vectors[5], SPEC.identity(), 500, folder=str(root / "b"))
    assert len(everything) == 100


def test_folder_and_dates_together_and_an_empty_range(library):
    lib, root, vectors, ids = library
    allowed = (np.arange(N) >= 2900) & ((2010 + np.arange(N) % 10) == 2015)
    _check(lib, vectors, ids, vectors[2950], allowed, 8, min_recall=1.0,
           folder=str(root / "b"), dates=("2015-01-01", "2016-01-01"))
    assert lib.nearest(vectors[0], SPEC.identity(), 8, dates=("2030-01-01", None)) == []


def test_the_date_column_agrees_with_the_catalogs_text_comparison(library):
    lib, *_ = library
    cat = lib.catalog
    for lo, hi in [("2012-05-13", "2012-05-14"), ("2013", "2014"), (None, "2011-01-01"),
                   ("2019-05-28T10:00:00+02:00", None), ("2014-05-07T10:00:00+02:00",
                                                          "2014-05-07T10:00:00+02:01")]:
        expected = np.sort(cat.image_ids_taken_between(lo, hi))
        found, _ = lib.ann.scopes.allowed(dates=(lo, hi))
        assert list(found) == list(expected), (lo, hi)


def test_filters_follow_the_catalog_as_it_changes(tmp_path):
    vectors = clustered_unit_vectors(400, DIM, clusters=8, seed=5)
    with Library.open(tmp_path / "data", IndexParams(M=8, exact_below=50)) as lib:
        (tmp_path / "p").mkdir()
        fid = lib.add_folder(str(tmp_path / "p")).id
        lib.apply(Changes(indexed=[IndexedImage(str(tmp_path / "p" / f"{i}.jpg"), fid, 1, 1,
                                                vectors[i], date_taken="2020-01-01T00:00:00")
                                   for i in range(300)]), SPEC, DIM)
        in_2021 = ("2021-01-01", "2022-01-01")
        assert lib.nearest(vectors[350], SPEC.identity(), 10, dates=in_2021) == []
        lib.apply(Changes(indexed=[IndexedImage(str(tmp_path / "p" / f"{i}.jpg"), fid, 1, 1,
                                                vectors[i], date_taken="2021-06-01T00:00:00")
                                   for i in range(300, 400)]), SPEC, DIM)
        hits = lib.nearest(vectors[350], SPEC.identity(), 10, dates=in_2021)
        assert len(hits) == 10
        assert hits[0][0] == lib.find_image(str(tmp_path / "p" / "350.jpg")).id
        lib.remove_folder(str(tmp_path / "p"))
        assert lib.nearest(vectors[350], SPEC.identity(), 10, dates=in_2021) == []
