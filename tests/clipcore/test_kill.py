"""Crashes: `clipcore index` killed with SIGKILL at chosen moments loses at most its uncommitted
work, and the next run finishes the job without re-embedding anything already committed.

The moments are chosen with the indexer's test hook ``CLIPCORE_TEST_PAUSE_AT=<point>[:<n>]``:
the n-th time the pipeline reaches <point> it prints ``CLIPCORE_TEST_PAUSED <point>`` on stderr
and waits, and the test kills it there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from clipcore.config import IndexParams
from clipcore.library import Library
from tests.helpers.e2e import (
    TINY_CONFIG, assert_one_line_error, cli_command, cli_env, make_photos, run_cli,
)

N_PHOTOS = 300
PAUSED = "CLIPCORE_TEST_PAUSED"


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[Path]:
    return make_photos(tmp_path_factory.mktemp("kill") / "photos", N_PHOTOS, seed=7)


def _index_args(photos):
    return ["index", photos[0].parent, "--model", TINY_CONFIG, "--device", "cpu"]


@pytest.fixture(scope="module")
def reference(photos, tmp_path_factory):
    """path -> vector from one uninterrupted run."""
    from clipcore.cli import main

    data_dir = tmp_path_factory.mktemp("reference-data")
    assert main([*map(str, _index_args(photos)), "--data-dir", str(data_dir)]) in (0, None)
    return _vectors(data_dir, photos)


def _vectors(data_dir: Path, photos) -> dict[str, np.ndarray]:
    with Library.open(data_dir) as library:
        identity = library.model_spec().identity()
        rows = [library.find_image(str(p)) for p in photos]
        found = {r.path: library.vector(r.id, identity) for r in rows if r is not None}
    return {path: vec for path, vec in found.items() if vec is not None}


def _run_until_paused(photos, data_dir: Path, point: str) -> None:
    """Start `clipcore index` in a subprocess, SIGKILL it when it reports the pause point."""
    proc = subprocess.Popen(
        cli_command(_index_args(photos)), env=cli_env(data_dir, CLIPCORE_TEST_PAUSE_AT=point),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace",
    )
    watchdog = threading.Timer(120, proc.kill)
    watchdog.start()
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if PAUSED in line:
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        watchdog.cancel()
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, (
        f"index never paused at {point!r} (rc {proc.returncode}); the indexer needs the "
        f"CLIPCORE_TEST_PAUSE_AT hook:\n{''.join(seen)[-2000:]}")


def _check_ann_agrees(data_dir: Path, photos) -> set[int]:
    """Open the killed library with HNSW search forced on; its ANN index must hold exactly the
    catalog's vectors: every stored vector finds itself first, and nothing else is returned.
    Returns the ids that have a vector."""
    with Library.open(data_dir, params=IndexParams(exact_below=0)) as library:
        spec = library.model_spec()
        if spec is None:          # killed before the first commit recorded a model
            return set()
        identity = spec.identity()
        n = library.count(identity)
        stored = {}
        for row in filter(None, (library.find_image(str(p)) for p in photos)):
            vec = library.vector(row.id, identity)
            if vec is not None:
                stored[row.id] = vec
        assert len(stored) == n
        for image_id, vec in stored.items():
            assert library.nearest(vec, identity, k=1)[0][0] == image_id
        if stored:
            everything = library.nearest(next(iter(stored.values())), identity, k=n + 10)
            assert sorted(i for i, _ in everything) == sorted(stored)
    return set(stored)


@pytest.mark.parametrize("point", ["scan", "encode:2", "commit:2", "ann-save:1"])
def test_sigkill_then_restart_loses_nothing_committed(point, photos, reference, tmp_path, monkeypatch):
    from clipcore import encoder as encoder_module
    from clipcore.cli import main

    data_dir = tmp_path / "data"
    _run_until_paused(photos, data_dir, point)

    committed = _check_ann_agrees(data_dir, photos)

    encoded = []
    original = encoder_module.Encoder.encode_images

    def counting(self, images):
        out = original(self, images)
        encoded.append(len(out))
        return out

    monkeypatch.setattr(encoder_module.Encoder, "encode_images", counting)
    assert main([*map(str, _index_args(photos)), "--data-dir", str(data_dir)]) in (0, None)

    assert sum(encoded) == N_PHOTOS - len(committed), "committed images were embedded again"
    assert len(_check_ann_agrees(data_dir, photos)) == N_PHOTOS
    resumed = _vectors(data_dir, photos)
    assert resumed.keys() == reference.keys()
    for path, vec in reference.items():
        np.testing.assert_allclose(resumed[path], vec, atol=1e-6, err_msg=path)


# ------------------------------------------------------------------ damage left behind by a crash

def _index_in_process(photo_dir: Path, *extra: str) -> tuple[int, str]:
    """Run `clipcore index` in this process; returns (exit code, stderr)."""
    import io

    from clipcore.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["index", str(photo_dir), "--model", str(TINY_CONFIG), *extra])
    return code or 0, err.getvalue()


def _only_line(stderr: str, *words: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if all(w.lower() in line.lower() for w in words)]
    assert lines, f"no line with {words} in:\n{stderr}"
    return lines[0]


@pytest.mark.parametrize("damage", ["truncated", "garbage", "other-model"])
def test_damaged_vector_index_is_rebuilt_with_a_message(damage, tmp_path, caplog):
    data_dir = Path(os.environ["CLIPDESK_DATA_DIR"])
    photos = make_photos(tmp_path / "photos", 30, seed=3)
    assert _index_in_process(photos[0].parent)[0] == 0
    hnsw, sidecar = data_dir / "ann-1.hnsw", data_dir / "ann-1.json"
    assert hnsw.exists() and sidecar.exists()

    if damage == "truncated":
        hnsw.write_bytes(hnsw.read_bytes()[: hnsw.stat().st_size // 2])
    elif damage == "garbage":
        hnsw.write_bytes(os.urandom(hnsw.stat().st_size))
    else:  # the index (and sidecar) of another model, 16-d instead of 32-d, dropped in place
        other = tmp_path / "other-clip.json"
        other.write_text(TINY_CONFIG.read_text().replace('"embed_dim": 32', '"embed_dim": 16'))
        assert _index_in_process(photos[0].parent, "--model", str(other))[0] == 0
        for suffix in (".hnsw", ".json"):
            (data_dir / f"ann-2{suffix}").replace(data_dir / f"ann-1{suffix}")

    more = make_photos(tmp_path / "photos", 5, seed=4, prefix="more")
    code, stderr = _index_in_process(photos[0].parent)
    assert code == 0, stderr
    _only_line(stderr, "rebuil")

    caplog.set_level("WARNING", logger="clipcore")
    assert len(_check_ann_agrees(data_dir, photos + more)) == len(photos + more)
    assert not caplog.records, "the index the CLI left behind was not valid"


def _file_states(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file()}


def test_catalog_from_a_newer_version_is_refused_and_untouched(tmp_path):
    import sqlite3

    data_dir = tmp_path / "data"
    photos = make_photos(tmp_path / "photos", 5, seed=8)
    assert run_cli(_index_args(photos), data_dir).returncode == 0
    with sqlite3.connect(data_dir / "catalog.sqlite") as db:
        db.execute("PRAGMA user_version = 99")
    db.close()
    before = _file_states(data_dir)

    for args in (["info"], _index_args(photos), ["search", "cat"]):
        proc = run_cli(args, data_dir)
        assert_one_line_error(proc, "newer")
        assert _file_states(data_dir) == before, args


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs mounted for the test (needs root and mount rights: skipped otherwise)."""
    import subprocess

    mountpoint = tmp_path / "small-disk"
    mountpoint.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mountpoint)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up: {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    with contextlib.suppress(OSError):
        with open(filler, "ab") as fh:   # the last few bytes too
            while True:
                fh.write(b"\0")
                fh.flush()
    return filler


def test_disk_full_while_committing_keeps_the_previous_state(small_disk, tmp_path, monkeypatch):
    data_dir = small_disk / "data"
    monkeypatch.setenv("CLIPDESK_DATA_DIR", str(data_dir))
    photos = make_photos(tmp_path / "photos", 30, seed=9)
    assert _index_in_process(photos[0].parent)[0] == 0

    more = make_photos(tmp_path / "photos", 200, seed=10, prefix="more")
    filler = _fill(small_disk)
    code, stderr = _index_in_process(photos[0].parent)
    assert code == 1, stderr
    _only_line(stderr, "error", "disk is full")
    filler.unlink()

    assert _check_ann_agrees(data_dir, photos + more) == _check_ann_agrees(data_dir, photos)
    assert len(_check_ann_agrees(data_dir, photos)) == len(photos)
    code, stderr = _index_in_process(photos[0].parent)
    assert code == 0, stderr
    assert len(_check_ann_agrees(data_dir, photos + more)) == len(photos + more)
