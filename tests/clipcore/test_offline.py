"""Drives that come and go: an offline library folder (or drive inside one) keeps its photos,
stays searchable, and nothing is embedded again when it returns. Only Remove empties it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from clipcore import offline, scanner
from clipcore.indexer import index_folders
from clipcore.search import Searcher
from tests.helpers.e2e import TINY_CONFIG, make_photos, run_cli


def run(library, folders, encoder):
    """Index ``folders``; returns (summary, images encoded)."""
    encoder.encoded.clear()
    events = list(index_folders(library, [str(f) for f in folders], encoder.spec, encoder=encoder))
    return events[-1].summary, sum(encoder.encoded)


def snapshot(library, encoder):
    """path -> vector of every indexed photo."""
    ids = [i for i, _ in library.nearest(np.ones(encoder.dim, np.float32) / encoder.dim ** .5,
                                         encoder.identity, 10_000)]
    return {r.path: library.vector(r.id, encoder.identity) for r in library.images(ids)}


def indexed(library, encoder, folder: Path, n: int, *, seed: int):
    """``n`` photos made in ``folder`` and indexed; returns the library's snapshot."""
    make_photos(folder, n, seed=seed)
    run(library, [folder], encoder)
    return snapshot(library, encoder)


def assert_kept(library, encoder, before, summary, folder, reason):
    """Nothing removed or embedded; the folder is reported offline; every photo still found."""
    assert summary.removed == 0 and summary.new == 0, summary
    assert summary.offline == {str(folder): reason}
    after = snapshot(library, encoder)
    assert after.keys() == before.keys()
    for path, vec in before.items():
        np.testing.assert_array_equal(after[path], vec)
    assert library.offline_folders()[str(folder)].offline_reason == reason


def assert_back(library, encoder, before, folders):
    """The folder is online again: nothing re-embedded, same ids and vectors."""
    summary, encoded = run(library, folders, encoder)
    assert encoded == 0 and summary.new == 0 and summary.removed == 0, summary
    assert summary.offline == {} and library.offline_folders() == {}
    after = snapshot(library, encoder)
    assert after.keys() == before.keys()


def fake_device(monkeypatch, path: Path, dev: int) -> None:
    """os.stat reports ``dev`` as the st_dev of ``path`` (another drive mounted there)."""
    real = os.stat

    def stat(p, *a, **kw):
        st = real(p, *a, **kw)
        if os.fspath(p) == str(path):
            cls, (seq, extra) = st.__reduce__()[:2]
            seq = list(seq)
            seq[2] = dev
            return cls(seq, extra)
        return st

    monkeypatch.setattr(os, "stat", stat)


def test_empty_mount_point_keeps_everything_and_nothing_is_embedded_on_return(
        tmp_path, library, encoder):
    drive = tmp_path / "drive"
    make_photos(drive, 6, seed=1)
    summary, encoded = run(library, [drive], encoder)
    assert (summary.new, encoded) == (6, 6)
    before = snapshot(library, encoder)

    shutil.move(drive, tmp_path / "unplugged")     # the drive goes away ...
    drive.mkdir()                                  # ... leaving its empty mount point
    summary, encoded = run(library, [drive], encoder)
    assert encoded == 0
    assert_kept(library, encoder, before, summary, drive, offline.EMPTY)
    assert summary.kept_offline == 6
    info = library.folders()[0]
    assert info.offline_reason == offline.EMPTY and info.image_count == 6
    assert info.last_seen_ns is not None and info.offline_since_ns >= info.last_seen_ns
    # still searchable, and the search says which hits are offline
    hits = Searcher(library, lambda: encoder, encoder.identity).search("anything", k=10)
    assert len(hits) == 6 and all(h.offline for h in hits)

    drive.rmdir()
    shutil.move(tmp_path / "unplugged", drive)     # plugged in again
    assert_back(library, encoder, before, [drive])
    searcher = Searcher(library, lambda: encoder, encoder.identity)
    assert not any(h.offline for h in searcher.search("anything", k=10))


def test_missing_folder(tmp_path, library, encoder):
    drive = tmp_path / "nas"
    before = indexed(library, encoder, drive, 4, seed=2)
    drive.rename(tmp_path / "away")
    summary, encoded = run(library, [drive], encoder)
    assert encoded == 0 and summary.kept_offline == 4
    assert_kept(library, encoder, before, summary, drive, offline.MISSING)
    (tmp_path / "away").rename(drive)
    assert_back(library, encoder, before, [drive])


def test_dangling_symlink(tmp_path, library, encoder):
    target = tmp_path / "mnt" / "photos"
    make_photos(target, 4, seed=3)
    link = tmp_path / "Photos"
    link.symlink_to(target)
    run(library, [link], encoder)
    before = snapshot(library, encoder)
    target.rename(tmp_path / "mnt" / "gone")
    summary, _ = run(library, [link], encoder)
    assert_kept(library, encoder, before, summary, link, offline.DANGLING)
    (tmp_path / "mnt" / "gone").rename(target)
    assert_back(library, encoder, before, [link])


