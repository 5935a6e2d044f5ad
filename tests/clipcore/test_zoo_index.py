"""Messy real folders: index the zoo (tests/helpers/zoo.py) with the real indexer and tiny model.

Each bad file is skipped with a sensible reason, each good one is indexed (upright: checked by
the pixels of the thumbnail the indexer made from its own decode), nothing raises; files that
vanish, change or lose their folder while the pipeline works are handled; `clipcore info`
lists the skipped files with reasons; a later run retries exactly the files that changed.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from clipcore import imaging
from clipcore.cli import main
from clipcore.indexer import index_folders
from clipcore.library import Library
from clipcore.textout import shown
from tests.helpers import zoo
from tests.helpers.e2e import make_photos

UPRIGHT = {"top_left": (255, 0, 0), "top_right": (0, 255, 0), "bottom_left": (0, 0, 255),
           "bottom_right": (255, 255, 255)}


def _close(rgb, expected, tolerance=60) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(rgb, expected))


class DecodeHooks:
    """Wraps imaging.decode_image (as the indexer calls it) to act on chosen files just before or
    just after they are read, and records every path decoded."""

    def __init__(self, monkeypatch):
        self.original = imaging.decode_image
        self.before: dict[str, callable] = {}
        self.after: dict[str, callable] = {}
        self.decoded: list[str] = []
        monkeypatch.setattr(imaging, "decode_image", self)

    def __call__(self, source, *args, **kwargs):
        path = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
        self.decoded.append(path)
        if path in self.before:
            self.before.pop(path)()
        try:
            return self.original(source, *args, **kwargs)
        finally:
            if path in self.after:
                self.after.pop(path)()


def _cli_on_utf8_terminal(monkeypatch, *args) -> tuple[int, str]:
    """Run `clipcore ARGS` in this process with stdout and stderr encoded like a UTF-8
    terminal's (strict); returns (exit code, stdout + stderr as os.fsdecode'd text)."""
    streams = [io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict") for _ in "12"]
    with monkeypatch.context() as m:
        m.setattr(sys, "stdout", streams[0])
        m.setattr(sys, "stderr", streams[1])
        code = main(list(args))
    for s in streams:
        s.flush()
    return code, "".join(os.fsdecode(s.buffer.getvalue()) for s in streams)


def _index(library, root, spec):
    """Run the indexer to the end (any exception fails the test); returns its summary and the
    thumbnails it made, {path: PIL image}."""
    thumbs = {}
    events = list(index_folders(library, [str(root)], spec,
                                thumbnails=lambda path, image: thumbs.__setitem__(path, image.copy())))
    assert events[-1].phase == "done"
    return events[-1].summary, thumbs


def _rewrite(path: Path, seed: int) -> None:
    """Replace a PNG's content in place (same inode) with a different, larger image."""
    make_photos(path.parent / ".rewrite-tmp", 1, seed=seed, size=40)
    data = next((path.parent / ".rewrite-tmp").iterdir()).read_bytes()
    shutil.rmtree(path.parent / ".rewrite-tmp")
    with open(path, "r+b") as fh:
        fh.truncate(0)
        fh.write(data)


@pytest.fixture
def messy(tmp_path):
    root = tmp_path / "zoo"
    root.mkdir()
    kinds = zoo.make_zoo(root)
    bad_name = root / "names" / os.fsdecode(b"broken\xfe.jpg")     # non-UTF-8 AND skipped
    bad_name.write_text("not a photo")
    kinds["non_utf8_text"] = str(bad_name)
    pipeline = root / "pipeline"
    for name, seed in [("vanishes", 1), ("rewritten_before_read", 2),
                       ("rewritten_after_read", 3), ("truncated_while_read", 4)]:
        make_photos(pipeline, 1, seed=seed, prefix=name)
        kinds[name] = str(pipeline / f"{name}0000.png")
    make_photos(root / "doomed", 5, seed=5)
    yield root, kinds
    os.chmod(kinds["unreadable"], 0o644)


