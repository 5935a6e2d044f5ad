"""Vectors are stored as float16 (issue 14, schema 7): half the bytes, the same search results.

What a user relies on: the catalog on disk is half as big per photo, a search over the float16
vectors gives the photos a float32 search would give (same top 10, scores within 1e-3), and a
library written by an older clipdesk (float32 blobs) is converted when it is opened, keeping
every photo findable with the same results.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clipcore.ann import exact_knn
from clipcore.catalog import SCHEMA_VERSION
from clipcore.catalog.schema import SCHEMA_1
from clipcore.config import IndexParams, ModelSpec
from clipcore.library import Changes, IndexedImage, Library
from tests.helpers.vectors import clustered_unit_vectors
from tests.helpers.sqlite import open_db

SPEC = ModelSpec(name="ViT-B-32", pretrained="fake")
DIM = 128


def _library(data_dir: Path, folder: Path, vectors: np.ndarray, params=None) -> list[int]:
    folder.mkdir(parents=True, exist_ok=True)
    with Library.open(data_dir, params) as lib:
        fid = lib.add_folder(str(folder)).id
        paths = [str(folder / f"img{i}.jpg") for i in range(len(vectors))]
        lib.apply(Changes(indexed=[IndexedImage(p, fid, 10, 1, v, content_hash=f"h{i}")
                                   for i, (p, v) in enumerate(zip(paths, vectors))]),
                  SPEC, vectors.shape[1])
        return [lib.find_image(p).id for p in paths]


def _queries() -> dict[str, np.ndarray]:
    """Held-out points near the library's clusters and off-manifold ones (cosine ~0.45 to
    their centre, like text queries), as in benchmarks/query_latency.py."""
    return {"held-out": clustered_unit_vectors(40, DIM, seed=7),
            "off-manifold": clustered_unit_vectors(40, DIM, spread=1.6, seed=8)}


def _assert_same_results(lib: Library, ids: list[int], vectors: np.ndarray) -> None:
    """The library's top 10 of each query is the float32 exact top 10: the same photos for
    nearly every query, and where a photo or a place differs, only between photos whose
    float32 cosines are closer than 2e-4 (a tie below float16's resolution); every score
    within 1e-3 of the photo's float32 cosine."""
    id_arr = np.asarray(ids, np.int64)
    row = {int(i): r for r, i in enumerate(ids)}
    same = total = 0
    for name, queries in _queries().items():
        for q in queries:
            want_ids, want_scores = exact_knn(vectors, id_arr, q, 10)
            got = lib.nearest(q, SPEC.identity(), 10)
            got_ids = [i for i, _ in got]
            exact_of_got = vectors[[row[i] for i in got_ids]] @ q
            assert len(got) == 10, name
            assert np.abs(exact_of_got - want_scores).max() <= 2e-4, name
            assert np.abs(np.array([s for _, s in got]) - exact_of_got).max() <= 1e-3, name
            same += set(got_ids) == set(want_ids.tolist())
            total += 1
    assert same >= 0.95 * total, f"{same} of {total} queries have the float32 top 10"


def test_search_over_float16_vectors_equals_float32(tmp_path):
    vectors = clustered_unit_vectors(1500, DIM)
    data = tmp_path / "data"
    ids = _library(data, tmp_path / "photos", vectors)
    with open_db(data / "catalog.sqlite") as db:
        sizes = {r[0] for r in db.execute("SELECT length(vector) FROM vectors")}
    assert sizes == {2 * DIM}                       # 2 bytes a value on disk
    for params in (IndexParams(), IndexParams(exact_below=0)):   # exact, then HNSW (rebuilt)
        for f in data.glob("ann-*"):
            f.unlink()
        with Library.open(data, params) as lib:
            stored = lib.vector(ids[3], SPEC.identity())
            assert stored.dtype == np.float32 and abs(np.linalg.norm(stored) - 1) < 1e-6
            assert float(stored @ vectors[3]) > 1 - 1e-3
            _assert_same_results(lib, ids, vectors)


def test_a_float32_catalog_is_converted_when_opened(tmp_path):
    """A catalog of schema 6 (float32 blobs, tombstones too) opened by this version: every
    blob becomes float16, searches give the same top 10, a tombstone still gives its photo
    back its vector."""
    vectors = clustered_unit_vectors(600, DIM, seed=3)
    data = tmp_path / "data"
    ids = _library(data, tmp_path / "photos", vectors)
    # What schema 6 wrote: float32 blobs in a WITHOUT ROWID table, and a tombstone (a
    # deleted photo's vector)
    with open_db(data / "catalog.sqlite") as db:
        model_id = db.execute("SELECT id FROM models").fetchone()[0]
        db.execute("DROP TABLE crop_vectors")          # (schema 8)
        db.execute("DROP TABLE vectors")
        for sql in SCHEMA_1:
            if "vectors" in sql:
                db.execute(sql)
        db.executemany("INSERT INTO vectors (image_id, model_id, seq, vector) VALUES (?, ?, 1, ?)",
                       [(i, model_id, v.astype("<f4").tobytes()) for i, v in zip(ids, vectors)])
        db.execute("INSERT INTO tombstones (content_hash, model_id, size, vector, deleted_ns) "
                   "VALUES ('gone', ?, 10, ?, 0)", (model_id, vectors[5].astype("<f4").tobytes()))
        db.execute("PRAGMA user_version = 6")
    for f in data.glob("ann-*"):
        f.unlink()
    with Library.open(data) as lib:
        _assert_same_results(lib, ids, vectors)
        back = lib.catalog.tombstone("gone", model_id)
        assert back is not None and float(back.vector @ vectors[5]) > 1 - 1e-3
    with open_db(data / "catalog.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        lengths = {r[0] for r in db.execute("SELECT length(vector) FROM vectors UNION ALL "
                                            "SELECT length(vector) FROM tombstones")}
    assert lengths == {2 * DIM}


def test_an_index_fed_by_the_writer_equals_one_rebuilt_from_the_catalog(tmp_path):
    """The vector index takes each new vector as the catalog stores it, so a search answers
    the same, scores included, before and after the index file is rebuilt from the catalog."""
    vectors = clustered_unit_vectors(300, DIM, seed=5)
    data = tmp_path / "data"
    params = IndexParams(exact_below=0)
    _library(data, tmp_path / "photos", vectors[:200], params)       # index built, saved
    later = _library(data, tmp_path / "more", vectors[200:], params)  # added to the loaded index
    query = clustered_unit_vectors(1, DIM, seed=9)[0]
    with Library.open(data, params) as lib:
        before = lib.nearest(query, SPEC.identity(), 10)
        mine = lib.vector(later[0], SPEC.identity())
        assert lib.nearest(mine, SPEC.identity(), 1)[0][0] == later[0]
    for f in data.glob("ann-*"):
        f.unlink()
    with Library.open(data, params) as lib:
        assert lib.nearest(query, SPEC.identity(), 10) == before
