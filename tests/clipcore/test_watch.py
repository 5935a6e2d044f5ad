"""Live watch with watchdog's real observer on temporary folders: photos added, changed,
removed, moved, copied in bursts or written slowly are indexed without user action; the
inotify-limit fallback rescans; an offline folder comes back without re-embedding.

Tests wait for the library to reach a state (polling with a deadline), never sleep a fixed time.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from clipcore import watch as watch_module
from clipcore.indexer import index_folders
from clipcore.library import Library
from clipcore.live import LiveIndex
from tests.helpers.e2e import TINY_CONFIG, cli_command, cli_env, make_photos, run_cli

DEADLINE = 120.0   # seconds; generous: the machine is shared


def wait_until(condition, timeout: float = DEADLINE, what: str = "the condition"):
    """Poll ``condition()`` until it returns a true value (returned) or fail at the deadline."""
    end = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def start(library, folder: Path, encoder, **options) -> LiveIndex:
    """Index ``folder`` once, then watch it."""
    list(index_folders(library, [str(folder)], encoder.spec, encoder=encoder))
    options = {"quiet_seconds": 0.2, "max_wait_seconds": 2.0, "stable_seconds": 1.0,
               "check_seconds": 0.5, **options}
    live = LiveIndex(library, [str(folder)], encoder.spec, encoder, **options)
    live.start()
    return live


@pytest.fixture
def watched(tmp_path, library, encoder):
    folder = tmp_path / "photos"
    make_photos(folder, 3, seed=1)
    live = start(library, folder, encoder)
    yield folder, live
    live.stop()


def indexed(library, path) -> bool:
    row = library.find_image(str(path))
    return row is not None and row.status == "ok" and library.count() > 0


def test_added_changed_removed_and_moved_photos(watched, library, encoder):
    folder, live = watched
    assert live.watcher.states()[str(folder)].mode == watch_module.WATCHING
    ident = encoder.identity

    new = make_photos(folder, 1, seed=2, prefix="new")[0]
    wait_until(lambda: indexed(library, new), what="the new photo to be indexed")

    old_vec = library.vector(library.find_image(str(new)).id, ident)
    make_photos(folder.parent / "other", 1, seed=3)[0].replace(new)        # changed content
    wait_until(lambda: not np.allclose(library.vector(library.find_image(str(new)).id, ident),
                                       old_vec), what="the changed photo to be re-embedded")

    gone = folder / "img0000.png"
    gone.unlink()
    wait_until(lambda: library.find_image(str(gone)) is None, what="the deleted photo to leave")

    moving = folder / "img0001.png"
    row, vec = library.find_image(str(moving)), None
    vec = library.vector(row.id, ident)
    encoder.encoded.clear()
    (folder / "sub").mkdir()
    moved = moving.rename(folder / "sub" / "renamed.png")
    wait_until(lambda: library.find_image(str(moved)) is not None, what="the move")
    assert library.find_image(str(moved)).id == row.id and library.find_image(str(moving)) is None
    np.testing.assert_array_equal(library.vector(row.id, ident), vec)
    assert sum(encoder.encoded) == 0                   # a move keeps its vector
    wait_until(lambda: any(s.moved == 1 for s in live.summaries), what="the run's summary")


@pytest.mark.timeout(900)
def test_burst_of_2000_photos_is_a_few_batched_runs(tmp_path, library, encoder):
    folder = tmp_path / "burst"
    folder.mkdir()
    live = start(library, folder, encoder, quiet_seconds=1.0, max_wait_seconds=10.0)
    try:
        make_photos(tmp_path / "camera", 2000, seed=4, size=16)
        before = len(live.summaries)
        for p in sorted((tmp_path / "camera").iterdir()):
            os.replace(p, folder / p.name)             # as a file manager moves them in
        wait_until(lambda: sum(s.new for s in live.summaries[before:]) >= 2000, timeout=600,
                   what="2,000 photos indexed")
        runs = [s for s in live.summaries[before:] if s.new]
        assert sum(s.new for s in runs) == 2000 and library.count() == 2000
        assert len(runs) <= 5, [s.new for s in runs]   # batched, not 2,000 rescans
    finally:
        live.stop()


def test_a_half_written_photo_waits_until_it_is_complete(tmp_path, library, encoder):
    folder = tmp_path / "download"
    folder.mkdir()
    live = start(library, folder, encoder, stable_seconds=3600.0)  # only "closed" counts
    try:
        data = make_photos(tmp_path / "src", 2, seed=5)
        half = folder / "slow.png"
        with open(half, "wb") as fh:
            payload = data[0].read_bytes()
            fh.write(payload[: len(payload) // 2])
            fh.flush()
            other = folder / "quick.png"
            other.write_bytes(data[1].read_bytes())    # a complete photo beside it
            wait_until(lambda: indexed(library, other), what="the complete photo")
            assert library.find_image(str(half)) is None   # neither indexed nor "corrupt"
            wait_until(lambda: live.summaries, what="the run's summary")
            assert all(s.skipped == 0 for s in live.summaries)
            fh.write(payload[len(payload) // 2:])
        wait_until(lambda: indexed(library, half), what="the completed photo")
        assert library.skipped() == []
    finally:
        live.stop()


def test_watch_limit_falls_back_to_periodic_rescan(tmp_path, library, encoder, monkeypatch,
                                                    caplog):
    def refuse(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(watch_module.Observer, "schedule", refuse)
    folder = tmp_path / "big"
    make_photos(folder, 2, seed=6)
    with caplog.at_level(logging.WARNING, logger="clipcore"):
        live = start(library, folder, encoder, rescan_seconds=0.5)
    try:
        state = live.watcher.states()[str(folder)]
        assert state.mode == watch_module.RESCANNING and "max_user_watches" in state.reason
        warnings = [r for r in caplog.records if "rescanning it every" in r.getMessage()]
        assert len(warnings) == 1                       # said once
        new = make_photos(folder, 1, seed=7, prefix="late")[0]
        wait_until(lambda: indexed(library, new), what="the periodic rescan to find the photo")
        assert len([r for r in caplog.records if "rescanning it every" in r.getMessage()]) == 1
    finally:
        live.stop()


def test_a_folder_going_offline_and_back_is_not_re_embedded(tmp_path, library, encoder):
    folder = tmp_path / "usb"
    make_photos(folder, 4, seed=8)
    live = start(library, folder, encoder)
    try:
        encoder.encoded.clear()
        folder.rename(tmp_path / "unplugged")
        wait_until(lambda: str(folder) in library.offline_folders(), what="offline")
        wait_until(lambda: live.watcher.states()[str(folder)].mode == watch_module.OFFLINE,
                   what="the watch to say offline")
        assert library.count() == 4
        (tmp_path / "unplugged").rename(folder)
        wait_until(lambda: live.watcher.states()[str(folder)].mode == watch_module.WATCHING,
                   what="the folder to be watched again")
        assert library.offline_folders() == {} and library.count() == 4
        assert sum(encoder.encoded) == 0
        late = make_photos(folder, 1, seed=9, prefix="after")[0]
        wait_until(lambda: indexed(library, late), what="a photo added after the return")
    finally:
        live.stop()


def test_a_drive_unplugged_as_a_run_ends_is_recorded_offline(tmp_path, library, encoder):
    """The drive goes away between the end of a run and the watch's look at its folders after
    it: the library must still record the folder as offline (it stayed "indexed" before: the
    watch saw the folder gone, set it offline for itself and never ran over it)."""
    folder = tmp_path / "usb"
    make_photos(folder, 2, seed=13)
    list(index_folders(library, [str(folder)], encoder.spec, encoder=encoder))
    live = LiveIndex(library, [str(folder)], encoder.spec, encoder, quiet_seconds=0.2,
                     max_wait_seconds=2.0, stable_seconds=1.0, check_seconds=0.5)
    run, unplugged = live.watcher.on_batch, []

    def run_then_unplug(batch):
        run(batch)
        if not unplugged:
            folder.rename(tmp_path / "unplugged")
            unplugged.append(True)

    live.watcher.on_batch = run_then_unplug
    live.start()
    try:
        make_photos(folder, 1, seed=14, prefix="new")     # a change: one run, then the drive goes
        wait_until(lambda: str(folder) in library.offline_folders(),
                   what="the library to record the folder offline")
        wait_until(lambda: live.watcher.states()[str(folder)].mode == watch_module.OFFLINE,
                   what="the watch to say offline")
        assert unplugged and library.count() == 3           # the run's photo, none lost
    finally:
        live.stop()


def test_the_writer_lock_is_free_while_the_watch_is_idle(watched, tmp_path):
    with Library.open(tmp_path / "data", lock_timeout=0) as other:
        with other.writer_lock.hold(timeout=0):       # would raise LibraryBusyError if held
            pass


@pytest.mark.timeout(600)
def test_clipcore_watch_in_a_terminal(tmp_path):
    data, folder = tmp_path / "data", tmp_path / "photos"
    make_photos(folder, 2, seed=10)
    assert run_cli(["index", folder, "--model", TINY_CONFIG], data).returncode == 0
    proc = subprocess.Popen(cli_command(["watch", folder]), env=cli_env(data),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = wait_until(lambda: proc.stdout.readline(), what="the watch to start")
        assert line.startswith("Watching 1 folder")
        new = make_photos(folder, 1, seed=11, prefix="new")[0]
        wait_until(lambda: str(new) in run_cli(["search", "photo", "-k", "10"], data).stdout,
                   what="the new photo to be searchable")
        assert "1 new" in proc.stdout.readline()
    finally:
        out, err = stop_watch(proc, signal.SIGINT)
    assert proc.returncode == 0, err
    assert "Stopped watching; the library is up to date" in out and "Traceback" not in err


def stop_watch(proc: subprocess.Popen, signum: int) -> tuple[str, str]:
    """Send ``signum`` to a `clipcore watch` subprocess and return its (stdout, stderr) once it
    has exited; a watch still running 60 s later fails the test (and is killed, never left)."""
    proc.send_signal(signum)
    try:
        return proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"clipcore watch did not stop within 60 s of signal {signum}:\n{out}\n{err}")


# Run before the CLI: SIGINT ignored, as a shell without job control (`cmd &` in a script, a CI
# runner) starts a background program. Python then installs no KeyboardInterrupt handler, and
# a watch that relied on Python's default never stopped on Ctrl+C (the hang CI met).
CTRL_C_IGNORED = "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_watch_started_with_ctrl_c_ignored_still_stops_on_ctrl_c_and_sigterm(tmp_path, signum):
    data, folder = tmp_path / "data", tmp_path / "photos"
    make_photos(folder, 2, seed=12)
    assert run_cli(["index", folder, "--model", TINY_CONFIG], data).returncode == 0
    proc = subprocess.Popen(cli_command(["watch", folder], prelude=CTRL_C_IGNORED),
                            env=cli_env(data), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        line = wait_until(lambda: proc.stdout.readline(), what="the watch to start")
        assert line.startswith("Watching 1 folder")
    finally:
        out, err = stop_watch(proc, signum)
    assert proc.returncode == 0, err
    assert "Stopped watching; the library is up to date" in out and "Traceback" not in err


# Patched into the `clipcore watch` subprocess: its runs encode 2 photos a batch and commit each
# batch; the watch thread's first batch waits (120 s at most) until the file $CLIPCORE_RELEASE
# exists, so the test can press Ctrl+C while a run is in the middle of its work.
HOLD_THE_FIRST_BATCH = CTRL_C_IGNORED + """
import os, sys, threading, time
import clipcore.indexer, clipcore.live
_index_folders = clipcore.indexer.index_folders
def index_folders(*args, **kwargs):
    return _index_folders(*args, **dict(kwargs, batch_size=2, commit_every=2))
