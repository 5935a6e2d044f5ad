"""What `clipcore` says when a user gets something slightly wrong (each found by trying it)."""

from __future__ import annotations

import os

import pytest

from tests.helpers.e2e import TINY_CONFIG, cli, make_photos

MODEL = ["--model", str(TINY_CONFIG)]
SHAPES = ["--model", "shapes"]


def error_line(code: int, err: str, expected_code: int = 1) -> str:
    """The one error line of a failed command (no traceback)."""
    assert code == expected_code, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A library with one folder `photos` (6 photos in it, 3 of them in `photos/sub`) plus the
    odd files users have beside photos, indexed with the tiny model."""
    root = tmp_path_factory.mktemp("msgs")
    photos = root / "photos"
    make_photos(photos, 3)
    make_photos(photos / "sub", 3, seed=1, prefix="sub")
    (photos / "song.mp3").write_bytes(b"ID3" + b"\0" * 100)
    (photos / "notes.txt").write_text("shopping list")
    (photos / "readme").write_text("no extension, not a photo")
    png = (photos / "img0000.png").read_bytes()
    (photos / "disguised.dat").write_bytes(png)        # a PNG named .dat
    (photos / "noextension").write_bytes(png)          # a PNG with no extension
    data = root / "data"
    code, out, err = cli("index", photos, *MODEL, "--data-dir", data)
    assert code == 0, err
    return data, photos, out


def test_files_of_unknown_type_are_sniffed_and_other_files_counted(library):
    _, _, out = library
    assert "8 new" in out                      # 6 photos + the .dat and extension-less PNGs
    assert "3 other files ignored" in out
    assert "sound 1" in out and "text 1" in out and "unknown type 1" in out


def test_index_without_a_folder_rescans_every_library_folder(library):
    data, _, _ = library
    code, out, err = cli("index", "--data-dir", data)
    assert code == 0, err
    assert "Rescanning 1 library folder" in err
    assert "Nothing to do: 8 photos unchanged" in out


def test_index_without_a_folder_on_an_empty_library_says_what_to_do(tmp_path):
    line = error_line(*cli("index", "--data-dir", tmp_path / "data", *MODEL)[::2])
    assert "no folders yet" in line and "clipcore index DIR" in line


def test_index_of_a_sub_folder_reports_that_sub_folders_counts(library):
    data, photos, _ = library
    code, out, err = cli("index", photos / "sub", "--data-dir", data)
    assert code == 0, err
    assert "Nothing to do: 3 photos unchanged" in out
    # ... and nothing outside it was forgotten
    code, out, _ = cli("info", "--data-dir", data)
    assert "Indexed photos: 8" in out


def test_similar_to_a_folder_says_it_is_a_folder(library):
    data, photos, _ = library
    line = error_line(*cli("similar", photos, "--data-dir", data)[::2])
    assert "is a folder, not an image" in line
    assert "no such file" not in line


def test_data_dir_that_is_a_file_is_one_plain_line(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    line = error_line(*cli("info", "--data-dir", afile)[::2])
    assert f"{afile} is a file, not a folder" in line
    assert "unexpected" not in line and "FileExistsError" not in line
    line = error_line(*cli("info", "--data-dir", afile / "below")[::2])
    assert "part of its path is a file" in line


@pytest.mark.parametrize("value", ["2", "-2", "1.01", "nan", "abc"])
def test_threshold_outside_minus_one_to_one_is_refused(library, value):
    data, _, _ = library
    line = error_line(*cli("search", "red", "--threshold", value, "--data-dir", data)[::2],
                      expected_code=2)
    assert "between -1 and 1" in line


def test_threshold_at_the_limits_is_accepted(library):
    data, _, _ = library
    assert cli("search", "red", "--threshold", "-1", "--data-dir", data)[0] == 0
    assert cli("search", "red", "--threshold", "1", "--data-dir", data)[0] == 0


@pytest.mark.parametrize("value", ["abc", "0", "-3", "2.5"])
def test_k_must_be_a_whole_number(library, value):
    data, _, _ = library
    line = error_line(*cli("search", "red", "-k", value, "--data-dir", data)[::2],
                      expected_code=2)
    assert "-k: must be a whole number >= 1" in line
    assert "_positive_int" not in line


def test_folder_filter_outside_the_library_is_an_error(library, tmp_path):
    data, photos, _ = library
    line = error_line(*cli("search", "red", "--folder", tmp_path, "--data-dir", data)[::2])
    assert f"{tmp_path} is not a library folder" in line
    code, out, err = cli("search", "red", "--folder", photos / "sub", "--json", "--data-dir", data)
    assert code == 0, err
    assert all(f"{os.sep}sub{os.sep}" in p for p in out.split('"path": ')[1:])


def test_errors_name_the_model_as_users_do(library):
    data, _, _ = library
    code, _, err = cli("search", "red", *SHAPES, "--data-dir", data)
    line = error_line(code, err)
    assert "shapes-clip" in line
    assert "config:" not in line and "ckpt:" not in line and "|" not in line



def test_after_a_cancelled_run_info_says_what_is_left_and_what_to_run(tmp_path):
    import threading

    from clipcore.indexer import index_folders
    from clipcore.library import Library
    from clipcore.presets import resolve_model_spec

    make_photos(tmp_path / "photos", 40)
    cancel = threading.Event()
    with Library.open(tmp_path / "data") as library:
        spec = resolve_model_spec(str(TINY_CONFIG), device="cpu")
        for event in index_folders(library, [tmp_path / "photos"], spec, cancel=cancel,
                                   batch_size=4, commit_every=8):
            if event.phase == "commit":
                cancel.set()
        (folder,) = library.folders()
    assert folder.pending > 0 and folder.indexed_count + folder.pending == 40
    code, out, err = cli("info", "--data-dir", tmp_path / "data")
    assert code == 0, err
    assert f"{folder.pending} not indexed yet" in out
    assert "run 'clipcore index' to finish" in out
    code, out, err = cli("index", "--data-dir", tmp_path / "data")
    assert code == 0 and f"{folder.pending} new" in out, err
    code, out, _ = cli("info", "--data-dir", tmp_path / "data")
    assert "not indexed yet" not in out


def test_a_rescan_reads_no_file_of_unknown_type_twice(library, monkeypatch):
    """The first bytes of `readme`, `noextension` and `disguised.dat` were read by the first
    index run; the answers are in the catalog, so a rescan is stat-only."""
    from clipcore import scanner

    data, _, _ = library

    def no_reading(path):
        raise AssertionError(f"{path} was read again")

    monkeypatch.setattr(scanner, "sniff_file", no_reading)
    code, out, err = cli("index", "--data-dir", data)
    assert code == 0, err
    assert "Nothing to do: 8 photos unchanged" in out and "unknown type 1" in out
