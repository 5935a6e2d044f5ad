"""`clipcore similar A B`, --after/--before, --sort date, --csv and --copy-to, end to end."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import subprocess

import pytest

from tests.clipcore.test_cli import MODEL, _assert_error, cli
from tests.helpers.e2e import cli_command, cli_env, make_photos


def _stamp(path, year: int) -> None:
    t = dt.datetime(year, 5, 1, 12, 0).timestamp()
    os.utime(path, (t, t))


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """9 photos, 3 each dated 2019, 2020, 2021 by file time, indexed through the CLI."""
    root = tmp_path_factory.mktemp("cli-browse")
    photos = make_photos(root / "photos", 9, seed=5)
    for i, p in enumerate(photos):
        _stamp(p, 2019 + i % 3)
    data = root / "data"
    code, _, err = cli("index", root / "photos", *MODEL, "--data-dir", data)
    assert code == 0, err
    return data, photos


def _json(*args):
    code, out, err = cli(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_similar_takes_several_images_and_less(library):
    data, photos = library
    both = _json("similar", photos[0], photos[1], "-k", 9, "--data-dir", data)
    assert {h["path"] for h in both[:2]} <= {str(p) for p in photos} and len(both) == 9
    one = _json("similar", photos[0], "-k", 9, "--data-dir", data)
    assert one[0]["path"] == str(photos[0]) and both != one
    against = _json("similar", photos[0], "--less", photos[1], "-k", 9, "--data-dir", data)
    order = [h["path"] for h in against]
    assert order.index(str(photos[1])) > [h["path"] for h in one].index(str(photos[1])) or \
        order[-1] == str(photos[1])
    code, _, err = cli("similar", photos[0], "/no/such.jpg", "--data-dir", data)
    _assert_error(code, err, "/no/such.jpg", "no such file")


def test_after_before_filter_inclusively(library):
    data, photos = library
    hits = _json("similar", photos[0], "-k", 9, "--after", "2020-01-01", "--before", "2020-12-31",
                 "--data-dir", data)
    assert {h["path"] for h in hits} == {str(p) for i, p in enumerate(photos) if i % 3 == 1}
    assert all(h["date_taken"].startswith("2020-05-01") for h in hits)
    hits = _json("search", "sunset", "-k", 2, "--after", "2021-05-01", "--data-dir", data)
    assert len(hits) == 2 and all(h["date_taken"] >= "2021-05-01" for h in hits)


@pytest.mark.parametrize("flag,value", [("--after", "31/12/2021"), ("--before", "yesterday"),
                                        ("--after", "2021-02-30")])
def test_a_bad_date_is_one_line_and_exit_2(library, flag, value):
    data, _ = library
    code, out, err = cli("search", "cat", flag, value, "--data-dir", data)
    assert code == 2 and not out
    assert err.count("\n") == 1 and err.startswith("clipcore: error:") and value in err
    assert "YYYY-MM-DD" in err


def test_sort_by_date_newest_first(library):
    data, photos = library
    hits = _json("similar", photos[4], "-k", 9, "--threshold", "-1", "--sort", "date",
                 "--data-dir", data)
    assert len(hits) == 9
    assert [h["date_taken"] for h in hits] == sorted((h["date_taken"] for h in hits),
                                                     reverse=True)


def test_csv_output(library):
    data, photos = library
    code, out, err = cli("similar", photos[2], "-k", 3, "--csv", "--data-dir", data)
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["path", "score", "date_taken", "id"]
    assert rows[1][0] == str(photos[2]) and float(rows[1][1]) > 0.99 and len(rows) == 4
    assert rows[1][2].startswith("2021-05-01T12:00:00")


def test_copy_to_copies_and_leaves_the_originals_untouched(library, tmp_path):
    """As a user runs it: a subprocess, twice into the same folder (names clash)."""
    data, photos = library
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()   # noqa: E731
    before = {p: (digest(p), p.stat().st_mtime_ns) for p in photos}
    dest = tmp_path / "picked"
    for _ in range(2):
        proc = subprocess.run(cli_command(["similar", photos[0], "-k", 3, "--copy-to", dest]),
                              env=cli_env(data), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 3 and all(" -> " in line for line in lines)
    assert lines[0] == f"{photos[0]} -> {dest / (photos[0].stem + ' (2).png')}"
    assert len(list(dest.iterdir())) == 6
    assert {p: (digest(p), p.stat().st_mtime_ns) for p in photos} == before
    assert digest(dest / photos[0].name) == before[photos[0]][0]
