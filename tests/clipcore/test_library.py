"""Library: the catalog + vector index facade (folders, reads, nearest, caches, locks)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from clipcore.ann import index_paths
from clipcore.catalog import SCHEMA_VERSION
from clipcore.config import IndexParams, ModelSpec
from clipcore.errors import CatalogError, CatalogVersionError, ClipcoreError, DiskFullError, LibraryBusyError
from clipcore.library import Changes, IndexedImage, Library, SkippedImage
from tests.helpers.vectors import clustered_unit_vectors
from tests.helpers.sqlite import open_db

SPEC = ModelSpec(name="ViT-B-32", pretrained="fake")
HNSW = IndexParams(exact_below=0)        # force the HNSW path in tests


def fill(library: Library, folder: Path, vectors: np.ndarray, prefix: str = "img") -> list[int]:
    """Add ``folder`` with one fake image per vector; returns the image ids."""
    folder.mkdir(parents=True, exist_ok=True)
    fid = library.add_folder(str(folder)).id
    paths = [str(folder / f"{prefix}{i}.jpg") for i in range(len(vectors))]
    library.apply(Changes(indexed=[IndexedImage(p, fid, 10, 1, v) for p, v in zip(paths, vectors)]),
                  SPEC, vectors.shape[1])
    return [library.find_image(p).id for p in paths]


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.mark.parametrize("params", [IndexParams(), HNSW], ids=["exact", "hnsw"])
def test_nearest_finds_stored_vectors_and_respects_folders(tmp_path, data_dir, params):
    vecs = clustered_unit_vectors(200, 32)
    with Library.open(data_dir, params) as lib:
        a = fill(lib, tmp_path / "a", vecs[:100])
        b = fill(lib, tmp_path / "b", vecs[100:])
        ident = SPEC.identity()
        assert lib.count() == lib.count(ident) == 200
        assert lib.model_spec() == SPEC           # a new library adopts its first model
        for i in (0, 150):
            hits = lib.nearest(lib.vector((a + b)[i], ident), ident, 5)
            assert hits[0][0] == (a + b)[i] and hits[0][1] == pytest.approx(1.0, abs=1e-5)
        only_b = lib.nearest(vecs[0], ident, 10, folder=str(tmp_path / "b"))
        assert len(only_b) == 10 and {i for i, _ in only_b} <= set(b)
        assert lib.nearest(vecs[0], "unknown-model", 5) == []


def test_non_utf8_paths_round_trip(tmp_path, data_dir):
    name = os.fsdecode(b"caf\xe9-\xff.jpg")             # not valid UTF-8: surrogate-escaped
    with Library.open(data_dir) as lib:
        fid = lib.add_folder(str(tmp_path)).id
        lib.apply(Changes(indexed=[IndexedImage(str(tmp_path / name), fid, 1, 1,
                                                clustered_unit_vectors(1, 8)[0])]), SPEC, 8)
    with Library.open(data_dir) as lib:
        row = lib.find_image(str(tmp_path / name))
        assert row is not None and os.fsencode(row.path) == os.fsencode(str(tmp_path)) + b"/caf\xe9-\xff.jpg"
        assert lib.images([row.id])[0].path == row.path


def test_remove_folder_forgets_its_images_but_touches_no_file(tmp_path, data_dir):
    vecs = clustered_unit_vectors(60, 16)
    keep = tmp_path / "a" / "photo.jpg"
    with Library.open(data_dir, HNSW) as lib:
        a = fill(lib, tmp_path / "a", vecs[:30])
        b = fill(lib, tmp_path / "b", vecs[30:])
        keep.write_bytes(b"x")
        lib.remove_folder(str(tmp_path / "a"))
        assert [f.path for f in lib.folders()] == [str(tmp_path / "b")]
        assert lib.images(a) == [] and lib.count() == 30
        assert {i for i, _ in lib.nearest(vecs[0], SPEC.identity(), 100)} == set(b)
        with pytest.raises(ClipcoreError):
            lib.remove_folder(str(tmp_path / "never-added"))
    assert keep.read_bytes() == b"x"


def test_nested_folders_are_one_library_folder(tmp_path, data_dir):
    (tmp_path / "p" / "2020").mkdir(parents=True)
    with Library.open(data_dir) as lib:
        child = fill(lib, tmp_path / "p" / "2020", clustered_unit_vectors(3, 8))
        parent = lib.add_folder(str(tmp_path / "p"))          # absorbs the child folder
        assert [f.path for f in lib.folders()] == [str(tmp_path / "p")]
        assert parent.image_count == 3 and lib.count() == 3 and len(lib.images(child)) == 3
        assert lib.add_folder(str(tmp_path / "p" / "2020")).id == parent.id


def test_folder_counts_and_skipped(tmp_path, data_dir):
    with Library.open(data_dir) as lib:
        fill(lib, tmp_path / "a", clustered_unit_vectors(4, 8))
        fid = lib.folder_id(str(tmp_path / "a"))
        lib.apply(Changes(skipped=[SkippedImage(str(tmp_path / "a" / "bad.jpg"), fid, 3, 4, "truncated file")]))
        (info,) = lib.folders()
        assert (info.image_count, info.indexed_count, info.skipped_count) == (5, 4, 1)
        assert [(r.path, r.skip_reason) for r in lib.skipped()] == [(str(tmp_path / "a" / "bad.jpg"), "truncated file")]


@pytest.mark.parametrize("damage", ["deleted", "truncated", "garbage", "other-model"])
def test_a_damaged_vector_index_is_rebuilt_from_the_catalog(tmp_path, data_dir, damage, caplog):
    vecs = clustered_unit_vectors(300, 16)
    with Library.open(data_dir, HNSW) as lib:
        ids = fill(lib, tmp_path / "a", vecs)
    hnsw, sidecar = index_paths(data_dir, 1)
    raw = hnsw.read_bytes()
    if damage == "deleted":
        hnsw.unlink()
    elif damage == "truncated":
        hnsw.write_bytes(raw[: len(raw) // 3])
    elif damage == "garbage":
        hnsw.write_bytes(os.urandom(len(raw)))
    else:
        sidecar.write_text(sidecar.read_text().replace(SPEC.identity(), "another|model"))
    caplog.set_level("WARNING", logger="clipcore")
    with Library.open(data_dir, HNSW) as lib:
        for i in (0, 123, 299):
            assert lib.nearest(vecs[i], SPEC.identity(), 1)[0][0] == ids[i]
    assert [r.getMessage() for r in caplog.records if "rebuilding" in r.getMessage()]
    caplog.clear()
    with Library.open(data_dir, HNSW) as lib:                 # the rebuilt index was saved
        assert lib.nearest(vecs[5], SPEC.identity(), 1)[0][0] == ids[5]
    assert not caplog.records


def test_a_reader_sees_what_another_writer_commits(tmp_path, data_dir):
    vecs = clustered_unit_vectors(100, 16)
    with Library.open(data_dir, HNSW) as writer, Library.open(data_dir, HNSW) as reader:
        first = fill(writer, tmp_path / "a", vecs[:50])
        ident = SPEC.identity()
        assert reader.nearest(vecs[10], ident, 1)[0][0] == first[10]
        second = fill(writer, tmp_path / "b", vecs[50:])
        writer.remove_folder(str(tmp_path / "a"))
        found = {i for i, _ in reader.nearest(vecs[60], ident, 200)}
        assert found == set(second)


def test_a_crash_between_commit_and_index_save_is_caught_up(tmp_path, data_dir, monkeypatch, caplog):
    from clipcore.ann_cache import AnnCache

    vecs = clustered_unit_vectors(80, 16)
    with Library.open(data_dir, HNSW) as lib:
        first = fill(lib, tmp_path / "a", vecs[:40])
        monkeypatch.setattr(AnnCache, "_save_if_writer", lambda *a, **k: None)
        second = fill(lib, tmp_path / "b", vecs[40:])     # committed; index file not saved
    monkeypatch.undo()
    caplog.set_level("WARNING", logger="clipcore")
    with Library.open(data_dir, HNSW) as lib:
        assert {i for i, _ in lib.nearest(vecs[0], SPEC.identity(), 100)} == set(first + second)
    assert not caplog.records                        # caught up incrementally, no rebuild


def test_disk_full_during_commit_keeps_the_previous_state(tmp_path, data_dir, monkeypatch):
    import sqlite3

    import clipcore.catalog.images as catalog_images

    vecs = clustered_unit_vectors(20, 8)
    with Library.open(data_dir, HNSW) as lib:
        ids = fill(lib, tmp_path / "a", vecs[:10])
        hnsw = index_paths(data_dir, 1)[0]
        before = hnsw.read_bytes()

        def full(*args, **kwargs):
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(catalog_images, "upsert_image", full)
        with pytest.raises(DiskFullError, match="disk is full"):
            fill(lib, tmp_path / "a", vecs[10:], prefix="more")
        monkeypatch.undo()
        assert lib.count() == 10 and hnsw.read_bytes() == before
        assert {i for i, _ in lib.nearest(vecs[0], SPEC.identity(), 50)} == set(ids)


def test_newer_catalog_is_refused_and_left_untouched(data_dir):
    Library.open(data_dir).close()
    db = data_dir / "catalog.sqlite"
    with open_db(db) as c:
        c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    state = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in data_dir.iterdir()}
    with pytest.raises(CatalogVersionError, match="newer"):
        Library.open(data_dir)
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in data_dir.iterdir()} == state


def test_a_file_that_is_not_a_catalog_is_a_clear_error(data_dir):
    data_dir.mkdir(parents=True)
    (data_dir / "catalog.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CatalogError, match="is damaged .* run 'clipcore repair'"):
        Library.open(data_dir)


def test_a_second_process_writing_the_library_is_told_it_is_busy(tmp_path, data_dir):
    Library.open(data_dir).close()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from clipcore.library import Library\n"
         "lib = Library.open(sys.argv[1])\n"
         "with lib.writer_lock.hold():\n"
         "    print('held', flush=True); sys.stdin.readline()\n", str(data_dir)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[2])
    try:
        assert holder.stdout.readline().strip() == "held"
        with Library.open(data_dir, lock_timeout=0.2) as lib:
            with pytest.raises(LibraryBusyError, match="busy"):
                lib.add_folder(str(tmp_path))
            assert lib.folders() == []                      # reads need no lock
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(timeout=30) == 0
        with Library.open(data_dir, lock_timeout=5) as lib:
            lib.add_folder(str(tmp_path))                   # free again
    finally:
        holder.kill()
        holder.wait()
        holder.stdin.close()
        holder.stdout.close()


def test_searches_in_threads_while_committing_return_committed_images(tmp_path, data_dir):
    vecs = clustered_unit_vectors(1500, 16)
    with Library.open(data_dir, IndexParams(exact_below=400)) as lib:   # crosses exact -> HNSW
        ids = fill(lib, tmp_path / "a", vecs[:100])
        ident, stop, bad = SPEC.identity(), threading.Event(), []

        def search():
            while not stop.is_set():
                hits = lib.nearest(vecs[5], ident, 10)
                rows = lib.images([i for i, _ in hits])
                if len(hits) != 10 or hits[0][0] != ids[5] or len(rows) != 10:
                    bad.append(hits)

        threads = [threading.Thread(target=search) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            for start in range(100, 1500, 100):
                fill(lib, tmp_path / "a", vecs[start:start + 100], prefix=f"b{start}-")
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert not bad
        assert lib.count() == 1500
