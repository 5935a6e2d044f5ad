"""The `clipcore` command, end to end on generated photos with the tiny random-weight model."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.e2e import TINY_CONFIG, assert_one_line_error, cli, cli_env, make_photos

MODEL = ["--model", str(TINY_CONFIG)]


def _assert_error(code, err, *words):
    assert code == 1, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("clipcore: error: ")]
    assert len(lines) == 1, err
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """A library of 8 photos plus 2 broken files, indexed once through the CLI."""
    root = tmp_path_factory.mktemp("cli")
    photos = make_photos(root / "photos", 8)
    (root / "photos" / "notes.jpg").write_text("this is not a photo")
    (root / "photos" / "empty.png").touch()
    data = root / "data"
    result = cli("index", root / "photos", *MODEL, "--data-dir", data)
    return data, root / "photos", photos, result


def test_index_reports_what_it_did_and_warns_about_random_weights(indexed):
    _, _, _, (code, out, err) = indexed
    assert code == 0, err
    assert "8 new" in out and "2 skipped" in out
    assert "file is empty" in out and "not an image" in out
    assert "RANDOM" in err and "MEANINGLESS" in err
    assert "img/s" in err  # the tqdm progress bar, with its rate, went to stderr


def test_search_json_is_an_array_of_path_score_id_best_first(indexed):
    data, _, photos, _ = indexed
    code, out, err = cli("search", "a red", "car", "-k", 5, "--json", "--data-dir", data)
    assert code == 0, err
    hits = json.loads(out)  # nothing else on stdout
    assert len(hits) == 5
    assert all(set(h) == {"path", "score", "id", "date_taken"} for h in hits)
    assert {h["path"] for h in hits} <= {str(p) for p in photos}
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(isinstance(h["id"], int) and -1 <= h["score"] <= 1 for h in hits)


def test_search_table_and_threshold(indexed):
    data, _, _, _ = indexed
    code, out, _ = cli("search", "sunset", "-k", 8, "--data-dir", data)
    rows = out.splitlines()[1:]
    assert code == 0 and len(rows) == 8
    cut = float(rows[3].split()[0])
    code, out, _ = cli("search", "sunset", "-k", 8, "--threshold", cut, "--data-dir", data)
    assert code == 0
    assert all(float(row.split()[0]) >= cut for row in out.splitlines()[1:])
    assert 4 <= len(out.splitlines()[1:]) < 8


def test_similar_puts_the_photo_itself_first_without_loading_the_model(indexed, monkeypatch):
    from clipcore.encoder import Encoder

    def no_model(*_):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(Encoder, "load", classmethod(no_model))
    data, _, photos, _ = indexed
    code, out, err = cli("similar", photos[2], "--json", "--data-dir", data)
    assert code == 0, err
    hits = json.loads(out)
    assert hits[0]["path"] == str(photos[2]) and hits[0]["score"] > 0.99


def test_reindexing_an_unchanged_folder_has_nothing_to_do_and_loads_no_model(indexed, monkeypatch):
    from clipcore.encoder import Encoder

    monkeypatch.setattr(Encoder, "load", classmethod(lambda *_: pytest.fail("model loaded")))
    data, folder, _, _ = indexed
    code, out, err = cli("index", folder, "--data-dir", data)
    assert code == 0, err
    assert "Nothing to do" in out


def test_info_shows_model_counts_and_skipped_files(indexed):
    data, folder, _, _ = indexed
    code, out, err = cli("info", "--data-dir", data)
    assert code == 0, err
    assert str(data) in out and "tiny-clip" in out
    assert "Indexed photos: 8" in out
    assert f"{folder / 'notes.jpg'}: not an image" in out
    assert f"{folder / 'empty.png'}: file is empty" in out


def test_models_lists_the_presets(indexed):
    from clipcore.presets import load_presets

    code, out, err = cli("models")
    assert code == 0, err
    for name, preset in load_presets().items():
        assert name in out and preset.note in out


def test_remove_forgets_a_folder_but_not_its_files(tmp_path):
    keep = make_photos(tmp_path / "keep", 3, seed=1)
    drop = make_photos(tmp_path / "drop", 3, seed=2)
    assert cli("index", tmp_path / "keep", tmp_path / "drop", *MODEL)[0] == 0

    code, out, err = cli("remove", tmp_path / "drop")
    assert code == 0, err
    code, out, _ = cli("similar", keep[0], "-k", 10, "--json")
    assert sorted(h["path"] for h in json.loads(out)) == sorted(map(str, keep))
    assert all(p.exists() for p in drop)
    _assert_error(*cli("remove", tmp_path / "drop")[::2], "not a library folder")


@pytest.mark.parametrize("query, words", [
    (["cat", "+"], "ends with '+'"),
    (["cat + + dog"], "between two operators"),
    (["-"], "ends with '-'"),
])
def test_a_bad_query_is_a_one_line_error(indexed, query, words):
    data, _, _, _ = indexed
    code, _, err = cli("search", "--data-dir", data, *query)
    _assert_error(code, err, words)


def test_searching_before_indexing_says_what_to_do(tmp_path):
    code, _, err = cli("search", "cat", "--data-dir", tmp_path / "data")
    _assert_error(code, err, "clipcore index")


def test_index_of_a_missing_folder_is_a_one_line_error(tmp_path):
    code, _, err = cli("index", tmp_path / "nope", *MODEL)
    _assert_error(code, err, "not a folder")


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["search"], ["search", "x", "-k", "0"],
                                  ["index", ".", "--device", "tpu"]])
def test_bad_usage_exits_2(argv):
    code, _, err = cli(*argv)
    assert code == 2
    assert "usage:" in err


def test_an_unexpected_exception_is_one_line_unless_debug(tmp_path, monkeypatch):
    import clipcore.cli

    def broken(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(clipcore.cli, "_cmd_info", broken)
    monkeypatch.setattr(clipcore.cli, "build_parser", _parser_with(broken))
    code, _, err = cli("info")
    _assert_error(code, err, "boom", "--debug")
    code, _, err = cli("info", "--debug")
    assert code == 1 and "Traceback" in err and "RuntimeError: boom" in err


def _parser_with(run):
    from clipcore.cli import build_parser

    def build():
        parser = build_parser()
        parser.set_defaults(run=run)
        return parser

    return build


def test_ctrl_c_during_index_keeps_the_work_done_and_exits_130(tmp_path, monkeypatch):
    """The first Ctrl+C stops after the current batch; the next run finishes the rest."""
    import clipcore.indexer

    real = clipcore.indexer.index_folders

    def interrupted_after_first_batch(*args, **kwargs):
        sent = False
        for event in real(*args, **kwargs):
            if event.phase == "encode" and event.done and not sent:
                os.kill(os.getpid(), signal.SIGINT)  # what Ctrl+C in a terminal does
                sent = True
            yield event

    monkeypatch.setattr(clipcore.indexer, "index_folders", interrupted_after_first_batch)
    make_photos(tmp_path / "photos", 12)
    code, out, err = cli("index", tmp_path / "photos", *MODEL, "--batch-size", 2)
    assert code == 130, err
    done = re.search(r"Cancelled after (\d+) of 12 images.*saved.*--model", out)
    assert done, out
    first = int(done.group(1))
    assert 0 < first < 12

    monkeypatch.setattr(clipcore.indexer, "index_folders", real)
    code, out, err = cli("index", tmp_path / "photos", *MODEL)
    assert code == 0, err
    assert f"{12 - first} new" in out and f"{first} unchanged" in out


# ------------------------------------------------------------ the installed console script

def _script() -> str:
    script = shutil.which("clipcore", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the clipcore console script is not installed (pip install -e .)")
    return script


def _run_script(args, env, cwd):
    return subprocess.run([_script(), *map(str, args)], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_installed_script_indexes_and_searches(tmp_path):
    photos = make_photos(tmp_path / "photos", 4)
    env = cli_env(tmp_path / "data")

    indexed = _run_script(["index", tmp_path / "photos", *MODEL], env, tmp_path)
    assert indexed.returncode == 0, indexed.stderr
    assert "4 new" in indexed.stdout

    found = _run_script(["similar", photos[1], "--json", "-k", 4], env, tmp_path)
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert [h["path"] for h in hits][0] == str(photos[1]) and hits[0]["score"] > 0.99
    assert sorted(h["path"] for h in hits) == sorted(map(str, photos))


def test_missing_preset_weights_offline_is_a_one_line_error(tmp_path):
    make_photos(tmp_path / "photos", 1)
    env = cli_env(tmp_path / "data", HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")
    proc = _run_script(["index", tmp_path / "photos", "--model", "default"], env, tmp_path)
    assert_one_line_error(proc, "ViT-B-32-256", "HF_HUB_OFFLINE")