clipcore.live.index_folders = index_folders
_encode_batch = clipcore.indexer.encode_batch
def encode_batch(*args, **kwargs):
    release = os.environ["CLIPCORE_RELEASE"]
    if threading.current_thread().name == "clipcore-watch" and not os.path.exists(release):
        print("CLIPCORE_TEST_HELD", file=sys.stderr, flush=True)
        end = time.monotonic() + 120
        while not os.path.exists(release) and time.monotonic() < end:
            time.sleep(0.02)
    return _encode_batch(*args, **kwargs)
clipcore.indexer.encode_batch = encode_batch
"""


@pytest.mark.timeout(600)
def test_ctrl_c_during_a_run_stops_after_its_batch_and_keeps_what_it_indexed(tmp_path):
    data, folder, release = tmp_path / "data", tmp_path / "photos", tmp_path / "release"
    make_photos(folder, 2, seed=13)
    assert run_cli(["index", folder, "--model", TINY_CONFIG], data).returncode == 0
    proc = subprocess.Popen(cli_command(["watch", folder], prelude=HOLD_THE_FIRST_BATCH),
                            env=cli_env(data, CLIPCORE_RELEASE=str(release)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = wait_until(lambda: proc.stdout.readline(), what="the watch to start")
        assert line.startswith("Watching 1 folder")
        camera = tmp_path / "camera"
        for photo in make_photos(camera, 10, seed=14):
            os.utime(photo, (time.time() - 3600,) * 2)     # settled files, not being written
        camera.rename(folder / "camera")                   # one run of 10 new photos
        wait_until(lambda: "CLIPCORE_TEST_HELD" in proc.stderr.readline(),
                   what="the run's first batch")
        proc.send_signal(signal.SIGINT)
        wait_until(lambda: "stopping the watch" in proc.stderr.readline(),
                   what="the Ctrl+C to be noticed")
        release.touch()                                    # the batch in hand completes
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped after 2 of 10 photos" in out, out
    assert "Stopped watching; what was indexed is kept" in out and "Traceback" not in err
    with Library.open(data) as library:
        assert library.count() == 2 + 2                    # the batch it finished is kept
    again = run_cli(["index", folder], data)
    assert again.returncode == 0, again.stderr
    assert "8 new" in again.stdout, again.stdout
