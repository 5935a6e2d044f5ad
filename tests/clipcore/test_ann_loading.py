"""A big library opens at once: its saved index answers exactly from the file while hnswlib
loads it in the background; the file is still verified (a damaged one is rebuilt)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import threading

import numpy as np
import pytest

from clipcore import ann_file
from clipcore.config import IndexParams
from clipcore.library import Changes, IndexedImage, Library

N, DIM = 6_000, 128          # a 3.9 MB index file: four 1 MiB blocks
BIG = IndexParams(M=16, ef_construction=100, exact_below=0, load_in_background_above=0,
                  load_after_idle_s=0)


def _vectors(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, DIM))
    v = centres[rng.integers(0, 40, n)] + 0.5 * rng.standard_normal((n, DIM))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _images(folder, ids_from: int, vectors: np.ndarray, folder_id: int) -> list[IndexedImage]:
    return [IndexedImage(path=os.path.join(folder, f"IMG_{ids_from + i:05d}.jpg"),
                         folder_id=folder_id, size=1000, mtime_ns=1, vector=v, width=4, height=3)
            for i, v in enumerate(vectors)]


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_spec):
    """A library of N vectors whose index file is saved (sidecar with block CRCs)."""
    root = tmp_path_factory.mktemp("big")
    photos = root / "photos"
    photos.mkdir()
    with Library.open(root / "data", BIG) as library:
        folder = library.add_folder(str(photos))
        library.set_model_spec(tiny_spec)
        library.apply(Changes(indexed=_images(photos, 0, _vectors(N, 1), folder.id)),
                      tiny_spec, DIM, save=True)
    return root, photos


@pytest.fixture
def data_dir(saved, tmp_path):
    """A fresh copy of the saved library (tests damage or change it)."""
    shutil.copytree(saved[0] / "data", tmp_path / "data")
    return tmp_path / "data"


def _truth(library, identity, query, k):
    ids, vectors = library.all_vectors(identity)
    order = np.argsort(-(vectors @ query), kind="stable")[:k]
    return ids[order].tolist()


def _held_library(data_dir, identity):
    """The library opened with hnswlib's background load held before it starts."""
    library = Library.open(data_dir, BIG)
    release = threading.Event()
    library.ann.before_hnsw_load = lambda: release.wait(60)
    return library, release


def test_search_answers_exactly_before_the_index_has_loaded(data_dir, tiny_spec):
    identity = tiny_spec.identity()
    queries = _vectors(5, 7)
    library, release = _held_library(data_dir, identity)
    try:
        for query in queries:
            found = library.nearest(query, identity, 10, text=True)
            assert library.ann.loading(identity)            # hnswlib has not loaded it yet
            assert [i for i, _ in found] == _truth(library, identity, query, 10)
            _, vectors = library.all_vectors(identity)
            assert found[0][1] == pytest.approx(float(np.max(vectors @ query)), abs=1e-5)
        release.set()
        assert library.ann.wait_loaded(identity, 60)
        after = library.nearest(queries[0], identity, 10)
        assert not library.ann.loading(identity)
        assert library.ann._models[identity].hnsw is not None      # switched to HNSW
        assert len({i for i, _ in after} & set(_truth(library, identity, queries[0], 10))) >= 9
    finally:
        release.set()
        library.close()


def test_the_file_answers_for_the_catalog_as_it_is_now(data_dir, tiny_spec):
    """Photos removed and added since the index file was saved: never the removed ones, the
    new ones found, and folder filters applied."""
    identity = tiny_spec.identity()
    kept = {p.name: p.read_bytes() for p in data_dir.iterdir() if p.name.startswith("ann-")}
    new = _vectors(50, 9)
    with Library.open(data_dir, BIG) as library:
        folder = library.folders()[0]
        gone = [r.id for r in library.images(range(1, 200))]
        library.apply(Changes(indexed=_images(folder.path, N, new, folder.id),
                              removed=gone), tiny_spec, DIM)
    for name, raw in kept.items():          # the older index file comes back (a crash)
        (data_dir / name).write_bytes(raw)
    library, release = _held_library(data_dir, identity)
    try:
        for query in new[:5]:
            found = [i for i, _ in library.nearest(query, identity, 10)]
            assert library.ann.loading(identity)
            assert found == _truth(library, identity, query, 10)
            assert found[0] > N and not set(found) & set(gone)
        some = np.arange(150, 260)                  # a filter: removed, kept and new ids
        some = np.concatenate([some, np.arange(N + 1, N + 20)])
        inside = [i for i, _ in library.nearest(new[0], identity, 5, only=some)]
        ids, vectors = library.all_vectors(identity)
        keep = np.isin(ids, some)
        order = np.argsort(-(vectors[keep] @ new[0]), kind="stable")[:5]
        assert inside == ids[keep][order].tolist() and not set(inside) & set(gone)
    finally:
        release.set()
        library.close()


