"""Queries, paths and file names are data, never code; checkpoints never run pickled code.

End to end through the `clipcore` command: hostile file names and queries index and search
fine and nothing executes; a pickle checkpoint carrying code is refused and the code never runs.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest

from clipcore.cli import main
from tests.helpers.e2e import REPO_ROOT, TINY_CONFIG, assert_one_line_error, make_photos, run_cli

HOSTILE_NAMES = [
    "it's \"quoted\"",
    "'; DROP TABLE images; --",
    "$(touch PWNED_dollar)",
    "`touch PWNED_backtick`",
    "new\nline",
    "semi; rm -rf nothing & echo PWNED_amp | cat",
    "100% _under_ \\back\\",
]


def _cli_json(capsys, *args):
    """Run clipcore in-process; assert exit 0 and return the parsed --json stdout."""
    capsys.readouterr()
    code = main([*map(str, args), "--json"])
    out, err = capsys.readouterr()
    assert code in (0, None), err
    assert "Traceback" not in err
    return json.loads(out)


def _load_model_once(monkeypatch) -> None:
    """Each in-process `clipcore search` loads the model; share one load to keep the test fast."""
    import functools

    from clipcore.encoder import Encoder

    monkeypatch.setattr(Encoder, "load", functools.lru_cache(Encoder.load))


def _no_marker_files(root: Path) -> None:
    assert not [p for p in root.rglob("PWNED*")], "a file name or query was executed by a shell"


def test_hostile_file_names_and_queries_are_data(tmp_path, monkeypatch, capsys):
    photos = tmp_path / "photos"
    sources = make_photos(photos, len(HOSTILE_NAMES), seed=1)
    hostile = []
    for src, name in zip(sources, HOSTILE_NAMES):
        target = src.with_name(name + ".png")
        src.rename(target)
        hostile.append(target)
    monkeypatch.chdir(tmp_path)  # a shell-executed `touch` would land here
    _load_model_once(monkeypatch)

    assert main(["index", str(photos), "--model", str(TINY_CONFIG)]) in (0, None)
    assert "Traceback" not in capsys.readouterr().err

    for path in hostile:
        hits = _cli_json(capsys, "similar", path, "-k", 3)
        assert hits[0]["path"] == str(path)
        assert hits[0]["score"] > 0.99

    for query in [*HOSTILE_NAMES, "x' OR '1'='1", 'a "b" c', "%", "_"]:
        hits = _cli_json(capsys, "search", query, "-k", 50)
        assert {h["path"] for h in hits} == {str(p) for p in hostile}, query

    _no_marker_files(tmp_path)
    # The images table survived every query: all hostile names are still found.
    assert len(_cli_json(capsys, "search", "anything", "-k", 50)) == len(HOSTILE_NAMES)


def test_folder_filter_treats_wildcards_literally(tmp_path, tiny_spec):
    """Restricting a search to library folder "p_1" must not match "pX1" or "p_1 more"
    (a LIKE pattern built from the path would)."""
    from clipcore.indexer import index_folders
    from clipcore.library import Library
    from clipcore.search import Searcher

    folders = [tmp_path / name for name in ("p_1", "pX1", "p_1 more", "p%1")]
    for i, folder in enumerate(folders):
        make_photos(folder, 3, seed=10 + i)
    with Library.open(tmp_path / "data") as library:
        for _ in index_folders(library, [str(f) for f in folders], tiny_spec):
            pass
        searcher = Searcher(library, lambda: None, model_identity=tiny_spec.identity())
        for folder in folders:
            first = library.find_image(str(next(folder.iterdir())))
            hits = searcher.similar(first.id, k=20, folder=str(folder))
            assert {Path(h.path).parent for h in hits} == {folder}, folder


def test_pickle_checkpoint_is_refused_and_never_runs(tmp_path):
    import torch

    marker = tmp_path / "PWNED_pickle"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch '{marker}'",))

    evil = tmp_path / "evil.pt"
    torch.save({"state_dict": Evil()}, evil)
    photos = tmp_path / "photos"
    make_photos(photos, 2)

    proc = run_cli(["index", photos, "--model", TINY_CONFIG, "--checkpoint", evil],
                   tmp_path / "data", cwd=tmp_path)

    assert_one_line_error(proc, "evil.pt")
    assert not marker.exists(), "unpickling the checkpoint ran its code"


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


@pytest.mark.parametrize("package", ["clipcore", "desktop"])
def test_source_never_uses_a_shell_or_unsafe_unpickling(package):
    """Static check of the shipped code: no shell=True, os.system/popen, pickle loads, or
    torch.load without weights_only=True."""
    problems = []
    for path in sorted((REPO_ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for call, name in _calls(tree):
            where = f"{path.relative_to(REPO_ROOT)}:{call.lineno} {name}"
            kwargs = {kw.arg: kw.value for kw in call.keywords}
            shell = kwargs.get("shell")
            if shell is not None and not (isinstance(shell, ast.Constant) and shell.value is False):
                problems.append(where + " shell=...")
            if name in {"os.system", "os.popen", "pickle.load", "pickle.loads", "subprocess.getoutput",
                        "subprocess.getstatusoutput"}:
                problems.append(where)
            if name.endswith("torch.load"):
                safe = kwargs.get("weights_only")
                if not (isinstance(safe, ast.Constant) and safe.value is True):
                    problems.append(where + " without weights_only=True")
    assert not problems, problems
