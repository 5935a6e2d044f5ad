"""`clipdesk` as users run it: a separate process, closed in every way a user closes it.

Each test starts the real entry point (``desktop.app.main``, what the ``clipdesk`` script runs)
in a subprocess under QT_QPA_PLATFORM=offscreen. A prelude (test-only code run before
``main``) hooks the window's ``show`` so the test hears "READY" on stdout once the event loop
runs, and optionally quits it from inside the app the way a user's key press or the window
manager does (Ctrl+Q, File > Quit, a close event). The test then waits for the process to exit
and checks its status, how long it took, and that the catalog is whole.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.e2e import REPO_ROOT, TINY_CONFIG, make_photos, run_cli
from tests.helpers.sqlite import open_db

pytestmark = pytest.mark.slow

#: Generous bounds for a shared, loaded test machine; the measured times are in the issue note
#: (idle: the target is 2 s).
IDLE_EXIT_S = 10.0
INDEXING_EXIT_S = 20.0

PRELUDE = r'''
import os, sys, time
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QApplication
import desktop.app as app_module
from desktop import main_window

ACTION = os.environ["TEST_ACTION"]          # key | menu | close | signal
WHEN = os.environ["TEST_WHEN"]              # idle | indexing
_create = app_module.create_window

def create_window(*args, **kwargs):
    window = _create(*args, **kwargs)
    window.controller.index_options.update(batch_size=4, commit_every=8)
    window.controller.indexing_finished.connect(lambda _summary: print("INDEXED", flush=True))
    window.controller.watch_states.connect(lambda states: any(
        s.mode == "watching" for s in states.values()) and print("WATCHING", flush=True))
    if WHEN == "indexing":
        commits = []
        def on_progress(event):
            if event.phase == "commit" and not commits:
                commits.append(event)
                QTimer.singleShot(0, lambda: act(window))
        window.controller.index_progress.connect(on_progress)
    return window

def act(window):
    print("QUIT", flush=True)
    if ACTION == "key":
        from PySide6.QtTest import QTest
        window.activateWindow()     # shortcuts go to the active window
        QTest.qWaitForWindowActive(window)
        QTest.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    elif ACTION == "menu":
        window.actions.quit.trigger()
    elif ACTION == "close":     # what the window manager's WM_DELETE_WINDOW turns into
        QApplication.sendEvent(window, QCloseEvent())

_show = main_window.MainWindow.show
def show(self):
    _show(self)
    def ready():
        print("READY", flush=True)
        if WHEN == "idle" and ACTION != "signal":
            act(self)
    QTimer.singleShot(0, ready)
main_window.MainWindow.show = show
app_module.create_window = create_window
'''


def app_env(tmp_path: Path, **extra) -> dict[str, str]:
    env = dict(os.environ)
    env.update(CLIPDESK_DATA_DIR=str(tmp_path / "data"), CLIPDESK_CACHE_DIR=str(tmp_path / "cache"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), CLIPDESK_MODEL=str(TINY_CONFIG),
               QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1",
               PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def _start(tmp_path: Path, *args, action: str = "signal", when: str = "idle",
           prelude: bool = True) -> subprocess.Popen:
    code = (PRELUDE if prelude else "") + "\nimport sys\nfrom desktop.app import main\nsys.exit(main())\n"
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], cwd=REPO_ROOT,
                            env=app_env(tmp_path, TEST_ACTION=action, TEST_WHEN=when),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def start_app():
    """start_app(tmp_path, *args, action=, when=, prelude=) -> the running `clipdesk` process;
    when the test ends its pipes are closed, and one still running is killed."""
    started: list[subprocess.Popen] = []

    def start(*args, **kwargs) -> subprocess.Popen:
        started.append(_start(*args, **kwargs))
        return started[-1]

    yield start
    for proc in started:
        with proc:                      # leaving closes stdout / stderr and waits
            if proc.poll() is None:
                proc.kill()


def wait_for_line(proc: subprocess.Popen, word: str, timeout: float = 300) -> None:
    """Read the app's stdout until a line is ``word`` (blocks on the pipe, no polling)."""
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        if line.strip() == word:
            return
        assert time.monotonic() < deadline, f"no {word} within {timeout} s"
    proc.wait(30)
    pytest.fail(f"the app ended (status {proc.returncode}) before {word}: {proc.stderr.read()}")


def exit_time(proc: subprocess.Popen, limit: float) -> float:
    """Wait for the exit; returns seconds from now to the exit (fails after ``limit``)."""
    began = time.monotonic()
    try:
        proc.wait(timeout=limit * 3)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"clipdesk did not exit within {limit * 3} s: {proc.communicate()[1]}")
    took = time.monotonic() - began
    err = proc.stderr.read()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert took < limit, f"exit took {took:.1f} s"
    return took