def test_a_damaged_index_is_still_found_and_rebuilt(data_dir, tiny_spec, monkeypatch, caplog):
    """Damage outside the blocks sampled on open: searches are right meanwhile, and the
    whole-file check of the background load refuses the file, which is rebuilt."""
    identity = tiny_spec.identity()
    monkeypatch.setattr(ann_file, "SAMPLED_BLOCKS", 0)          # only the first and last
    index_file = next(data_dir.glob("ann-*.hnsw"))
    raw = bytearray(index_file.read_bytes())
    assert len(raw) > 3 * ann_file.BLOCK_BYTES
    raw[ann_file.BLOCK_BYTES + 4242] ^= 0xFF                    # the second block
    index_file.write_bytes(bytes(raw))
    caplog.set_level(logging.WARNING, logger="clipcore")
    query = _vectors(1, 5)[0]
    with Library.open(data_dir, BIG) as library:
        found = library.nearest(query, identity, 10)
        assert [i for i, _ in found] == _truth(library, identity, query, 10)
        assert library.ann.wait_loaded(identity, 60)
        again = library.nearest(query, identity, 10)
    assert "cannot be used (it is truncated or corrupt)" in caplog.text
    assert len({i for i, _ in again} & {i for i, _ in found}) >= 9
    with Library.open(data_dir, BIG) as library:     # the rebuilt file passes its checks
        library.nearest(query, identity, 10)
        assert library.ann.wait_loaded(identity, 60)
    assert caplog.text.count("cannot be used") == 1


def test_a_truncated_index_fails_the_cheap_check(data_dir, tiny_spec, caplog):
    identity = tiny_spec.identity()
    index_file = next(data_dir.glob("ann-*.hnsw"))
    os.truncate(index_file, index_file.stat().st_size - 100)
    caplog.set_level(logging.WARNING, logger="clipcore")
    with Library.open(data_dir, BIG) as library:
        library.nearest(_vectors(1, 5)[0], identity, 10)
        assert not library.ann.loading(identity)          # never searched from the file
    assert "cannot be used (it is truncated or corrupt)" in caplog.text


def test_an_older_sidecar_gets_block_checksums(data_dir, tiny_spec):
    """A sidecar written before block CRCs existed: the first open checks the whole file
    (as before) and adds them, so the next open searches at once."""
    identity = tiny_spec.identity()
    sidecar = next(data_dir.glob("ann-*.json"))
    info = json.loads(sidecar.read_text())
    blocks = info.pop("blocks")
    info.pop("block_bytes")
    sidecar.write_text(json.dumps(info))
    with Library.open(data_dir, BIG) as library:
        library.nearest(_vectors(1, 5)[0], identity, 10)
        assert not library.ann.loading(identity)          # loaded the ordinary way
    assert json.loads(sidecar.read_text())["blocks"] == blocks
    library, release = _held_library(data_dir, identity)
    try:
        library.nearest(_vectors(1, 5)[0], identity, 10)
        assert library.ann.loading(identity)
    finally:
        release.set()
        library.close()


def test_the_load_waits_until_searches_pause(data_dir, tiny_spec, monkeypatch):
    """Someone searching right after opening is answered from the file; neither the
    whole-file check nor hnswlib's load (which holds the GIL) starts while searches keep
    coming, and closing meanwhile ends the waiting thread."""
    identity = tiny_spec.identity()
    checked = []
    real_check = ann_file.full_check
    monkeypatch.setattr("clipcore.ann.full_check",
                        lambda *a, **kw: checked.append(1) or real_check(*a, **kw))
    library = Library.open(data_dir, dataclasses.replace(BIG, load_after_idle_s=3600))
    reached = threading.Event()
    library.ann.before_hnsw_load = reached.set
    try:
        for query in _vectors(4, 11):
            found = [i for i, _ in library.nearest(query, identity, 10, text=True)]
            assert found == _truth(library, identity, query, 10)
            assert library.ann.loading(identity)
        assert not checked and not reached.is_set()
    finally:
        library.close()
    assert not checked and not reached.is_set()
    assert not [t for t in threading.enumerate() if t.name == "clipcore-index-load"]


def test_closing_during_the_load_stops_it(data_dir, tiny_spec):
    identity = tiny_spec.identity()
    library = Library.open(data_dir, BIG)
    reached = threading.Event()
    library.ann.before_hnsw_load = reached.set
    library.nearest(_vectors(1, 5)[0], identity, 3)
    library.close()                                       # waits for the loading thread
    assert not [t for t in threading.enumerate() if t.name == "clipcore-index-load"]
