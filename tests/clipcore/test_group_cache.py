"""Visual groups cached per model: the same photos give the cached groups back without
clustering, new photos join the group of their nearest centre, removed ones leave, many new
photos or "Regroup" cluster again, a damaged cache is ignored; `clipcore groups` uses it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import clipcore.group_cache as group_cache
from clipcore.config import ModelSpec
from clipcore.library import Changes, IndexedImage, Library
from tests.helpers.vectors import clustered_unit_vectors

DIM, CLUSTERS = 32, 4
SPEC = ModelSpec(name="synthetic-for-groups.json", device="cpu")
LABELS = [f"label {i}" for i in range(10)]


class FakeEncoder:
    """Text embeddings of the labels: random unit vectors, fixed per label."""

    identity = SPEC.identity()

    def encode_texts(self, texts):
        out = np.stack([np.random.default_rng(abs(hash(t)) % 2**32).normal(size=DIM) for t in texts])
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def add(library, vectors, start: int) -> list[int]:
    (library.data_dir.parent / "photos").mkdir(exist_ok=True)
    folder = library.add_folder(str(library.data_dir.parent / "photos"))
    library.apply(Changes(indexed=[
        IndexedImage(path=str(library.data_dir.parent / "photos" / f"p{start + i}.jpg"),
                     folder_id=folder.id, size=1000, mtime_ns=1, vector=v)
        for i, v in enumerate(vectors)]), SPEC, DIM)
    return [library.find_image(str(library.data_dir.parent / "photos" / f"p{start + i}.jpg")).id
            for i in range(len(vectors))]


@pytest.fixture
def library(tmp_path):
    with Library.open(tmp_path / "data") as lib:
        add(lib, clustered_unit_vectors(120, DIM, CLUSTERS, spread=0.3, seed=1), 0)
        yield lib


@pytest.fixture
def clusterings(monkeypatch):
    """Counts the full clusterings library_groups runs."""
    calls = []
    real = group_cache.cluster

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(group_cache, "cluster", counted)
    return calls


def groups_of(library, **kw):
    return group_cache.library_groups(library, FakeEncoder(), model_identity=SPEC.identity(),
                                      labels=LABELS, **kw)


def test_the_second_call_reads_the_cache(library, clusterings):
    first = groups_of(library)
    assert len(first) == CLUSTERS and sum(len(g.ids) for g in first) == 120
    assert group_cache.cache_path(library.data_dir, SPEC.identity(), LABELS).exists()
    again = groups_of(library)
    assert len(clusterings) == 1
    assert [(g.name, g.ids) for g in again] == [(g.name, g.ids) for g in first]


def test_new_photos_join_their_nearest_group_and_removed_ones_leave(library, clusterings):
    first = groups_of(library)
    ids, vectors = library.all_vectors(SPEC.identity())
    member = first[1].ids[0]
    near = vectors[np.searchsorted(ids, member)] + 0.01 * np.eye(DIM, dtype=np.float32)[:3]
    new = add(library, near / np.linalg.norm(near, axis=1, keepdims=True), 1000)
    gone = first[0].ids[-1]
    library.apply(Changes(removed=[gone]))
    after = groups_of(library)
    assert len(clusterings) == 1                               # no new clustering
    group = next(g for g in after if member in g.ids)
    assert set(new) <= set(group.ids)
    assert all(gone not in g.ids for g in after)
    assert sum(len(g.ids) for g in after) == 120 + 3 - 1


def test_a_photo_embedded_again_under_the_same_id_moves_to_its_new_group(library, clusterings):
    # e.g. a changed file re-indexed, or a new model version: same path, same id, new vector
    first = groups_of(library)
    ids, vectors = library.all_vectors(SPEC.identity())
    moved = first[0].ids[-1]
    target = first[1].ids[0]
    path = library.images([moved])[0].path
    index = int(Path(path).stem[1:])                           # p<index>.jpg
    assert add(library, vectors[np.searchsorted(ids, target)][None], index) == [moved]
    after = groups_of(library)
    assert len(clusterings) == 1                               # placed, not clustered again
    assert moved in next(g for g in after if target in g.ids).ids
    assert sum(len(g.ids) for g in after) == 120
    assert groups_of(library)[0].ids == after[0].ids           # and the cache remembers it


def test_many_new_photos_or_regroup_cluster_again(library, clusterings):
    groups_of(library)
    groups_of(library, refit=True)
    assert len(clusterings) == 2
    add(library, clustered_unit_vectors(80, DIM, CLUSTERS, spread=0.3, seed=2), 2000)
    assert sum(len(g.ids) for g in groups_of(library)) == 200
    assert len(clusterings) == 3                               # 80 new > half of 120


def test_a_damaged_cache_is_ignored(library, clusterings):
    groups_of(library)
    group_cache.cache_path(library.data_dir, SPEC.identity(), LABELS).write_bytes(b"not numpy")
    assert sum(len(g.ids) for g in groups_of(library)) == 120
    assert len(clusterings) == 2


def test_cancel_changes_nothing(library):
    import threading

    from clipcore.jobs import Cancelled

    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        groups_of(library, cancel=cancel)
    assert not group_cache.cache_path(library.data_dir, SPEC.identity(), LABELS).exists()


def test_clipcore_groups_writes_and_reuses_the_cache(tmp_path, tiny_config):
    import json

    from tests.helpers.e2e import make_photos, run_cli

    make_photos(tmp_path / "photos", 14)
    data = tmp_path / "data"
    assert run_cli(["index", tmp_path / "photos", "--model", tiny_config], data,
                   timeout=300).returncode == 0
    first = run_cli(["groups", "--json"], data, timeout=300)
    assert first.returncode == 0, first.stderr
    assert list(data.glob("groups-*.npz"))
    again = run_cli(["groups", "--json"], data, timeout=300)
    assert json.loads(again.stdout) == json.loads(first.stdout)
    assert sum(len(g["paths"]) for g in json.loads(first.stdout)) == 14
