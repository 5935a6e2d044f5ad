"""The exploration algorithms on plain arrays: duplicates, groups, tags, map (no catalog)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from clipcore.duplicates import (
    components,
    group_duplicates,
    hamming,
    keep_order,
    neighbour_pairs,
    perceptual_hash,
)
from clipcore.errors import ClipcoreError
from clipcore.groups import cluster, make_groups
from clipcore.jobs import Cancelled
from clipcore.libmap import fit_layout, render_png
from clipcore.tags import check_name, tag_scores, tag_vector


def unit(x):
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def blobs(n_clusters=5, per=20, dim=32, spread=0.15, seed=0):
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((n_clusters, dim)))
    labels = np.repeat(np.arange(n_clusters), per)
    return unit(centres[labels] + spread * rng.standard_normal((len(labels), dim)) / np.sqrt(dim)), labels


def test_hamming_counts_bits_of_negative_hashes():
    assert hamming(-1, 0).tolist() == [64]
    assert hamming([5, -2], [4, -2]).tolist() == [1, 0]


def test_perceptual_hash_sees_a_resized_copy_not_another_picture():
    rng = np.random.default_rng(1)
    a = Image.fromarray(rng.integers(0, 255, (64, 64, 3), np.uint8)).resize((256, 256))
    b = Image.fromarray(rng.integers(0, 255, (64, 64, 3), np.uint8)).resize((256, 256))
    pa, pb, pa_small = perceptual_hash(a), perceptual_hash(b), perceptual_hash(a.resize((150, 150)))
    near = int(hamming(pa[0], pa_small[0])[0] + hamming(pa[1], pa_small[1])[0])
    far = int(hamming(pa[0], pb[0])[0] + hamming(pa[1], pb[1])[0])
    assert near <= 8 < 40 <= far


def test_components_joins_chains_and_drops_singletons():
    groups = components(6, np.array([0, 1, 4]), np.array([1, 2, 5]))
    assert sorted(map(list, groups)) == [[0, 1, 2], [4, 5]]


def test_neighbour_pairs_exact_equals_brute_force():
    v, _ = blobs(per=10)
    a, b, s = neighbour_pairs(v, 0.9, k=5)
    sims = v @ v.T
    assert np.all(a < b) and np.allclose(s, sims[a, b], atol=1e-5) and np.all(s >= 0.9)
    assert len(set(zip(a.tolist(), b.tolist()))) == len(a)


def test_ann_candidates_come_in_small_blocks_and_cancel_stops_after_the_current_one():
    from clipcore.duplicates import ANN_BLOCK

    v, _ = blobs(n_clusters=4, per=400, dim=16)
    calls = []
    stop = threading.Event()

    def knn_all(start, end, k):       # exact, like an ANN index that finds every neighbour
        calls.append((start, end))
        sims = v[start:end] @ v.T
        nb = np.argsort(-sims, axis=1)[:, :k + 1]
        return nb, np.take_along_axis(sims, nb, axis=1)

    assert [x.tolist() for x in neighbour_pairs(v, 0.9, k=5, knn_all=knn_all)[:2]] == [
        x.tolist() for x in neighbour_pairs(v, 0.9, k=5)[:2]]
    assert max(end - start for start, end in calls) == ANN_BLOCK <= 512
    calls.clear()

    def cancelled_after_one(start, end, k):
        stop.set()
        return knn_all(start, end, k)

    with pytest.raises(Cancelled):
        neighbour_pairs(v, 0.9, k=5, knn_all=cancelled_after_one, cancel=stop)
    assert len(calls) == 1


def test_group_duplicates_needs_both_a_close_vector_and_a_close_hash():
    v = unit(np.array([[1, 0, 0], [1, 0.01, 0], [0, 1, 0], [0, 1, 0.01], [0, 0, 1]], np.float32))
    hashes = [(0, 0), (1, 0), (0, 0), (-1, -1), None]       # rows 2, 3: hashes far apart
    digests = [None, None, None, None, None]
    groups = group_duplicates(v, hashes, digests, threshold=0.9)
    assert [g[0].tolist() for g in groups] == [[0, 1]]
    same_file = group_duplicates(v, hashes, [None, None, "x", "x", None], threshold=0.9)
    assert sorted((g[0].tolist(), g[2]) for g in same_file) == [([0, 1], False), ([2, 3], True)]


def test_keep_order_prefers_more_pixels_then_bigger_file_then_older():
    class R:
        def __init__(self, w, h, size, date):
            self.width, self.height, self.size, self.date_taken, self.mtime_ns = w, h, size, date, 0
    small, big_new, big_old, big_old_larger_file = (R(10, 10, 5, "2020"), R(20, 20, 5, "2022"),
                                                    R(20, 20, 5, "2021"), R(20, 20, 9, "2023"))
    assert keep_order([small, big_new, big_old, big_old_larger_file]) == [
        big_old_larger_file, big_old, big_new, small]


def test_cluster_finds_the_number_of_blobs():
    v, labels = blobs(n_clusters=7, per=15)
    found, centres = cluster(v)
    assert len(centres) == 7
    for g in range(7):   # every found group is one blob
        assert len(set(labels[found == g].tolist())) == 1


def test_a_big_library_is_grouped_from_a_sample_then_refined_on_every_photo(monkeypatch):
    # the path 100,000 photos take: candidate ks fitted on a sample, the coarse grid of k
    # (2, 3, 6, 10, 17, 29, 48, 80) bisected to a k that is not on it, every photo refined
    import clipcore.groups as groups

    monkeypatch.setattr(groups, "SEARCH_SAMPLE", 400)
    v, labels = blobs(n_clusters=23, per=60, dim=48, seed=3)
    tried = []
    real_fit = groups._fit
    monkeypatch.setattr(groups, "_fit", lambda s, k, seed: tried.append((len(s), k)) or real_fit(s, k, seed))
    found, centres = cluster(v)
    assert len(centres) == 23
    assert {size for size, _ in tried} == {400}
    assert len(tried) < 20                      # not every k up to 80
    for g in range(23):
        assert len(set(labels[found == g].tolist())) == 1
    assert np.allclose(np.linalg.norm(centres, axis=1), 1, atol=1e-5)


def test_cancel_stops_the_search_for_k_between_two_fits():
    v, _ = blobs(n_clusters=12, per=30)
    stop = threading.Event()
    fits = []

    def progress(done, total, phase):
        fits.append(done)
        if done == 2:
            stop.set()

    with pytest.raises(Cancelled):
        cluster(v, cancel=stop, progress=progress)
    assert fits == [1, 2]


def test_groups_are_named_from_the_vocabulary():
    v, labels = blobs(n_clusters=3, per=12)
    names = ["north", "east", "west"]
    centres = unit(np.stack([v[labels == g].mean(0) for g in range(3)]))
    groups = make_groups(np.arange(len(v)) + 100, v, centres, names)
    assert sorted(g.name for g in groups) == sorted(names)
    for g in groups:
        assert {labels[i - 100] for i in g.ids} == {names.index(g.name)}


def test_cluster_can_be_cancelled():
    v, _ = blobs()
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        cluster(v, cancel=stop)


def test_tag_scores_stand_out_against_the_vocabulary():
    v, labels = blobs(n_clusters=4, per=10, dim=64)
    vocab = unit(np.stack([v[labels == g].mean(0) for g in range(4)]))
    scores = tag_scores(v, tag_vector(vocab[2]), vocab)[:, 0]
    assert scores[labels == 2].min() > scores[labels != 2].max()


def test_tag_names_are_checked():
    assert check_name("receipts") == "receipts"
    for bad in ("", "two words", "-x", "a" * 65):
        with pytest.raises(ClipcoreError):
            check_name(bad)


def test_pca_map_places_new_photos_near_their_neighbours(tmp_path):
    v, labels = blobs(n_clusters=3, per=20)
    m = fit_layout(np.arange(60), v[:60], method="pca")
    assert m.coords.shape == (60, 2) and m.coords.min() >= 0 and m.coords.max() <= 1
    m.reducer = None                          # as when read back from a cache
    new = v[[0, 20, 40]]
    placed = m.place(np.array([100, 101, 102]), new)
    for row, old in zip(range(60, 63), (0, 20, 40)):
        same = placed.coords[:60][labels[:60] == labels[old]].mean(0)
        assert np.linalg.norm(placed.coords[row] - same) < 0.25
    render_png(placed.coords, tmp_path / "map.png", size=128,
               colours=np.concatenate([labels[:60], labels[[0, 20, 40]]]))
    with Image.open(tmp_path / "map.png") as png:
        assert png.size == (128, 128)


@pytest.fixture(scope="module")
def umap_compiled():
    """numba compiles UMAP's functions once per process (~25 CPU s, over a minute under
    load): done here, outside the tests' time limit."""
    v, _ = blobs(n_clusters=2, per=40, dim=8)
    fit_layout(np.arange(80), v, "umap").place(np.array([80]), v[:1])


