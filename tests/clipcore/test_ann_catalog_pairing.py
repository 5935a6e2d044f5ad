"""The vector index file is a cache of one catalog: paired with another catalog (the user moved
the old catalog aside and started again, or restored a backup of only the catalog), it must be
rebuilt, not trusted, even when model, dimension, ids and generation all happen to agree."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np

from clipcore.config import IndexParams
from clipcore.indexer import index_folders
from clipcore.library import Library
from tests.helpers.e2e import make_photos

N = 12


def _index(data_dir, folder, spec) -> None:
    with Library.open(data_dir) as library:
        events = list(index_folders(library, [str(folder)], spec, batch_size=4))
    assert events[-1].summary.new == N


def _ann_files(data_dir):
    return sorted(p for p in data_dir.iterdir() if p.name.startswith("ann-"))


def test_an_index_file_from_a_recreated_catalog_is_rebuilt(tmp_path, tiny_spec, caplog):
    data_dir = tmp_path / "data"
    old_photos = make_photos(tmp_path / "old", N, seed=11)
    new_photos = make_photos(tmp_path / "new", N, seed=12)

    # The first catalog and its index files, kept aside.
    _index(data_dir, old_photos[0].parent, tiny_spec)
    kept = tmp_path / "kept"
    kept.mkdir()
    for path in _ann_files(data_dir):
        shutil.copy2(path, kept / path.name)
    assert {p.suffix for p in kept.iterdir()} == {".hnsw", ".json"}

    # A new catalog (the data directory emptied), other photos, the same model, the same
    # number of photos and batches: same model id, same image ids, same generation.
    shutil.rmtree(data_dir)
    _index(data_dir, new_photos[0].parent, tiny_spec)
    old_meta = json.loads(next(kept.glob("*.json")).read_text())
    new_meta = json.loads(next(data_dir.glob("ann-*.json")).read_text())
    assert {k: old_meta[k] for k in ("model_identity", "dim", "watermark", "count")} == \
        {k: new_meta[k] for k in ("model_identity", "dim", "watermark", "count")}, \
        "the two catalogs differ in more than their uid: this test would not test the uid"

    # The old index files are put back beside the new catalog.
    for path in kept.iterdir():
        shutil.copy2(path, data_dir / path.name)

    caplog.set_level(logging.WARNING, logger="clipcore")
    identity = tiny_spec.identity()
    with Library.open(data_dir, params=IndexParams(exact_below=0)) as library:  # HNSW, not exact
        for photo in new_photos:
            row = library.find_image(str(photo))
            vector = library.vector(row.id, identity)
            (best_id, score), *_ = library.nearest(vector, identity, k=1)
            assert best_id == row.id and score > 0.9999, photo.name
        everything = library.nearest(vector, identity, k=3 * N)
        assert sorted(i for i, _ in everything) == sorted(
            library.find_image(str(p)).id for p in new_photos)
        assert np.isfinite([s for _, s in everything]).all()
    assert any("different catalog" in r.getMessage() and "rebuil" in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]
