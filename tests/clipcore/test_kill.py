"""Crashes: `clipcore index` killed with SIGKILL at chosen moments loses at most its uncommitted
work, and the next run finishes the job without re-embedding anything already committed; and
the damage a crash can leave (a broken vector index, a full disk) is repaired or reported.

The moments are chosen by pause points that the test patches into the `clipcore` subprocess
(PAUSE_PRELUDE, selected by ``CLIPCORE_TEST_PAUSE_AT=<point>[:<n>]``): the n-th time the
pipeline reaches <point> it prints ``CLIPCORE_TEST_PAUSED <point>`` on stderr and waits to be
killed. Points: "scan" (after a file is scanned), "encode" (after a batch is embedded, before
it is committed; "encode-after-commit" once a commit was made), "commit" (inside the catalog
transaction, before COMMIT), "ann-save" (the catalog committed, the vector index not yet saved)
and "ann-replace" (the new vector index file in place, its sidecar not yet).
``CLIPCORE_TEST_PAUSE_AT=trace`` prints every point reached instead (to choose new moments);
with ``CLIPCORE_TEST_CTRL_C=1`` the process sends itself SIGINT at the point instead of waiting.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from clipcore import encoder as encoder_module
from clipcore.cli import main
from clipcore.config import IndexParams
from clipcore.library import Library
from clipcore.presets import resolve_model_spec
from tests.helpers.e2e import TINY_CONFIG, cli_command, cli_env, make_photos, run_cli
from tests.helpers.sqlite import open_db

N_PHOTOS = 300
PAUSED = "CLIPCORE_TEST_PAUSED"
PAUSE_PRELUDE = """
import contextlib, os, signal, sys, time
from clipcore import ann, catalog, encoder, scanner

_point, _, _nth = os.environ.get("CLIPCORE_TEST_PAUSE_AT", "").partition(":")
_reached = {}

def _pause(point):
    _reached[point] = _reached.get(point, 0) + 1
    if _point == "trace":
        print("CLIPCORE_TEST_TRACE", point, _reached[point], file=sys.stderr, flush=True)
    elif point == _point and _reached[point] == int(_nth or 1):
        if os.environ.get("CLIPCORE_TEST_CTRL_C"):
            os.kill(os.getpid(), signal.SIGINT)   # as if the user pressed Ctrl+C here
            return
        print("CLIPCORE_TEST_PAUSED", point, file=sys.stderr, flush=True)
        time.sleep(3600)

_scan_folder = scanner.scan_folder
def scan_folder(*args, **kwargs):
    for item in _scan_folder(*args, **kwargs):
        yield item
        _pause("scan")
scanner.scan_folder = scan_folder

_encode_images = encoder.Encoder.encode_images
def encode_images(self, images):
    out = _encode_images(self, images)
    _pause("encode-after-commit" if _reached.get("commit-after-encode") else "encode")
    return out
encoder.Encoder.encode_images = encode_images

_transaction = catalog.Catalog.transaction
@contextlib.contextmanager
def transaction(self, what="the catalog"):
    with _transaction(self, what) as c:
        yield c
        if what == "the indexed images":
            if _reached.get("encode"):   # (a run may first record folder states, before encoding)
                _reached["commit-after-encode"] = 1
            _pause("commit")
catalog.Catalog.transaction = transaction

_save = ann.HnswIndex.save
def save(self, *args, **kwargs):
    _pause("ann-save")
    return _save(self, *args, **kwargs)
ann.HnswIndex.save = save

_replace = os.replace
def replace(src, dst, *args, **kwargs):
    name = os.path.basename(os.fspath(dst))
    if name.startswith("ann-") and name.endswith(".json"):
        _pause("ann-replace")
    return _replace(src, dst, *args, **kwargs)
