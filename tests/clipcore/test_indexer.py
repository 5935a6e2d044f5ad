"""The indexing pipeline with the real scanner, imaging and tiny encoder."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import numpy as np

from clipcore import imaging, indexer, scanner
from clipcore.encoder import Encoder
from clipcore.indexer import index_folders
from clipcore.library import Library
from tests.helpers.e2e import make_photos


def run(library, folder, encoder, **kw):
    """Index ``folder``; returns (events, summary, images encoded)."""
    encoder.encoded.clear()
    events = list(index_folders(library, [str(folder)], encoder.spec, encoder=encoder, **kw))
    assert events[-1].phase == "done"
    return events, events[-1].summary, sum(encoder.encoded)


def test_new_changed_deleted_and_moved_files(tmp_path, library, encoder):
    photos = make_photos(tmp_path / "p", 12, seed=1)
    (tmp_path / "p" / "sub").mkdir()
    _, s, n = run(library, tmp_path / "p", encoder, batch_size=4)
    assert (s.new, n, library.count()) == (12, 12, 12)
    ident = encoder.identity
    moved_row = library.find_image(str(photos[0]))
    moved_vec = library.vector(moved_row.id, ident)
    changed_vec = library.vector(library.find_image(str(photos[1])).id, ident)

    target = tmp_path / "p" / "sub" / "renamed.png"
    photos[0].rename(target)                                           # moved
    make_photos(tmp_path / "tmp", 1, seed=99)[0].replace(photos[1])    # changed content
    os.utime(photos[1], ns=(1, 1))
    photos[2].unlink()                                                 # deleted
    make_photos(tmp_path / "p", 2, seed=5, prefix="new")               # new
    _, s, n = run(library, tmp_path / "p", encoder)
    assert (s.new, s.changed, s.moved, s.removed, s.unchanged) == (2, 1, 1, 1, 9)
    assert n == 3                                       # the moved file was not re-encoded
    row = library.find_image(str(target))
    assert row.id == moved_row.id and library.find_image(str(photos[0])) is None
    np.testing.assert_array_equal(library.vector(row.id, ident), moved_vec)
    assert not np.allclose(library.vector(library.find_image(str(photos[1])).id, ident), changed_vec)
    assert library.find_image(str(photos[2])) is None and library.count() == 13
    hits = library.nearest(moved_vec, ident, 20)
    assert hits[0][0] == row.id and len(hits) == 13


def test_skipped_files_are_recorded_and_retried_only_when_changed(tmp_path, library, encoder):
    make_photos(tmp_path / "p", 3)
    bad = tmp_path / "p" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    _, s, _ = run(library, tmp_path / "p", encoder)
    assert s.skipped == 1 and sum(s.skip_reasons.values()) == 1
    (row,) = library.skipped()
    assert row.path == str(bad) and row.skip_reason in s.skip_reasons

    calls = []
    real = imaging.decode_image

    def watching(path, *a, **k):
        calls.append(path)
        return real(path, *a, **k)

    imaging.decode_image, saved = watching, imaging.decode_image
    try:
        _, s, _ = run(library, tmp_path / "p", encoder)
        assert calls == [] and s.unchanged == 4 and s.skipped == 0
        make_photos(tmp_path / "tmp", 1, seed=3)[0].replace(bad)      # fixed by the user
        _, s, n = run(library, tmp_path / "p", encoder)
    finally:
        imaging.decode_image = saved
    assert calls == [str(bad)] and n == 1 and library.skipped() == []
    assert library.count() == 4


def test_an_unchanged_library_loads_no_model_and_reads_no_file(tmp_path, library, encoder, monkeypatch):
    make_photos(tmp_path / "p", 5)
    run(library, tmp_path / "p", encoder)

    def forbidden(*a, **k):
        raise AssertionError("unchanged library: nothing may be loaded or read")

    monkeypatch.setattr(Encoder, "load", classmethod(forbidden))
    monkeypatch.setattr(imaging, "decode_image", forbidden)
    monkeypatch.setattr(scanner, "content_hash", forbidden)
    events = list(index_folders(library, [str(tmp_path / "p")], encoder.spec))
    assert events[-1].summary.unchanged == 5
    assert "load-model" not in {e.phase for e in events}


def test_cancel_commits_what_is_done_and_the_next_run_resumes(tmp_path, library, encoder):
    make_photos(tmp_path / "p", 40)
    cancel = threading.Event()
    encoder.encoded.clear()
    events = []
    for event in index_folders(library, [str(tmp_path / "p")], encoder.spec, encoder=encoder,
                               cancel=cancel, batch_size=5, workers=1):
        events.append(event)
        if event.phase == "encode" and event.done >= 10:
            cancel.set()
    summary = events[-1].summary
    first = sum(encoder.encoded)
    assert summary.cancelled and 10 <= library.count() == first < 40
    assert events[-1].total == 40 and all(e.total == 40 for e in events if e.phase == "encode")
    _, s, n = run(library, tmp_path / "p", encoder)
    assert not s.cancelled and n == 40 - first and library.count() == 40


def test_cancel_does_not_wait_for_a_photo_still_decoding(tmp_path, library, encoder, monkeypatch):
    """Quitting while a huge photo decodes (a large WebP or PNG has no reduced decode: seconds
    on a busy machine) ends the run at once: nothing half-done is written, and the next run
    indexes everything. Before, the run waited for a whole batch to decode and encode."""
    make_photos(tmp_path / "p", 6)
    cancel, release = threading.Event(), threading.Event()
    real = indexer.prepare

    def slow(*args, **kwargs):
        cancel.set()              # the user quits while this photo is decoding
        release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(indexer, "prepare", slow)
    try:
        events = list(index_folders(library, [str(tmp_path / "p")], encoder.spec,
                                    encoder=encoder, cancel=cancel, workers=1))
        assert events[-1].summary.cancelled and library.count() == 0
    finally:
        release.set()             # the decode thread finishes on its own
    monkeypatch.setattr(indexer, "prepare", real)
    _, s, n = run(library, tmp_path / "p", encoder)
    assert not s.cancelled and n == 6 and library.count() == 6


def test_progress_events_count_up_to_the_total(tmp_path, library, encoder):
    make_photos(tmp_path / "p", 9)
    events, s, _ = run(library, tmp_path / "p", encoder, batch_size=4)
    encode = [e for e in events if e.phase == "encode"]
    assert [e.done for e in encode] == [4, 8, 9] and all(e.total == 9 for e in encode)
    assert encode[-1].rate > 0 and encode[-1].eta_seconds == 0
    assert s.images_per_second > 0 and s.seconds > 0


def test_thumbnails_come_from_the_same_decode(tmp_path, library, encoder, monkeypatch):
    photos = make_photos(tmp_path / "p", 4, size=64)
    decodes, thumbs = [], {}
    real = imaging.decode_image
    monkeypatch.setattr(imaging, "decode_image", lambda path, **k: decodes.append(path) or real(path, **k))
    run(library, tmp_path / "p", encoder, thumbnails=lambda p, im: thumbs.setdefault(p, im.size),
        thumb_size=16)
    assert sorted(decodes) == sorted(thumbs) == sorted(map(str, photos))
    assert all(max(size) <= 16 for size in thumbs.values())


def test_a_missing_library_folder_keeps_its_photos(tmp_path, library, encoder, caplog):
    make_photos(tmp_path / "p", 3)
    run(library, tmp_path / "p", encoder)
    shutil.move(tmp_path / "p", tmp_path / "unplugged")
    _, s, _ = run(library, tmp_path / "p", encoder)
    assert s.removed == 0 and library.count() == 3
    assert any("missing" in r.getMessage() for r in caplog.records)


def test_files_vanishing_between_scan_and_decode_are_removals_not_errors(tmp_path, library, encoder, monkeypatch):
    photos = make_photos(tmp_path / "p", 6)
    run(library, tmp_path / "p", encoder)
    for p in photos[:3]:
        os.utime(p, ns=(5, 5))                       # changed: will be decoded again
    real_scan = scanner.scan_folder

    def scan_then_delete(root, *a, **k):
        yield from real_scan(root, *a, **k)
        photos[0].unlink()                           # after the scan, before the decode

    monkeypatch.setattr(scanner, "scan_folder", scan_then_delete)
    _, s, n = run(library, tmp_path / "p", encoder)
    assert n == 2 and s.removed == 1 and library.count() == 5
    assert library.find_image(str(photos[0])) is None


def test_a_new_model_replaces_the_old_one_only_when_complete(tmp_path, library, encoder):
    from clipcore.config import ModelSpec

    make_photos(tmp_path / "p", 12)
    run(library, tmp_path / "p", encoder)
    other_config = tmp_path / "other.json"
    other_config.write_text(Path(encoder.spec.name).read_text().replace('"embed_dim": 32', '"embed_dim": 16'))
    other = ModelSpec(name=str(other_config), device="cpu")
    cancel = threading.Event()
    for event in index_folders(library, [str(tmp_path / "p")], other, cancel=cancel, batch_size=4):
        if event.phase == "encode":
            cancel.set()
    assert library.model_identity() == encoder.identity           # search keeps the old model
    assert 0 < library.count(other.identity()) < 12 and library.count() == 12
    events = list(index_folders(library, [str(tmp_path / "p")], other))
    assert not events[-1].summary.cancelled
    assert library.model_identity() == other.identity() and library.count() == 12
    assert library.count(encoder.identity) == 12                   # old vectors are kept


def test_nothing_is_written_in_a_read_only_photo_tree(tmp_path, library, encoder):
    make_photos(tmp_path / "p" / "a", 4)
    before = sorted((str(p), p.stat().st_mtime_ns) for p in (tmp_path / "p").rglob("*"))
    for p in [tmp_path / "p", tmp_path / "p" / "a"]:
        p.chmod(0o555)
    try:
        _, s, n = run(library, tmp_path / "p", encoder)
    finally:
        for p in [tmp_path / "p", tmp_path / "p" / "a"]:
            p.chmod(0o755)
    assert n == 4 and s.new == 4
    assert sorted((str(p), p.stat().st_mtime_ns) for p in (tmp_path / "p").rglob("*")) == before


def test_excluded_folder_is_not_indexed_and_leaves_the_library(tmp_path, tiny_spec):
    """A folder excluded later disappears from the library; its files stay untouched."""
    from PIL import Image

    from clipcore.indexer import index_folders

    photos = tmp_path / "photos"
    (photos / "keep").mkdir(parents=True)
    (photos / "private").mkdir()
    for i, sub in enumerate(["keep", "keep", "private"]):
        Image.new("RGB", (40, 30), (i * 80, 40, 200 - i * 60)).save(photos / sub / f"{i}.png")
    with Library.open(tmp_path / "data") as lib:
        list(index_folders(lib, [str(photos)], tiny_spec))
        assert lib.count() == 3
        events = list(index_folders(lib, [str(photos)], tiny_spec,
                                    exclude=[str(photos / "private")]))
        assert events[-1].summary.removed == 1
        assert lib.count() == 3 - 1
        assert lib.find_image(str(photos / "private" / "2.png")) is None
    assert (photos / "private" / "2.png").is_file()
