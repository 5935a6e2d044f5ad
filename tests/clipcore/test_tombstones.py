"""Nothing embedded twice: a deleted photo's vector is kept by content hash for a while, so a
photo restored from the Trash or moved between library folders in two steps comes back
"restored" (its vector reused), not "new"."""

from __future__ import annotations

import shutil
import time

import numpy as np

from clipcore.indexer import index_folders
from clipcore.search import Searcher
from tests.helpers.e2e import TINY_CONFIG, make_photos, run_cli


def run(library, folders, encoder):
    encoder.encoded.clear()
    events = list(index_folders(library, [str(f) for f in folders], encoder.spec, encoder=encoder))
    return events[-1].summary, sum(encoder.encoded)


def test_a_photo_restored_from_the_trash_is_not_embedded_again(tmp_path, library, encoder):
    photos = make_photos(tmp_path / "p", 4, seed=1)
    run(library, [tmp_path / "p"], encoder)
    vector = library.vector(library.find_image(str(photos[0])).id, encoder.identity)
    trash = tmp_path / "Trash"
    trash.mkdir()
    shutil.move(photos[0], trash / photos[0].name)
    s, _ = run(library, [tmp_path / "p"], encoder)
    assert s.removed == 1 and library.find_image(str(photos[0])) is None
    hits = Searcher(library, lambda: encoder, encoder.identity).search("anything", k=10)
    assert str(photos[0]) not in {h.path for h in hits} and len(hits) == 3

    shutil.move(trash / photos[0].name, photos[0])       # restored from the Trash
    s, encoded = run(library, [tmp_path / "p"], encoder)
    assert (s.restored, s.new, encoded) == (1, 0, 0)
    row = library.find_image(str(photos[0]))
    np.testing.assert_array_equal(library.vector(row.id, encoder.identity), vector)
    assert library.nearest(vector, encoder.identity, 1)[0][0] == row.id
    # the tombstone was taken back: deleting and re-adding once more still restores
    assert library.catalog.tombstone_sizes(library.catalog.model_id(encoder.identity)) == set()


def test_moved_between_library_folders_in_two_runs(tmp_path, library, encoder):
    a = make_photos(tmp_path / "a", 3, seed=2)
    make_photos(tmp_path / "b", 2, seed=3)
    run(library, [tmp_path / "a", tmp_path / "b"], encoder)
    shutil.move(a[0], tmp_path / "b" / "from_a.png")
    s, _ = run(library, [tmp_path / "a"], encoder)          # only "a" rescanned: removed
    assert s.removed == 1
    s, encoded = run(library, [tmp_path / "b"], encoder)    # then "b": restored, not new
    assert (s.restored, s.new, encoded) == (1, 0, 0)


def test_tombstones_are_purged_by_age(tmp_path, library, encoder):
    photos = make_photos(tmp_path / "p", 2, seed=4)
    run(library, [tmp_path / "p"], encoder)
    keep = photos[0].read_bytes()
    photos[0].unlink()
    run(library, [tmp_path / "p"], encoder)
    assert library.tombstone_days() == 30
    model_id = library.catalog.model_id(encoder.identity)
    assert library.catalog.purge_tombstones(time.time_ns() + 29 * 86_400 * 10**9) == 0
    assert library.catalog.purge_tombstones(time.time_ns() + 31 * 86_400 * 10**9) == 1
    assert library.catalog.tombstone_sizes(model_id) == set()
    photos[0].write_bytes(keep)
    s, encoded = run(library, [tmp_path / "p"], encoder)
    assert (s.restored, s.new, encoded) == (0, 1, 1)        # too old: embedded again

    photos[1].unlink()
    run(library, [tmp_path / "p"], encoder)
    library.set_tombstone_days(0)                            # the user's setting: not kept
    assert library.catalog.tombstone_sizes(model_id) == set()


def test_cli_counts_restored_apart_from_new(tmp_path):
    data, folder = tmp_path / "data", tmp_path / "p"
    photos = make_photos(folder, 3, seed=5)
    assert run_cli(["index", folder, "--model", TINY_CONFIG], data).returncode == 0
    kept = photos[1].read_bytes()
    photos[1].unlink()
    assert "1 removed" in run_cli(["index", folder], data).stdout
    photos[1].write_bytes(kept)
    done = run_cli(["index", folder], data)
    assert done.returncode == 0, done.stderr
    assert "0 new, 1 restored" in done.stdout
