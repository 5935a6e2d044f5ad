"""The `clipcore` command at its edges: a second Ctrl+C, the --threshold boundary, a closed
stdout pipe (`clipcore info | head`), an unknown --model, a catalog file that is not SQLite."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.helpers.e2e import (TINY_CONFIG, assert_one_line_error, cli, cli_command, cli_env,
                               make_photos, run_cli)

MODEL = ["--model", str(TINY_CONFIG)]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """(data dir, photos): 10 photos indexed through the CLI with the tiny model."""
    root = tmp_path_factory.mktemp("cli-edges")
    photos = make_photos(root / "photos", 10, seed=5)
    code, _, err = cli("index", root / "photos", *MODEL, "--data-dir", root / "data")
    assert code == 0, err
    return root / "data", photos


# ------------------------------------------------------------------ a second Ctrl+C

# Patched into the `clipcore` subprocess: after the first embedded batch the process gets
# SIGINT twice, as when a user presses Ctrl+C and, not wanting to wait, presses it again.
# The generator runs in the main thread, so the first signal's handler has run (and set the
# cancel flag) before the second signal is sent.
TWO_CTRL_C = """
import os, signal
import clipcore.indexer
_index_folders = clipcore.indexer.index_folders
def index_folders(*args, **kwargs):
    for event in _index_folders(*args, **kwargs):
        if event.phase == "encode" and event.done:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        yield event
clipcore.indexer.index_folders = index_folders
"""


def test_a_second_ctrl_c_stops_at_once_with_exit_130_and_the_next_run_finishes(tmp_path):
    photos = make_photos(tmp_path / "photos", 12)
    args = ["index", tmp_path / "photos", *MODEL, "--batch-size", 2]
    proc = run_cli(args, tmp_path / "data", prelude=TWO_CTRL_C)
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "clipcore: interrupted" in proc.stderr            # stopped at once ...
    assert "Cancelled after" not in proc.stdout, proc.stdout  # ... not after the batch

    again = run_cli(args, tmp_path / "data")
    assert again.returncode == 0, again.stderr
    code, out, err = cli("similar", photos[0], "-k", 20, "--json", "--data-dir", tmp_path / "data")
    assert code == 0, err
    assert sorted(h["path"] for h in json.loads(out)) == sorted(map(str, photos))


# ------------------------------------------------------------------ --threshold S keeps score >= S

def test_threshold_keeps_a_hit_whose_score_equals_it(indexed):
    data, photos = indexed
    code, out, err = cli("similar", photos[0], "-k", 10, "--json", "--data-dir", data)
    assert code == 0, err
    scores = [h["score"] for h in json.loads(out)]
    assert len(set(scores)) == len(scores) == 10      # no ties: the boundary is one hit
    boundary = scores[3]                              # JSON floats round-trip exactly

    code, out, err = cli("similar", photos[0], "-k", 10, "--json", "--threshold", repr(boundary),
                         "--data-dir", data)
    assert code == 0, err
    assert [h["score"] for h in json.loads(out)] == scores[:4]


# ------------------------------------------------------------------ `clipcore info | head`

@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
def test_stdout_closed_early_is_quiet(buffered, tmp_path):
    """`clipcore info | head -1`: head exits after one line and the pipe closes under the
    command. Here the reading end is closed before clipcore writes anything, so every write
    fails (EPIPE): at a print (unbuffered) or when stdout is flushed (buffered, the default for
    a pipe). clipcore must end quietly: no traceback, no "Exception ignored" at exit."""
    data = tmp_path / "data"
    env = cli_env(data)
    if buffered:
        del env["PYTHONUNBUFFERED"]
    proc = subprocess.Popen(cli_command(["info", "--data-dir", data]), env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    try:
        stderr = proc.stderr.read().decode(errors="replace")
    finally:
        proc.stderr.close()
        proc.wait(timeout=120)
    assert stderr == ""
    assert proc.returncode == 1     # output was lost: not a success, but not a crash either


# ------------------------------------------------------------------ --model no-such-model

@pytest.mark.parametrize("command", ["index", "search", "similar"])
def test_an_unknown_model_is_a_one_line_error_that_names_it(command, indexed, tmp_path):
    data, photos = indexed
    target = {"index": photos[0].parent, "search": "a cat", "similar": photos[0]}[command]
    code, _, err = cli(command, target, "--model", "no-such-model", "--data-dir", data)
    assert code == 1, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("clipcore: error:")]
    assert len(lines) == 1, err
    assert "no-such-model" in lines[0] and "clipcore models" in lines[0]
    # the library is as it was
    code, out, err = cli("similar", photos[0], "-k", 10, "--json", "--data-dir", data)
    assert code == 0 and len(json.loads(out)) == 10, err


def test_an_unknown_model_from_the_installed_command(tmp_path):
    make_photos(tmp_path / "photos", 1)
    proc = run_cli(["index", tmp_path / "photos", "--model", "no-such-model"], tmp_path / "data")
    assert_one_line_error(proc, "no-such-model")


# ------------------------------------------------------------------ a catalog that is not SQLite

@pytest.mark.parametrize("content", [b"hello, this is a text file\n", bytes(range(256)) * 40],
                         ids=["text", "binary"])
def test_a_catalog_that_is_not_sqlite_is_refused_and_left_alone(content, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    catalog = data / "catalog.sqlite"
    catalog.write_bytes(content)
    folder = make_photos(tmp_path / "photos", 2)[0].parent
    before = sorted(p.name for p in data.iterdir())

    for args in (["info"], ["index", folder, *MODEL], ["search", "cat"], ["remove", folder]):
        code, _, err = cli(*args, "--data-dir", data)
        assert code == 1, (args, err)
        assert "Traceback" not in err
        lines = [line for line in err.splitlines() if line.startswith("clipcore: error:")]
        assert len(lines) == 1 and str(catalog) in lines[0], err
        assert "not a database" in lines[0] or "cannot be read" in lines[0], lines[0]
        assert catalog.read_bytes() == content, args          # nothing overwritten ...
        assert sorted(p.name for p in data.iterdir()) == before, args   # ... or added


def test_a_catalog_that_is_not_sqlite_from_the_installed_command(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "catalog.sqlite").write_text("not a database\n")
    assert_one_line_error(run_cli(["info"], data), "catalog.sqlite")