def test_umap_map_fits_a_sample_and_places_the_rest_with_its_transform(monkeypatch, umap_compiled):
    import clipcore.libmap as libmap

    monkeypatch.setattr(libmap, "UMAP_SAMPLE", 240)
    monkeypatch.setattr(libmap, "PLACE_BLOCK", 50)
    v, labels = blobs(n_clusters=4, per=100, dim=32)
    phases = []
    m = fit_layout(np.arange(400), v, "umap", progress=lambda d, t, p: phases.append(p))
    assert m.method == "umap" and sorted(m.ids.tolist()) == list(range(400))
    assert phases.count("placing the other photos") >= 160 // 50   # placed block by block
    assert m.coords.min() >= 0 and m.coords.max() <= 1
    blob = labels[m.ids]
    d = ((m.coords[:, None] - m.coords[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (blob[d.argmin(1)] == blob).mean() >= 0.95     # fitted and placed photos mix by blob
    new = m.place(np.array([1000, 1001]), v[[0, 399]])    # new photos: the fitted transform
    for xy, want in zip(new.coords[-2:], (labels[0], labels[399])):
        assert blob[np.argmin(((m.coords - xy) ** 2).sum(-1))] == want


def test_cancel_stops_placing_the_other_photos_after_the_current_block(monkeypatch, umap_compiled):
    import clipcore.libmap as libmap

    monkeypatch.setattr(libmap, "UMAP_SAMPLE", 240)
    monkeypatch.setattr(libmap, "PLACE_BLOCK", 20)
    v, _ = blobs(n_clusters=4, per=100, dim=32)
    stop = threading.Event()
    placing = []

    def progress(done, total, phase):
        if phase == "placing the other photos":
            placing.append(done)
            stop.set()

    with pytest.raises(Cancelled):
        fit_layout(np.arange(400), v, "umap", cancel=stop, progress=progress)
    assert len(placing) <= 2                            # not all 8 blocks of 20
