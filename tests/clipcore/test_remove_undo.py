"""Removing a library folder with undo (kept aside until purged, restored without embedding
anything again) and the sub-folders of a library folder, from the catalog."""

from __future__ import annotations


import numpy as np
import pytest

from clipcore.catalog import CATALOG_FILE
from clipcore.config import IndexParams, ModelSpec
from clipcore.errors import ClipcoreError
from clipcore.library import Changes, IndexedImage, Library
from tests.helpers.vectors import clustered_unit_vectors
from tests.helpers.sqlite import open_db

SPEC = ModelSpec(name="ViT-B-32", pretrained="fake")
DIM = 32


def _fill(lib: Library, root, name: str, vectors, subdirs=("",)) -> list[int]:
    folder = root / name
    folder.mkdir(parents=True)
    fid = lib.add_folder(str(folder)).id
    paths = [str(folder / subdirs[i % len(subdirs)] / f"{i}.jpg") for i in range(len(vectors))]
    lib.apply(Changes(indexed=[IndexedImage(p, fid, 1, 1, v, date_taken="2021-05-01T10:00:00",
                                            perceptual_hash=(i, -i))
                               for i, (p, v) in enumerate(zip(paths, vectors))]), SPEC, DIM)
    return [lib.find_image(p).id for p in paths]


@pytest.mark.parametrize("params", [IndexParams(), IndexParams(M=8, exact_below=0)],
                         ids=["exact", "hnsw"])
def test_undo_brings_back_the_same_photos_and_vectors_without_embedding(tmp_path, params):
    vectors = clustered_unit_vectors(120, DIM, seed=2)
    ident = SPEC.identity()
    with Library.open(tmp_path / "data", params) as lib, \
            Library.open(tmp_path / "data", params) as reader:      # another process's view
        a = _fill(lib, tmp_path, "a", vectors[:80], subdirs=("x", "y/z"))
        b = _fill(lib, tmp_path, "b", vectors[80:])
        before = lib.nearest(vectors[3], ident, 30)
        stored = lib.vector(a[3], ident)
        assert reader.nearest(vectors[3], ident, 30) == before
        lib.remove_folder(str(tmp_path / "a"), undoable=True)
        assert lib.removed_folders() == [str(tmp_path / "a")]
        assert {f.path for f in lib.folders()} == {str(tmp_path / "b")}
        for view in (lib, reader):
            assert {i for i, _ in view.nearest(vectors[3], ident, 30)} <= set(b)
        assert lib.nearest(vectors[3], ident, 5, folder=str(tmp_path / "b"))
        assert lib.find_image(str(tmp_path / "a" / "x" / "0.jpg")) is None

        info = lib.undo_remove(str(tmp_path / "a"))
        assert (info.path, info.image_count, info.indexed_count) == (str(tmp_path / "a"), 80, 80)
        assert lib.removed_folders() == []
        np.testing.assert_array_equal(lib.vector(a[3], ident), stored)   # same ids, same vector
        for view in (lib, reader):      # the vector indexes catch up from the catalog
            after = view.nearest(vectors[3], ident, 30)
            assert [i for i, _ in after] == [i for i, _ in before]
            assert [s for _, s in after] == pytest.approx([s for _, s in before])
        in_a = lib.nearest(vectors[3], ident, 100, folder=str(tmp_path / "a"),
                           dates=("2021-01-01", "2022-01-01"))
        assert {i for i, _ in in_a} == set(a)
        assert lib.catalog.perceptual_hashes([a[5]])[a[5]] == (5, -5)


def test_purged_removals_are_gone_for_good(tmp_path):
    vectors = clustered_unit_vectors(30, DIM, seed=4)
    with Library.open(tmp_path / "data") as lib:
        _fill(lib, tmp_path, "a", vectors[:20])
        _fill(lib, tmp_path, "b", vectors[20:])
        lib.remove_folder(str(tmp_path / "a"), undoable=True)
        assert lib.purge_removed() == 1        # what the app does when it quits
        with pytest.raises(ClipcoreError, match="can no longer be undone"):
            lib.undo_remove(str(tmp_path / "a"))
    with open_db(tmp_path / "data" / CATALOG_FILE) as con:
        counts = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("removed_folders", "removed_images", "removed_vectors",
                            "removed_hashes")]
        assert counts == [0, 0, 0, 0]
        assert con.execute("SELECT count(*) FROM images").fetchone()[0] == 10
        assert con.execute("SELECT count(*) FROM vectors").fetchone()[0] == 10


def test_undo_is_refused_once_the_folder_is_back_in_the_library(tmp_path):
    vectors = clustered_unit_vectors(10, DIM, seed=5)
    with Library.open(tmp_path / "data") as lib:
        _fill(lib, tmp_path, "a", vectors)
        lib.remove_folder(str(tmp_path / "a"), undoable=True)
        lib.add_folder(str(tmp_path))                    # a folder around it, added meanwhile
        with pytest.raises(ClipcoreError, match="is in the library now"):
            lib.undo_remove(str(tmp_path / "a"))
        assert lib.removed_folders() == [str(tmp_path / "a")]   # still kept until purged


def test_removing_without_undo_keeps_nothing_aside(tmp_path):
    vectors = clustered_unit_vectors(10, DIM, seed=6)
    with Library.open(tmp_path / "data") as lib:
        _fill(lib, tmp_path, "a", vectors)
        lib.remove_folder(str(tmp_path / "a"))
        assert lib.removed_folders() == [] and lib.purge_removed() == 0
        with pytest.raises(ClipcoreError):
            lib.undo_remove(str(tmp_path / "a"))


def test_subfolders_come_from_the_catalog_with_photo_counts(tmp_path):
    vectors = clustered_unit_vectors(12, DIM, seed=7)
    with Library.open(tmp_path / "data") as lib:
        _fill(lib, tmp_path, "a", vectors, subdirs=("", "2021", "2021/beach", "trips/rome"))
        root = tmp_path / "a"
        assert lib.subfolders(str(root)) == {
            str(root / "2021"): 6, str(root / "2021" / "beach"): 3,
            str(root / "trips"): 3, str(root / "trips" / "rome"): 3}
        assert lib.subfolders(str(root / "2021")) == {str(root / "2021" / "beach"): 3}
