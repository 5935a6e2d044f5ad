"""The HNSW vector index: recall against exact search, deletes, growth, atomic save/load."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from clipcore.ann import HnswIndex, StaleIndex, exact_knn, index_paths, load_index
from clipcore.config import IndexParams
from tests.helpers.vectors import clustered_unit_vectors


def built(vectors: np.ndarray, params: IndexParams = IndexParams(), ids=None) -> HnswIndex:
    ids = np.arange(1, len(vectors) + 1) if ids is None else ids
    index = HnswIndex(vectors.shape[1], params, capacity=16)   # small: add() must grow it
    index.add(ids, vectors)
    index.live = len(ids)
    return index


@pytest.mark.parametrize("dim", [64, 256])
def test_default_parameters_reach_recall_at_10_of_098_on_clustered_vectors(dim):
    data = clustered_unit_vectors(3000, dim, seed=dim)
    queries = clustered_unit_vectors(200, dim, seed=dim + 1)
    index = built(data)
    ids = np.arange(1, len(data) + 1)
    hits = 0
    for q in queries:
        truth = set(exact_knn(data, ids, q, 10)[0].tolist())
        hits += len(truth & set(index.search(q, 10)[0].tolist()))
    assert hits / (10 * len(queries)) >= 0.98


def test_scores_are_cosine_similarities_best_first():
    data = clustered_unit_vectors(500, 32)
    index = built(data)
    ids, scores = index.search(data[41], 5)
    assert ids[0] == 42 and scores[0] == pytest.approx(1.0, abs=1e-5)
    assert np.all(np.diff(scores) <= 1e-6)
    np.testing.assert_allclose(scores, data[ids - 1] @ data[41], atol=1e-5)


def test_deleted_vectors_are_never_returned_and_can_come_back():
    data = clustered_unit_vectors(400, 32)
    index = built(data)
    gone = np.arange(1, 201)
    index.remove(gone)
    index.remove([1, 99999])                      # already deleted / unknown: ignored
    index.live = 200
    for q in data[:50]:
        found, _ = index.search(q, 20)
        assert len(found) == 20 and not set(found.tolist()) & set(gone.tolist())
    index.add([7], data[6:7])                     # re-adding a deleted id revives it
    index.live = 201
    assert index.search(data[6], 1)[0][0] == 7


def test_k_larger_than_the_index_returns_every_live_vector():
    data = clustered_unit_vectors(30, 16)
    index = built(data)
    index.remove([3])
    index.live = 29
    found, _ = index.search(data[0], 100)
    assert sorted(found.tolist()) == [i for i in range(1, 31) if i != 3]


def test_filter_restricts_results_to_allowed_ids():
    data = clustered_unit_vectors(1000, 32)
    index = built(data)
    allowed = set(range(500, 520))
    found, _ = index.search(data[0], 10, allowed=allowed)
    assert len(found) == 10 and set(found.tolist()) <= allowed


def test_save_then_load_gives_the_same_answers(tmp_path):
    data = clustered_unit_vectors(600, 32)
    index = built(data)
    index.watermark = 7
    paths = index_paths(tmp_path, 3)
    meta = {"model_identity": "m", "dim": 32, "catalog_uid": "u"}
    index.save(*paths, meta)
    assert not list(tmp_path.glob("*.tmp"))
    loaded = load_index(*paths, IndexParams(), meta)
    assert loaded.watermark == 7 and loaded.live == 600
    for q in data[:20]:
        np.testing.assert_array_equal(loaded.search(q, 10)[0], index.search(q, 10)[0])


@pytest.mark.parametrize("damage", ["missing", "truncated", "flipped", "other-model", "sidecar"])
def test_damaged_or_foreign_files_are_refused(tmp_path, damage):
    index = built(clustered_unit_vectors(300, 16))
    hnsw, sidecar = index_paths(tmp_path, 1)
    meta = {"model_identity": "m", "dim": 16, "catalog_uid": "u"}
    index.save(hnsw, sidecar, meta)
    raw = hnsw.read_bytes()
    if damage == "missing":
        hnsw.unlink()
    elif damage == "truncated":
        hnsw.write_bytes(raw[: len(raw) // 2])
    elif damage == "flipped":
        hnsw.write_bytes(raw[:1000] + bytes([raw[1000] ^ 0xFF]) + raw[1001:])
    elif damage == "other-model":
        meta = dict(meta, model_identity="another")
    else:
        sidecar.write_text("{not json")
    with pytest.raises(StaleIndex):
        load_index(hnsw, sidecar, IndexParams(), meta)


def test_a_failed_save_leaves_the_previous_files_untouched(tmp_path, monkeypatch):
    import errno

    import clipcore.ann as ann
    from clipcore.errors import DiskFullError

    index = built(clustered_unit_vectors(100, 16))
    paths = index_paths(tmp_path, 1)
    meta = {"model_identity": "m", "dim": 16, "catalog_uid": "u"}
    index.save(*paths, meta)
    before = [p.read_bytes() for p in paths]
    index.add([1000], clustered_unit_vectors(1, 16, seed=5))

    def full(path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ann, "_fsync_file", full)
    with pytest.raises(DiskFullError, match="disk is full"):
        index.save(*paths, meta)
    assert [p.read_bytes() for p in paths] == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)


def test_searches_in_threads_while_adding_return_only_added_ids():
    data = clustered_unit_vectors(3000, 32)
    index = built(data[:500])
    errors, added = [], threading.Event()

    def search():
        while not added.is_set():
            found, scores = index.search(data[3], 10)
            if len(found) != 10 or found.max() > 3000 or found[0] != 4:
                errors.append(found)

    threads = [threading.Thread(target=search) for _ in range(2)]
    for t in threads:
        t.start()
    for start in range(500, 3000, 100):
        index.add(np.arange(start + 1, start + 101), data[start:start + 100])
        index.live = start + 100
    added.set()
    for t in threads:
        t.join()
    assert not errors
    assert index.search(data[2999], 1)[0][0] == 3000


def test_sidecar_records_what_the_index_holds(tmp_path):
    index = built(clustered_unit_vectors(50, 8))
    index.watermark = 3
    hnsw, sidecar = index_paths(tmp_path, 9)
    index.save(hnsw, sidecar, {"model_identity": "m", "dim": 8, "catalog_uid": "u"})
    info = json.loads(sidecar.read_text())
    assert info["count"] == 50 and info["watermark"] == 3 and info["bytes"] == hnsw.stat().st_size


def test_query_beam_widens_with_the_library_and_for_text():
    """ef is at least k, the configured ef for small indexes, and grows for large ones; a
    text query (far from every photo) gets a wider beam than an image query."""
    from clipcore.config import IndexParams

    p = IndexParams()
    assert p.ef_for(10_000, 10) == p.ef
    assert p.ef_for(10_000, 500) == 500 and p.ef_for(10_000, 2000, text=True) == 2000
    sizes = [100_000, 300_000, 600_000, 1_000_000]
    for text in (False, True):
        efs = [p.ef_for(n, 10, text) for n in sizes]
        assert efs == sorted(efs) and efs[-1] >= 2 * efs[0]
    assert all(p.ef_for(n, 10, text=True) >= 2 * p.ef_for(n, 10) for n in sizes)