def test_zoo_is_indexed_bad_files_skipped_with_reasons(messy, tmp_path, tiny_spec, monkeypatch):
    root, kinds = messy
    hooks = DecodeHooks(monkeypatch)
    vanishes, truncated = Path(kinds["vanishes"]), Path(kinds["truncated_while_read"])
    before_read, after_read = Path(kinds["rewritten_before_read"]), Path(kinds["rewritten_after_read"])
    truncated_original = truncated.read_bytes()
    doomed = root / "doomed"
    hooks.before[str(vanishes)] = vanishes.unlink
    hooks.before[str(before_read)] = lambda: _rewrite(before_read, 20)
    hooks.after[str(after_read)] = lambda: _rewrite(after_read, 30)
    hooks.before[str(truncated)] = lambda: truncated.write_bytes(truncated_original[:60])
    doomed_paths = [str(p) for p in sorted(doomed.iterdir())]
    hooks.before[doomed_paths[0]] = lambda: shutil.rmtree(doomed)
    # twins: what the rewritten files hold at the end, indexed normally for comparison
    for name, seed in [("twin_before", 20), ("twin_after", 30)]:
        make_photos(root / "twins", 1, seed=seed, size=40, prefix=name)

    with Library.open(tmp_path / "data") as library:
        summary, thumbs = _index(library, root, tiny_spec)
        identity = tiny_spec.identity()
        assert not hooks.before and not hooks.after, "a pipeline-level hook never ran"

        def row(kind):
            return library.find_image(kinds[kind])

        for kind in sorted(zoo.DECODE_OK):
            r = row(kind)
            assert r is not None and r.status == "ok", (kind, r)
            assert library.vector(r.id, identity) is not None, kind

        failing = dict(zoo.DECODE_FAILS, non_utf8_text="not an image")
        if not zoo.can_be_unreadable(kinds["unreadable"]):
            failing.pop("unreadable")   # root reads chmod-000 files: it is simply indexed
        failing.update(zoo.SCAN_PROBLEMS)
        skipped = {r.path: r.skip_reason for r in library.skipped()}
        for kind, reason in failing.items():
            assert skipped.get(kinds[kind], "").startswith(reason), (kind, skipped.get(kinds[kind]))
            assert row(kind) is None or library.vector(row(kind).id, identity) is None, kind

        for kind in [f"orientation_{o}" for o in range(1, 9)] + ["corrupt_exif"]:
            r = row(kind)
            assert (r.width, r.height) == zoo.UPRIGHT_SIZE, kind
            corners = zoo.corner_colours(thumbs[kinds[kind]])
            assert all(_close(corners[c], UPRIGHT[c]) for c in UPRIGHT), (kind, corners)

        # pipeline-level trouble: never a crash, never a vector for a file that is gone
        assert summary.skipped >= len(failing)
        assert row("vanishes") is None or row("vanishes").status == "skipped"
        assert row("truncated_while_read").status == "skipped"
        assert not any(library.find_image(p) and library.find_image(p).status == "ok"
                       for p in doomed_paths[1:]), "photos of a deleted folder were indexed"

        # `clipcore info --all` lists skipped files with reasons; non-UTF-8 names print (their
        # odd bytes escaped) on a strict UTF-8 terminal, as do search results
        data = ["--data-dir", str(library.data_dir)]
        code, info = _cli_on_utf8_terminal(monkeypatch, "info", "--all", *data)
        assert code == 0, info
        for kind, reason in failing.items():      # (names shown with odd bytes escaped)
            assert f"{shown(kinds[kind])}: {reason}" in info, kind
        code, hits = _cli_on_utf8_terminal(monkeypatch, "similar", kinds["non_utf8_name"], *data)
        assert code == 0 and shown(kinds["non_utf8_name"]) in hits, hits

        # A later run retries only what changed: the repaired file, not the still-bad ones.
        truncated.write_bytes(truncated_original)
        os.utime(truncated, ns=(1, 1))   # a different mtime even on coarse-clock file systems
        hooks.decoded.clear()
        _index(library, root, tiny_spec)
        retried = set(hooks.decoded)
        assert str(truncated) in retried
        assert str(after_read) in retried, "a file changed after its read kept a stale vector"
        assert not retried & {kinds[k] for k in failing}, "unchanged bad files were decoded again"
        assert row("truncated_while_read").status == "ok"
        assert row("vanishes") is None
        assert not any(library.find_image(p) for p in doomed_paths)
        # each good file once (no duplicates through the symlink loop), nothing else
        good = (zoo.DECODE_OK | {"truncated_while_read", "rewritten_before_read", "rewritten_after_read"}
                | ({"unreadable"} if "unreadable" not in failing else set()))
        assert library.count(identity) == len(good) + 2   # + the two twins

        for victim, twin in [(before_read, "twin_before0000.png"), (after_read, "twin_after0000.png")]:
            mine = library.vector(library.find_image(str(victim)).id, identity)
            theirs = library.vector(library.find_image(str(root / "twins" / twin)).id, identity)
            np.testing.assert_allclose(mine, theirs, atol=1e-6, err_msg=str(victim))
