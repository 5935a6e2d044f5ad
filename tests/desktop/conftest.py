"""Desktop fixtures: isolated QSettings, a generated photo folder, a window factory with the tiny
model, and a check that no test leaves a thread running."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QSettings

from tests.desktop.helpers import close_window
from tests.helpers.e2e import make_photos


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Fail a test that leaves a worker running: our pools and QThreads, Qt's global pool, and
    Python threads. (Qt's own threads show up in ``threading`` as dummy threads; they are
    checked through Qt instead.)"""
    before = set(threading.enumerate())
    yield
    from PySide6.QtCore import QThreadPool

    from desktop.workers import running_work

    QThreadPool.globalInstance().waitForDone(5000)
    leaked = running_work()
    leaked += [repr(t) for t in threading.enumerate()
               if t not in before and t.is_alive() and not isinstance(t, threading._DummyThread)]
    assert not leaked, f"threads left running: {leaked}"


@pytest.fixture
def settings_store(tmp_path) -> QSettings:
    """A QSettings in an ini file of this test's own. The live watch is off unless a test
    turns it on (tests/desktop/test_live.py): its runs would race other tests' own."""
    store = QSettings(str(tmp_path / "clipdesk.ini"), QSettings.Format.IniFormat)
    store.setValue("library/watch", False)
    yield store
    store.sync()


@pytest.fixture
def photos(tmp_path):
    """A folder of 12 small distinct PNG photos; returns (folder, sorted paths)."""
    folder = tmp_path / "photos"
    return folder, make_photos(folder, 12)


@pytest.fixture
def launch(qtbot, settings_store, tiny_spec):
    """``launch(resolve_spec=..., **index_options)`` -> a shown MainWindow on the tiny model
    (or what ``resolve_spec(AppSettings)`` returns); every window
    still open at the end of the test is closed and waited for (all workers stopped)."""
    from desktop.app import create_window

    windows = []

    def _launch(resolve_spec=lambda _settings: tiny_spec, **options):
        window = create_window(settings_store, resolve_spec=resolve_spec)
        window.controller.index_options.update(options)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield _launch
    for window in windows:
        if not window._shut_down:
            close_window(qtbot, window)