os.replace = replace
"""


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[Path]:
    return make_photos(tmp_path_factory.mktemp("kill") / "photos", N_PHOTOS, seed=7)


def _index_args(photos, model=TINY_CONFIG):
    return ["index", photos[0].parent, "--model", model, "--device", "cpu", "--batch-size", 10]


@pytest.fixture(scope="module")
def reference(photos, tmp_path_factory):
    """path -> vector from one uninterrupted run."""
    data_dir = tmp_path_factory.mktemp("reference-data")
    assert _cli(*_index_args(photos), "--data-dir", data_dir)[0] == 0
    return _vectors(data_dir, photos)


def _cli(*args) -> tuple[int, str]:
    """Run `clipcore ARGS` in this process; returns (exit code, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code or 0, err.getvalue()


def _index_in_process(photo_dir: Path, *extra: str) -> tuple[int, str]:
    return _cli("index", photo_dir, "--model", TINY_CONFIG, *extra)


def _only_line(stderr: str, *words: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if all(w.lower() in line.lower() for w in words)]
    assert lines, f"no line with {words} in:\n{stderr}"
    return lines[0]


def _vectors(data_dir: Path, photos) -> dict[str, np.ndarray]:
    with Library.open(data_dir) as library:
        identity = library.model_spec().identity()
        rows = [library.find_image(str(p)) for p in photos]
        found = {r.path: library.vector(r.id, identity) for r in rows if r is not None}
    return {path: vec for path, vec in found.items() if vec is not None}


def _run_until_paused(photos, data_dir: Path, point: str, model=TINY_CONFIG) -> None:
    """Start `clipcore index` in a subprocess, SIGKILL it when it reports the pause point."""
    proc = subprocess.Popen(
        cli_command(_index_args(photos, model), PAUSE_PRELUDE),
        env=cli_env(data_dir, CLIPCORE_TEST_PAUSE_AT=point),
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
        f"index never paused at {point!r} (rc {proc.returncode}); did the engine's internals "
        f"that PAUSE_PRELUDE patches change?\n{''.join(seen)[-2000:]}")


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


@pytest.mark.parametrize(
    "point", ["scan:150", "encode-after-commit:2", "commit:2", "ann-save:2", "ann-replace:1"])
def test_sigkill_then_restart_loses_nothing_committed(point, photos, reference, tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    _run_until_paused(photos, data_dir, point)

    # Inspect a copy, so that the restart below meets the damage itself.
    committed = _check_ann_agrees(shutil.copytree(data_dir, tmp_path / "snapshot"), photos)

    _restart_and_compare(photos, reference, data_dir, committed, monkeypatch)


def test_ctrl_c_commits_what_is_done_and_the_next_run_resumes(photos, reference, tmp_path,
                                                             monkeypatch):
    data_dir = tmp_path / "data"
    proc = run_cli(_index_args(photos), data_dir, prelude=PAUSE_PRELUDE,
                   CLIPCORE_TEST_PAUSE_AT="encode:5", CLIPCORE_TEST_CTRL_C="1")
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "again" in proc.stdout, proc.stdout     # it says how to finish the job

    committed = _check_ann_agrees(shutil.copytree(data_dir, tmp_path / "snapshot"), photos)
    assert len(committed) >= 5 * 10, "the batches done before Ctrl+C were not kept"
    _restart_and_compare(photos, reference, data_dir, committed, monkeypatch)


def test_sigkill_while_switching_models_keeps_the_old_model(photos, tmp_path):
    """Re-indexing with another model and dying half-way: search goes on with the old model's
    complete vectors; the next run finishes the new model and only then switches to it."""
    data_dir = tmp_path / "data"
    new_model = tmp_path / "other-clip.json"
    new_model.write_text(TINY_CONFIG.read_text().replace('"embed_dim": 32', '"embed_dim": 16'))
    old, new = (resolve_model_spec(str(m)).identity() for m in (TINY_CONFIG, new_model))
    assert _cli(*_index_args(photos), "--data-dir", data_dir)[0] == 0

    _run_until_paused(photos, data_dir, "encode-after-commit:1", model=new_model)
    with Library.open(data_dir) as library:
        assert library.model_spec().identity() == old
        assert library.count(old) == N_PHOTOS and 0 < library.count(new) < N_PHOTOS
    code, stderr = _cli("similar", photos[0], "-k", 3, "--data-dir", data_dir)
    assert code == 0 and "Traceback" not in stderr, stderr

    assert _cli(*_index_args(photos, new_model), "--data-dir", data_dir)[0] == 0
    with Library.open(data_dir) as library:
        assert library.model_spec().identity() == new
        assert library.count(new) == N_PHOTOS


def _restart_and_compare(photos, reference, data_dir: Path, committed: set[int], monkeypatch):
    """Run `clipcore index` again (in this process, counting what it embeds): it embeds exactly
    the photos not committed before, and the library equals the uninterrupted one."""
    encoded = []
    original = encoder_module.Encoder.encode_images

    def counting(self, images):
        out = original(self, images)
        encoded.append(len(out))
        return out

    monkeypatch.setattr(encoder_module.Encoder, "encode_images", counting)
    assert _cli(*_index_args(photos), "--data-dir", data_dir)[0] == 0

    assert sum(encoded) == N_PHOTOS - len(committed), "committed images were embedded again"
    assert len(_check_ann_agrees(data_dir, photos)) == N_PHOTOS
    resumed = _vectors(data_dir, photos)
    assert resumed.keys() == reference.keys()
    for path, vec in reference.items():
        np.testing.assert_allclose(resumed[path], vec, atol=1e-6, err_msg=path)


# ------------------------------------------------------------------ damage left behind by a crash

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

    caplog.clear()
    caplog.set_level("WARNING", logger="clipcore")
    assert len(_check_ann_agrees(data_dir, photos + more)) == len(photos + more)
    assert not caplog.records, "the index the CLI left behind was not valid"


def _file_states(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file()}


def test_catalog_from_a_newer_version_is_refused_and_untouched(tmp_path):
    data_dir = Path(os.environ["CLIPDESK_DATA_DIR"])
    photos = make_photos(tmp_path / "photos", 5, seed=8)
    assert _index_in_process(photos[0].parent)[0] == 0
    with open_db(data_dir / "catalog.sqlite") as db:
        db.execute("PRAGMA user_version = 99")
    before = _file_states(data_dir)

    folder = photos[0].parent
    for args in (["info"], ["index", folder], ["search", "cat"], ["remove", folder]):
        code, stderr = _cli(*args)
        assert code == 1, (args, stderr)
        assert _only_line(stderr, "error", "newer") == stderr.strip(), stderr
        assert _file_states(data_dir) == before, args


@pytest.fixture(params=["tmpfs", "page-limit"])
def full_disk(request, tmp_path, monkeypatch):
    """(data_dir, fill, free): a data directory, and functions that fill its disk and free it.

    "tmpfs": a real 4 MiB file system, filled with a file (needs root and mount rights, skipped
    otherwise). "page-limit": SQLite's own max_page_count pinned at the catalog's size, so
    SQLite itself reports SQLITE_FULL "database or disk is full" (runs anywhere).
    """
    if request.param == "page-limit":
        data_dir, limit, connect = tmp_path / "data", {}, sqlite3.connect

        def limited_connect(*args, **kwargs):
            conn = connect(*args, **kwargs)
            if limit:
                conn.execute(f"PRAGMA max_page_count = {limit['pages']}")
            return conn

        def fill():
            with contextlib.closing(connect(data_dir / "catalog.sqlite")) as conn:
                limit["pages"] = conn.execute("PRAGMA page_count").fetchone()[0]

        monkeypatch.setattr(sqlite3, "connect", limited_connect)
        yield data_dir, fill, limit.clear
        return

    disk = tmp_path / "small-disk"
    disk.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up: {done.stderr.strip()}")
    filler = disk / "filler"

    def fill():
        """Write a file that takes every free byte of the disk."""
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for chunk in (b"\0" * 65536, b"\0" * 1024, b"\0"):
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, chunk)
        finally:
            os.close(fd)

    try:
        yield disk / "data", fill, filler.unlink
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_disk_full_while_committing_keeps_the_previous_state(full_disk, tmp_path, monkeypatch):
    data_dir, fill, free = full_disk
    monkeypatch.setenv("CLIPDESK_DATA_DIR", str(data_dir))
    photos = make_photos(tmp_path / "photos", 30, seed=9)
    assert _index_in_process(photos[0].parent)[0] == 0

    more = make_photos(tmp_path / "photos", 200, seed=10, prefix="more")
    fill()
    code, stderr = _index_in_process(photos[0].parent)
    assert code == 1, stderr
    _only_line(stderr, "error", "disk is full")
    free()

    kept = _check_ann_agrees(data_dir, photos + more)
    assert kept == _check_ann_agrees(data_dir, photos) and len(kept) == len(photos)
    code, stderr = _index_in_process(photos[0].parent)
    assert code == 0, stderr
    assert len(_check_ann_agrees(data_dir, photos + more)) == len(photos + more)