def catalog_counts(data: Path) -> tuple[int, int]:
    """(photos with a vector, ok rows) from a catalog that must pass SQLite's integrity check."""
    with open_db(data / "catalog.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        vectors = db.execute("SELECT count(*) FROM vectors").fetchone()[0]
        ok = db.execute("SELECT count(*) FROM images WHERE status = 'ok'").fetchone()[0]
    return vectors, ok


@pytest.mark.parametrize("action", ["key", "menu", "close", "SIGTERM", "SIGINT"])
def test_idle_app_exits_0_promptly(tmp_path, action, start_app):
    proc = start_app(tmp_path, action="signal" if action.startswith("SIG") else action)
    wait_for_line(proc, "READY")
    if action.startswith("SIG"):
        proc.send_signal(getattr(signal, action))
    else:
        wait_for_line(proc, "QUIT")
    exit_time(proc, IDLE_EXIT_S)


@pytest.mark.parametrize("action", ["close", "SIGTERM"])
def test_quitting_while_indexing_keeps_what_was_committed(tmp_path, action, start_app):
    photos = make_photos(tmp_path / "photos", 300, size=64)
    proc = start_app(tmp_path, tmp_path / "photos",
                     action="signal" if action == "SIGTERM" else action, when="indexing")
    wait_for_line(proc, "READY")
    if action == "SIGTERM":
        # the first commit is where the prelude would act; a signal can come any time
        wait_for_line(proc, "QUIT")
        proc.send_signal(signal.SIGTERM)
    else:
        wait_for_line(proc, "QUIT")
    exit_time(proc, INDEXING_EXIT_S)
    indexed, _ = catalog_counts(tmp_path / "data")
    assert 0 < indexed < len(photos)      # committed work kept; indexing was cancelled
    # the next run picks up exactly the rest
    done = run_cli(["index", "--model", TINY_CONFIG], tmp_path / "data", timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"{len(photos) - indexed} new" in done.stdout
    assert catalog_counts(tmp_path / "data") == (len(photos), len(photos))


@pytest.mark.timeout(600)       # two index runs and an app start: over 120 s under load
@pytest.mark.parametrize("action", ["key", "SIGINT"])
def test_quitting_while_the_watch_indexes_new_photos_keeps_what_was_committed(tmp_path, action,
                                                                              start_app):
    """The library folder is watched; photos moved into it start a run, and the app is quit
    (Ctrl+Q, or Ctrl+C in the terminal that started it) at that run's first commit."""
    folder, data = tmp_path / "photos", tmp_path / "data"
    make_photos(folder, 2, seed=20)
    assert run_cli(["index", folder, "--model", TINY_CONFIG], data).returncode == 0
    proc = start_app(tmp_path, action="signal" if action == "SIGINT" else action,
                     when="indexing")
    wait_for_line(proc, "WATCHING")
    camera = tmp_path / "camera"
    for photo in make_photos(camera, 300, seed=21, size=64):
        os.utime(photo, (time.time() - 3600,) * 2)      # settled files, not being written
    camera.rename(folder / "camera")
    wait_for_line(proc, "QUIT")
    if action == "SIGINT":
        proc.send_signal(signal.SIGINT)
    exit_time(proc, INDEXING_EXIT_S)
    indexed, _ = catalog_counts(data)
    assert 2 < indexed < 2 + 300          # committed work kept; the run was cancelled
    done = run_cli(["index", "--model", TINY_CONFIG], data, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"{2 + 300 - indexed} new" in done.stdout


def test_a_second_start_hands_its_folder_to_the_first(tmp_path, start_app):
    first = start_app(tmp_path)
    wait_for_line(first, "READY")
    make_photos(tmp_path / "more", 5)
    second = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom desktop.app import main\nsys.exit(main())",
         str(tmp_path / "more")], cwd=REPO_ROOT, env=app_env(tmp_path), capture_output=True,
        text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stderr
    wait_for_line(first, "INDEXED")       # the first one took the folder and indexed it
    first.send_signal(signal.SIGTERM)
    exit_time(first, INDEXING_EXIT_S)
    with open_db(tmp_path / "data" / "catalog.sqlite") as db:
        paths = [os.fsdecode(p) for (p,) in db.execute("SELECT path FROM folders")]
    assert paths == [str(tmp_path / "more")]


@pytest.mark.parametrize("option, words", [("--help", "usage: clipdesk"),
                                           ("--version", "clipdesk ")])
def test_help_and_version_answer_without_a_window(tmp_path, option, words):
    env = app_env(tmp_path)
    env.pop("QT_QPA_PLATFORM")
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)    # a window could not open here: Qt would abort
    proc = subprocess.run([sys.executable, "-m", "desktop.app", option], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(words)
    assert not (tmp_path / "data").exists()


def test_a_folder_that_does_not_exist_is_refused_before_any_window(tmp_path):
    env = app_env(tmp_path)
    env.pop("QT_QPA_PLATFORM")
    proc = subprocess.run([sys.executable, "-m", "desktop.app", str(tmp_path / "nope")],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"clipdesk: error: {tmp_path / 'nope'} is not a folder; "
                                   "give folders of photos.")


def test_install_desktop_entry_writes_the_launcher_and_icons(tmp_path):
    env = app_env(tmp_path, XDG_DATA_HOME=str(tmp_path / "share"))
    proc = subprocess.run([sys.executable, "-m", "desktop.app", "--install-desktop-entry"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    entry = (tmp_path / "share" / "applications" / "clipdesk.desktop").read_text()
    assert "Icon=clipdesk" in entry and "Type=Application" in entry
    exec_line = next(line for line in entry.splitlines() if line.startswith("Exec="))
    assert exec_line.endswith("%F") and exec_line != "Exec=clipdesk %F"   # this installation's
    icons = tmp_path / "share" / "icons" / "hicolor"
    assert (icons / "scalable" / "apps" / "clipdesk.svg").is_file()
    assert (icons / "48x48" / "apps" / "clipdesk.png").is_file()
