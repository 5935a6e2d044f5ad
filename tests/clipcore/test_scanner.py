"""scan_folder on the zoo and on small made-up trees; content_hash."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from clipcore.scanner import FileEntry, ScanProblem, content_hash, scan_folder
from tests.helpers import zoo


def zoo_root(kinds) -> str:
    return str(Path(kinds["good_jpeg"]).parent.parent)


def split(items):
    files = [i for i in items if isinstance(i, FileEntry)]
    problems = {i.path: i.reason for i in items if isinstance(i, ScanProblem)}
    return files, problems


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_finds_every_zoo_image_once_and_reports_link_problems(kinds):
    files, problems = split(list(scan_folder(zoo_root(kinds))))
    paths = [f.path for f in files]
    assert len(paths) == len(set(paths)), "a file was reported twice (symlink loop?)"
    expected = {kinds[k] for k in zoo.DECODE_OK | set(zoo.DECODE_FAILS)}
    assert set(paths) == expected
    for kind, reason in zoo.SCAN_PROBLEMS.items():
        assert problems[kinds[kind]] == reason
    assert problems[os.path.join(kinds["symlink_loop"], "a", "up")] == "symlink loop"
    for f in files:
        st = os.stat(f.path)
        assert (f.size, f.mtime_ns) == (st.st_size, st.st_mtime_ns)
        assert os.path.isabs(f.path)


def test_non_utf8_name_round_trips(kinds):
    files, _ = split(list(scan_folder(zoo_root(kinds))))
    bad = next(f.path for f in files if f.path == kinds["non_utf8_name"])
    assert os.fsencode(bad).endswith(b"bad\xff.jpg")
    assert os.path.getsize(bad) == next(f.size for f in files if f.path == bad)
    assert len(content_hash(bad)) == 32


def test_extension_filter_hidden_and_excluded(tmp_path):
    for name in ["a.JPG", "b.jpeg", "c.HEIC", "d.txt", "e.jpg.part", "noext", "jpg", ".hidden.jpg",
                 ".cache/f.jpg", "sub/g.png", "skip/h.png", "sub/skip-not/i.webp"]:
        touch(tmp_path / name)
    (tmp_path / "dir.jpg").mkdir()                      # a folder named like a photo
    os.mkfifo(tmp_path / "pipe.jpg")                    # not a regular file
    found = [f.path for f in scan_folder(str(tmp_path), exclude=[str(tmp_path / "skip")])]
    names = [os.path.relpath(p, tmp_path) for p in found]
    assert names == ["a.JPG", "b.jpeg", "c.HEIC", "sub/g.png", "sub/skip-not/i.webp"]


def test_exclude_matches_the_folder_through_any_spelling(tmp_path):
    touch(tmp_path / "photos" / "raw" / "x.jpg")
    touch(tmp_path / "photos" / "keep.jpg")
    os.symlink(tmp_path / "photos" / "raw", tmp_path / "alias")
    found = [f.path for f in scan_folder(str(tmp_path / "photos"), exclude=[str(tmp_path / "alias")])]
    assert found == [str(tmp_path / "photos" / "keep.jpg")]


def test_symlinked_folder_is_followed_and_real_path_preferred(tmp_path):
    outside = tmp_path / "outside"
    touch(outside / "o.jpg")
    lib = tmp_path / "lib"
    touch(lib / "zz_real" / "r.jpg")
    os.symlink(outside, lib / "aa_link_out")            # a folder outside the library: followed
    os.symlink(lib / "zz_real", lib / "aa_link_in")     # another name for a folder inside it
    os.symlink(lib / "zz_real" / "r.jpg", lib / "file_link.jpg")
    found = sorted(f.path for f in scan_folder(str(lib)))
    assert found == sorted([str(lib / "aa_link_out" / "o.jpg"), str(lib / "zz_real" / "r.jpg"),
                            str(lib / "file_link.jpg")])


def test_self_referencing_links_terminate(tmp_path):
    touch(tmp_path / "a" / "p.jpg")
    os.symlink(tmp_path, tmp_path / "a" / "root")       # back to an ancestor
    os.symlink("self.jpg", tmp_path / "self.jpg")       # a link to itself
    os.symlink("loop.txt", tmp_path / "loop.txt")       # not a photo: nobody's concern
    os.symlink("missing", tmp_path / "gone.txt")
    files, problems = split(list(scan_folder(str(tmp_path))))
    assert [f.path for f in files] == [str(tmp_path / "a" / "p.jpg")]
    assert problems == {str(tmp_path / "a" / "root"): "symlink loop",
                        str(tmp_path / "self.jpg"): "symlink loop"}


def test_folder_deleted_mid_scan(tmp_path):
    touch(tmp_path / "0.jpg")
    touch(tmp_path / "a" / "a.jpg")
    touch(tmp_path / "b" / "b.jpg")
    scan = scan_folder(str(tmp_path))
    assert next(scan).path == str(tmp_path / "0.jpg")
    assert next(scan).path == str(tmp_path / "a" / "a.jpg")   # b is listed but not yet read
    shutil.rmtree(tmp_path / "b")
    assert list(scan) == [ScanProblem(str(tmp_path / "b"), "folder vanished", folder=True)]


def test_unreadable_folder_is_a_problem_and_the_scan_goes_on(tmp_path):
    touch(tmp_path / "locked" / "x.jpg")
    touch(tmp_path / "open" / "y.jpg")
    os.chmod(tmp_path / "locked", 0)
    try:
        if os.access(tmp_path / "locked", os.R_OK):
            pytest.skip("this process reads chmod-000 folders (running as root)")
        files, problems = split(list(scan_folder(str(tmp_path))))
    finally:
        os.chmod(tmp_path / "locked", 0o755)
    assert [f.path for f in files] == [str(tmp_path / "open" / "y.jpg")]
    assert problems == {str(tmp_path / "locked"): "permission denied"}


def test_missing_root_or_file_root(tmp_path):
    assert list(scan_folder(str(tmp_path / "nope"))) == [
        ScanProblem(str(tmp_path / "nope"), "folder not found", folder=True)]
    f = touch(tmp_path / "f.jpg")
    assert list(scan_folder(str(f))) == [ScanProblem(str(f), "not a folder", folder=True)]


def test_scanning_writes_nothing(kinds):
    def listing():
        out = {}
        for dirpath, dirnames, filenames in os.walk(zoo_root(kinds)):
            for name in dirnames + filenames:
                st = os.lstat(os.path.join(dirpath, name))
                out[os.path.join(dirpath, name)] = (st.st_size, st.st_mtime_ns, st.st_mode)
        return out

    before = listing()
    list(scan_folder(zoo_root(kinds)))
    for f in scan_folder(zoo_root(kinds)):
        if isinstance(f, FileEntry) and os.access(f.path, os.R_OK):
            content_hash(f.path)
    assert listing() == before


def test_content_hash_recognises_moves_and_changes(tmp_path):
    big = bytes(range(256)) * 2048                       # 512 KiB
    a = touch(tmp_path / "a.jpg", big)
    moved = tmp_path / "elsewhere" / "renamed.jpg"
    moved.parent.mkdir()
    shutil.copy2(a, moved)
    assert content_hash(str(a)) == content_hash(str(moved))
    for changed in (big[:-1] + b"\x00",                  # last byte (tail)
                    b"\x01" + big[1:],                   # first byte (head)
                    big + b"x"):                         # size
        assert content_hash(str(touch(tmp_path / "c.jpg", changed))) != content_hash(str(a))
    small = touch(tmp_path / "s.jpg", b"tiny")           # shorter than one chunk
    assert content_hash(str(small)) != content_hash(str(touch(tmp_path / "t.jpg", b"tinY")))
    with pytest.raises(FileNotFoundError):
        content_hash(str(tmp_path / "gone.jpg"))