def test_unreadable_folder(tmp_path, library, encoder, monkeypatch):
    """(The tests run as root, which reads a chmod-000 folder: the refusal is injected.)"""
    drive = tmp_path / "share"
    before = indexed(library, encoder, drive, 4, seed=4)
    real = os.scandir

    def refuse(path="."):
        if os.fspath(path) == str(drive):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    with monkeypatch.context() as m:
        m.setattr(os, "scandir", refuse)
        summary, encoded = run(library, [drive], encoder)
    assert encoded == 0
    assert_kept(library, encoder, before, summary, drive, offline.UNREADABLE)
    assert library.skipped() == []              # the folder itself is not a "skipped file"
    assert_back(library, encoder, before, [drive])


def test_another_device_at_the_mount_point(tmp_path, library, encoder, monkeypatch):
    drive = tmp_path / "card"
    before = indexed(library, encoder, drive, 5, seed=5)
    shutil.move(drive, tmp_path / "unplugged")
    make_photos(drive, 1, seed=6, prefix="other")  # another card, with another photo
    with monkeypatch.context() as m:
        fake_device(m, drive, os.stat(drive).st_dev + 1)
        summary, encoded = run(library, [drive], encoder)
    assert encoded == 0                             # the stranger's photo is not indexed
    assert_kept(library, encoder, before, summary, drive, offline.OTHER_DEVICE)
    shutil.rmtree(drive)
    shutil.move(tmp_path / "unplugged", drive)
    assert_back(library, encoder, before, [drive])


def test_the_same_drive_under_a_new_device_number_is_simply_online(
        tmp_path, library, encoder, monkeypatch):
    drive = tmp_path / "usb"
    make_photos(drive, 3, seed=7)
    run(library, [drive], encoder)
    dev = os.stat(drive).st_dev + 7
    with monkeypatch.context() as m:
        fake_device(m, drive, dev)
        summary, encoded = run(library, [drive], encoder)
        assert (summary.unchanged, encoded, summary.offline) == (3, 0, {})
    assert library.volumes()[str(drive)].dev == dev


def test_a_drive_mounted_inside_a_library_folder(tmp_path, library, encoder, monkeypatch):
    """A sub-folder on another device (a mount point) that vanishes is offline; a plain
    sub-folder the user deletes is removed; photos moved out of a folder are moved."""
    root = tmp_path / "lib"
    make_photos(root / "ext", 4, seed=8)            # will be on "another device"
    make_photos(root / "album", 3, seed=9)          # a plain folder the user deletes
    make_photos(root / "card", 2, seed=10)          # a mount point whose drive is unplugged
    moved = make_photos(root / "old", 2, seed=11)   # photos the user moves to another folder
    ext_ino = os.stat(root / "ext").st_ino
    real_key = scanner._key
    monkeypatch.setattr(scanner, "_key", lambda st: (999, st.st_ino) if st.st_ino == ext_ino
                        else real_key(st))
    summary, _ = run(library, [root], encoder)
    assert summary.new == 11
    assert library.volumes()[str(root / "ext")].dev == 999
    before = snapshot(library, encoder)

    shutil.rmtree(root / "ext")                     # automounter removes the mount point
    shutil.rmtree(root / "album")                   # the user deletes a folder
    shutil.move(root / "card", tmp_path / "card")
    (root / "card").mkdir()                         # the empty mount point stays
    (root / "new").mkdir()
    for p in moved:
        p.rename(root / "new" / p.name)             # leaves "old" empty: a move, not offline
    summary, encoded = run(library, [root], encoder)
    assert encoded == 0
    assert summary.offline == {str(root / "ext"): offline.MISSING,
                               str(root / "card"): offline.EMPTY}
    assert (summary.removed, summary.moved, summary.kept_offline) == (3, 2, 6)
    after = snapshot(library, encoder)
    album = {p for p in before if p.startswith(str(root / "album") + os.sep)}
    assert len(album) == 3
    assert set(before) - set(after) == album | {str(p) for p in moved}
    assert set(after) - set(before) == {str(root / "new" / p.name) for p in moved}
    assert all(p in after for p in before if "/ext/" in p or "/card/" in p)
    assert sorted(library.offline_folders()) == [str(root / "card"), str(root / "ext")]

    # only the user forgets an offline drive
    library.remove_folder(str(root / "card"))
    assert not any("/card/" in p for p in snapshot(library, encoder))
    assert sorted(library.offline_folders()) == [str(root / "ext")]


@pytest.mark.timeout(600)
def test_cli_reports_offline_keeps_searching_and_remove_forgets(tmp_path):
    data, drive = tmp_path / "data", tmp_path / "drive"
    make_photos(drive, 5, seed=12)
    model = ["--model", str(TINY_CONFIG)]
    assert run_cli(["index", drive, *model], data).returncode == 0
    shutil.move(drive, tmp_path / "unplugged")
    drive.mkdir()
    done = run_cli(["index", drive], data)
    assert done.returncode == 0, done.stderr
    assert "removed" not in done.stdout and "Offline: " + str(drive) in done.stdout
    info = run_cli(["info"], data)
    assert "5 files, 5 indexed" in info.stdout and "offline: empty" in info.stdout
    found = run_cli(["search", "a photo", "-k", "10"], data)
    assert found.returncode == 0 and found.stdout.count(str(drive)) == 5
    drive.rmdir()                                   # a missing library folder is still known
    assert run_cli(["index", drive], data).returncode == 0
    gone = run_cli(["remove", drive], data)
    assert gone.returncode == 0, gone.stderr
    assert "Folders (0)" in run_cli(["info"], data).stdout
