"""Browsing results in the app: viewer, score badges and pages, examples as chips, dates,
folders, acting on results, keyboard. Waits on signals, never sleeps."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import os
import threading
from pathlib import Path

import open_clip  # noqa: F401  (imported once here: under heavy load, importing torch inside
import pytest     # the app's model-loading worker can outlast the tests' signal timeouts)
from PIL import Image
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

from desktop.browse import SHOW_SCORES_KEY
from desktop.result_actions import show_in_folder
from desktop.widgets.viewer import decode_for_screen
from tests.desktop.helpers import close_window, index_folder, search_text
from tests.helpers.e2e import make_photos
from tests.helpers.sqlite import open_db

TIMEOUT = 30_000


@pytest.fixture
def dated(tmp_path):
    """Two folders (a: 8 photos, b: 4), file dates 2019..2022 in turn."""
    a = make_photos(tmp_path / "lib" / "a", 8, seed=3)
    b = make_photos(tmp_path / "lib" / "b", 4, seed=4, prefix="b")
    for i, p in enumerate(a + b):
        t = dt.datetime(2019 + i % 4, 6, 1, 12).timestamp()
        os.utime(p, (t, t))
    return tmp_path / "lib", a, b


def _ready(launch, qtbot, folder, text="red"):
    window = launch()
    index_folder(qtbot, window, folder)
    search_text(qtbot, window, text)
    return window


def _results(qtbot, window, trigger, check=None):
    with qtbot.waitSignal(window.controller.results_ready, timeout=TIMEOUT,
                          check_params_cb=check) as got:
        trigger()
    return got.args


def _select(window, rows):
    view, model = window.results_view, window.results_model
    view.clearSelection()
    for r in rows:
        view.selectionModel().select(model.index(r), QItemSelectionModel.SelectionFlag.Select)
    view.selectionModel().setCurrentIndex(model.index(rows[0]),
                                          QItemSelectionModel.SelectionFlag.NoUpdate)


# ---------------------------------------------------------------- 1. viewer
def test_space_opens_the_viewer_left_right_esc_enter(launch, qtbot, photos, monkeypatch):
    window = _ready(launch, qtbot, photos[0])
    opened = []
    monkeypatch.setattr(window, "open_path", opened.append)
    view, viewer = window.results_view, window.browse.viewer
    view.setFocus()
    view.setCurrentIndex(window.results_model.index(0))
    first = window.results_model.hit(0)
    with qtbot.waitSignal(viewer.photo_shown, timeout=TIMEOUT) as shown:
        qtbot.keyClick(view, Qt.Key.Key_Space)
    assert shown.args == [first.path] and window.pages.currentWidget() is viewer
    info = viewer.info.text()
    assert os.path.basename(first.path) in info and f"{first.score:.3f}" in info
    assert "24 × 24" in info and "file date" in info and "bytes" in info
    assert viewer.canvas.pixmap.devicePixelRatio() == viewer.devicePixelRatioF()
    second = window.results_model.hit(1)
    with qtbot.waitSignal(viewer.photo_shown, timeout=TIMEOUT) as shown:
        qtbot.keyClick(viewer, Qt.Key.Key_Right)
    assert shown.args == [second.path]
    qtbot.keyClick(viewer, Qt.Key.Key_Return)
    assert opened == [second.path]                  # Enter still opens in the default app
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)
    assert window.pages.currentWidget() is view and view.currentIndex().row() == 1


def test_the_next_photo_is_decoded_ahead_so_right_shows_it_at_once(launch, qtbot, photos,
                                                                  monkeypatch):
    import desktop.widgets.viewer as viewer_module

    decoded = []
    real = viewer_module.decode_for_screen
    monkeypatch.setattr(viewer_module, "decode_for_screen",
                        lambda path, box: (decoded.append(path), real(path, box))[1])
    window = _ready(launch, qtbot, photos[0])
    viewer, model = window.browse.viewer, window.results_model
    with qtbot.waitSignal(viewer.photo_shown, timeout=TIMEOUT):
        window.browse.preview(model.hit(0))
    qtbot.waitUntil(lambda: model.hit(1).path in viewer._cache, timeout=TIMEOUT)
    with qtbot.waitSignal(viewer.photo_shown, timeout=TIMEOUT) as shown:
        qtbot.keyClick(viewer, Qt.Key.Key_Right)
        assert not viewer.canvas.stretch          # the photo itself, not the thumbnail stand-in
    assert shown.args == [model.hit(1).path]
    assert decoded.count(model.hit(1).path) == 1  # decoded once, ahead


def test_double_click_previews(launch, qtbot, photos):
    window = _ready(launch, qtbot, photos[0])
    viewer = window.browse.viewer
    with qtbot.waitSignal(viewer.photo_shown, timeout=TIMEOUT):
        window.results_view.doubleClicked.emit(window.results_model.index(2))
    assert viewer.hit.path == window.results_model.hit(2).path


def test_viewer_decodes_off_the_gui_thread_upright_and_to_screen_size(tmp_path, monkeypatch):
    """A 1200x800 JPEG with EXIF orientation 6 (rotate) comes out 800 wide, 1200 high, fitted
    into the screen's box (never enlarged)."""
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (1200, 800), (200, 30, 30)).save(path, exif=exif, quality=90)
    image, size = decode_for_screen(str(path), (2000, 2000))
    assert (image.width(), image.height()) == (800, 1200) and size == path.stat().st_size
    image, _ = decode_for_screen(str(path), (1000, 600))
    assert (image.width(), image.height()) == (400, 600)


def test_viewer_work_runs_in_a_worker_thread(launch, qtbot, photos, monkeypatch):
    import desktop.widgets.viewer as viewer_module

    threads = []
    real = viewer_module.decode_for_screen

    def spy(path, box):
        threads.append(threading.current_thread())
        return real(path, box)

    monkeypatch.setattr(viewer_module, "decode_for_screen", spy)
    window = _ready(launch, qtbot, photos[0])
    with qtbot.waitSignal(window.browse.viewer.photo_shown, timeout=TIMEOUT):
        window.browse.preview(window.results_model.hit(0))
    assert threads and threads[0] is not threading.main_thread()


# ---------------------------------------------------------------- 2. scores and pages
def test_score_badges_toggle_is_remembered(launch, qtbot, photos, settings_store):
    """Read from the settings at start (a previous session turned them on) and written back
    when toggled."""
    settings_store.setValue(SHOW_SCORES_KEY, True)
    window = _ready(launch, qtbot, photos[0])
    assert window.browse.scores_action.isChecked() and window.browse.delegate.show_scores
    window.browse.scores_action.trigger()
    assert not window.browse.delegate.show_scores
    assert str(settings_store.value(SHOW_SCORES_KEY)).lower() == "false"
    window.browse.scores_action.trigger()
    assert str(settings_store.value(SHOW_SCORES_KEY)).lower() == "true"


def test_count_shows_the_thresholds_effect_and_scrolling_loads_more(launch, qtbot, photos):
    """Pages of 5: the grid asks for more while it is not full (as when scrolled to the end),
    until the search has no more."""
    window = launch()
    window.controller.settings.result_count = 5
    index_folder(qtbot, window, photos[0])
    offsets = []
    window.controller.results_ready.connect(lambda _h, r: offsets.append(r.offset))
    search_text(qtbot, window, "red")
    model = window.results_model
    qtbot.waitUntil(lambda: model.rowCount() == 12 and not model.canFetchMore(), timeout=TIMEOUT)
    assert offsets == [0, 5, 10]
    assert len({h.id for h in model.shown_hits}) == 12
    scores = sorted(h.score for h in model.shown_hits)
    window.filters.min_score.setValue(int(scores[5] * 100) + 1)
    shown, loaded = model.rowCount(), model.hit_count
    assert shown < loaded and all(round(h.score, 2) >= window.filters.minimum for h in model.shown_hits)
    assert window.result_info.text().startswith(
        f"{shown} of {loaded} above {window.filters.minimum:.2f}")


# ---------------------------------------------------------------- 3. examples
def test_more_like_these_and_less_like_this_become_chips(launch, qtbot, photos):
    window = _ready(launch, qtbot, photos[0])
    hits = window.results_model.shown_hits
    _select(window, [0, 1])
    view, chips = window.results_view, window.browse.chips
    _, request = _results(qtbot, window,
                          lambda: view.more_like_requested.emit(view.selected_hits()))
    assert request.examples == [(hits[0].id, 1.0), (hits[1].id, 1.0)]
    assert len(chips.chips) == 2 and chips.isVisible()
    _, request = _results(qtbot, window, lambda: view.less_like_requested.emit([hits[2]]))
    assert request.examples[-1] == (hits[2].id, -1.0)
    negative = chips.chips[-1]
    assert negative.sign.text() == "−"
    shown = [h.id for h in window.results_model.shown_hits]
    assert shown.index(hits[2].id) > 2                     # pushed down
    _, request = _results(qtbot, window, lambda: chips.chips[0].weight.setValue(2.5))
    assert request.examples[0] == (hits[0].id, 2.5)
    _, request = _results(qtbot, window, chips.chips[0].flip)
    assert request.examples[0] == (hits[0].id, -2.5)
    _, request = _results(qtbot, window, chips.chips[1].removed.emit)
    assert [t for t, _ in request.examples] == [hits[0].id, hits[2].id]


# ---------------------------------------------------------------- 4. dates
def test_date_filter_and_date_sort_search_in_clipcore(launch, qtbot, dated):
    root, a, b = dated
    window = _ready(launch, qtbot, root)
    _, request = _results(qtbot, window, lambda: window.browse.dates.set_year(2020))
    assert request.dates.label() == "2020"
    got = window.results_model.shown_hits
    assert len(got) == 3 and all(h.date_taken.startswith("2020") for h in got)
    _, request = _results(qtbot, window, lambda: window.browse.dates.set_custom(
        dt.date(2021, 1, 1), dt.date(2022, 12, 31)))
    assert {h.date_taken[:4] for h in window.results_model.shown_hits} == {"2021", "2022"}
    _results(qtbot, window, lambda: window.browse.dates.set_year(None))
    _, request = _results(qtbot, window, lambda: window.filters.sort.setCurrentIndex(1))
    assert request.sort == "date"
    got = [h.date_taken for h in window.results_model.shown_hits]
    assert len(got) == 12 and got == sorted(got, reverse=True)


# ---------------------------------------------------------------- 5. folders
def test_clicking_a_library_folder_limits_results_with_a_chip(launch, qtbot, dated):
    root, a, b = dated
    window = launch()
    index_folder(qtbot, window, root / "a")
    index_folder(qtbot, window, root / "b")
    search_text(qtbot, window, "red")
    panel = window.library_panel
    row = next(r for r in range(panel.model.rowCount())
               if panel.model.index(r).data(Qt.ItemDataRole.UserRole + 1) == str(root / "b")
               or str(root / "b") in str(panel.model.index(r).data()))
    panel.view.setCurrentIndex(panel.model.index(row))
    _, request = _results(qtbot, window, lambda: panel.view.clicked.emit(panel.model.index(row)))
    assert request.folder == str(root / "b")
    chip = window.browse.chips.folder_chip
    assert chip.isVisible() and chip.label.text() == "in: b"
    assert {os.path.dirname(h.path) for h in window.results_model.shown_hits} == {str(root / "b")}
    _, request = _results(qtbot, window, chip.cleared.emit)
    assert request.folder is None and not chip.isVisible()
    assert window.results_model.rowCount() == 12


def test_remove_asks_first(launch, qtbot, dated):
    root, a, b = dated
    window = launch()
    index_folder(qtbot, window, root / "b")
    assert not window.browse.confirm_remove(str(root / "b"), ask=lambda: False)
    assert [f.path for f in window.controller.folders] == [str(root / "b")]
    with qtbot.waitSignal(window.controller.folders_changed, timeout=TIMEOUT,
                          check_params_cb=lambda folders, _n: not folders):
        assert window.browse.confirm_remove(str(root / "b"), ask=lambda: True)
    assert all(p.exists() for p in b)


def test_a_subfolder_in_the_tree_limits_results_with_its_chip(launch, qtbot, tmp_path):
    """Sub-folders come from the catalog under their library folder; clicking one limits the
    results to it ("in: beach") and the expanded tree stays expanded after a refresh."""
    root = tmp_path / "lib"
    beach = make_photos(root / "2021" / "beach", 4, seed=8, prefix="beach")
    make_photos(root / "2021", 3, seed=9, prefix="top")
    make_photos(root / "rome", 3, seed=10, prefix="rome")
    window = launch()
    with qtbot.waitSignal(window.controller.subfolders_changed, timeout=TIMEOUT,
                          check_params_cb=lambda tree: bool(tree.get(str(root)))):
        index_folder(qtbot, window, root)
    search_text(qtbot, window, "red")
    panel, model = window.library_panel, window.folders_model
    top = model.index(0)
    names = [model.index(r, 0, top).data() for r in range(model.rowCount(top))]
    assert names == ["2021  ·  7", "rome  ·  3"]
    year = model.index(0, 0, top)
    panel.view.setExpanded(top, True)
    panel.view.setExpanded(year, True)
    sub = model.index(0, 0, year)
    assert sub.data() == "beach  ·  4" and sub.data(Qt.ItemDataRole.UserRole + 1) == str(
        root / "2021" / "beach")
    panel.view.setCurrentIndex(sub)
    assert not panel.remove_button.isEnabled()        # Remove is for library folders
    _, request = _results(qtbot, window, lambda: panel.view.clicked.emit(sub))
    assert request.folder == str(root / "2021" / "beach")
    chip = window.browse.chips.folder_chip
    assert chip.isVisible() and chip.label.text() == "in: beach"
    assert {h.path for h in window.results_model.shown_hits} == {str(p) for p in beach}
    with qtbot.waitSignal(window.controller.subfolders_changed, timeout=TIMEOUT):
        window.controller._refresh_folders()
    assert panel.view.isExpanded(model.index(0, 0, model.index(0)))
    assert panel.selected_path() == str(root / "2021" / "beach")


def test_remove_can_be_undone_without_indexing_and_is_purged_at_quit(launch, qtbot, dated):
    root, a, b = dated
    window = launch()
    index_folder(qtbot, window, root / "a")
    index_folder(qtbot, window, root / "b")
    before = {h.id for h in search_text(qtbot, window, "red")}
    runs = []
    window.controller.indexing_started.connect(runs.append)
    with qtbot.waitSignal(window.controller.folder_removed, timeout=TIMEOUT):
        assert window.browse.confirm_remove(str(root / "a"), ask=lambda: True)
    bar, undo = window.message_bar, window.actions.undo_remove
    assert bar.isVisible() and bar.action.text() == "Undo" and "“a”" in bar.label.text()
    assert undo.isEnabled() and "“a”" in undo.text()
    qtbot.waitUntil(lambda: window.results_model.shown_hits and all(
        str(root / "a") not in h.path for h in window.results_model.shown_hits), timeout=TIMEOUT)
    with qtbot.waitSignal(window.controller.results_ready, timeout=TIMEOUT):
        bar.action.click()                                       # Undo
    qtbot.waitUntil(lambda: {h.id for h in window.results_model.shown_hits} == before,
                    timeout=TIMEOUT)
    qtbot.waitUntil(lambda: sorted(f.path for f in window.controller.folders)
                    == [str(root / "a"), str(root / "b")], timeout=TIMEOUT)
    assert not undo.isEnabled() and runs == []                  # nothing indexed again
    with qtbot.waitSignal(window.controller.folder_removed, timeout=TIMEOUT):
        window.browse.confirm_remove(str(root / "b"), ask=lambda: True)
    catalog = window.controller.library.catalog.path
    close_window(qtbot, window)                                  # quitting purges it
    with open_db(catalog) as con:
        assert con.execute("SELECT count(*) FROM removed_folders").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM removed_vectors").fetchone()[0] == 0
        paths = [os.fsdecode(r[0]) for r in con.execute("SELECT path FROM images")]
    assert len(paths) == len(a) and all(p.startswith(str(root / "a")) for p in paths)
    assert all(p.exists() for p in a + b)


# ---------------------------------------------------------------- 6. acting on results
def test_show_in_folder_falls_back_to_opening_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
    asked = []
    how = show_in_folder(str(tmp_path / "x.jpg"), open_url=lambda url: asked.append(url) or True)
    assert how in ("dbus", "folder")
    if how == "folder":
        assert asked[0].toLocalFile() == str(tmp_path)


def test_copy_to_folder_and_save_list(launch, qtbot, photos, tmp_path):
    window = _ready(launch, qtbot, photos[0])
    hits = window.results_model.shown_hits[:6]
    digest = {h.path: hashlib.sha256(Path(h.path).read_bytes()).hexdigest() for h in hits}
    dest = tmp_path / "picked"
    (dest).mkdir()
    (dest / os.path.basename(hits[0].path)).write_text("already here")
    job = window.browse.copy_to_folder(hits, str(dest))
    with qtbot.waitSignal(job.finished, timeout=TIMEOUT) as done:
        pass
    result, message = done.args
    assert len(result.copied) == 6 and "originals were not touched" in message
    assert (dest / os.path.basename(hits[0].path)).read_text() == "already here"
    assert all(hashlib.sha256(Path(h.path).read_bytes()).hexdigest() == digest[h.path]
               for h in hits)
    out = window.browse.save_list(str(tmp_path / "list.csv"))
    with open(out, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["path", "score", "date_taken", "id"]
    assert [r[0] for r in rows[1:]] == [h.path for h in window.results_model.shown_hits]


# ---------------------------------------------------------------- 7. keyboard
def test_keyboard(launch, qtbot, photos):
    window = _ready(launch, qtbot, photos[0])
    window.activateWindow()
    view, edit = window.results_view, window.search_bar.edit
    qtbot.keyClick(view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is edit
    qtbot.keyClick(edit, Qt.Key.Key_Down)
    assert QApplication.focusWidget() is view and view.currentIndex().row() == 0
    qtbot.keyClick(view, Qt.Key.Key_Slash)
    assert QApplication.focusWidget() is edit
    qtbot.keyClick(edit, Qt.Key.Key_Down)
    qtbot.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    rows = window.results_model.rowCount()
    assert len(view.selected_hits()) == rows
    qtbot.keyClick(view, Qt.Key.Key_Delete)                  # nothing happens to anything
    assert window.results_model.rowCount() == rows and all(p.exists() for p in photos[1])
    hit = window.results_model.hit(0)
    _results(qtbot, window, lambda: view.more_like_requested.emit([hit]))
    _results(qtbot, window, lambda: qtbot.keyClick(view, Qt.Key.Key_Escape),
             lambda _h, r: r.text is None and r.examples)        # 1st Esc: the text
    assert window.browse.chips.has_images and not edit.text()
    qtbot.keyClick(view, Qt.Key.Key_Escape)                  # 2nd Esc: the image chips
    assert not window.browse.chips.has_images and window.results_model.rowCount() == 0
    assert QKeySequence("Ctrl+,") in window.actions.settings.shortcuts()


def test_keyboard_slash_enter_space_and_settings(launch, qtbot, photos, monkeypatch):
    """"/" focuses the search box from the grid, yet types a "/" inside the box; Down enters
    the grid; Enter opens the photo (the system opener is replaced here); Space previews;
    Ctrl+, opens the settings."""
    import desktop.main_window as main_window

    window = _ready(launch, qtbot, photos[0])
    window.activateWindow()
    view, edit = window.results_view, window.search_bar.edit
    opened, dialogs = [], []
    monkeypatch.setattr(window, "open_path", opened.append)

    class FakeSettings:
        def __init__(self, *args, **kwargs):
            dialogs.append(args)

        def exec(self):
            return 0                  # "Cancel": nothing is applied

    monkeypatch.setattr(main_window, "SettingsDialog", FakeSettings)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Slash)
    assert QApplication.focusWidget() is edit
    edit.clear()
    qtbot.keyClicks(edit, "red/blue")
    assert edit.text() == "red/blue" and QApplication.focusWidget() is edit
    qtbot.keyClick(edit, Qt.Key.Key_Down)
    assert QApplication.focusWidget() is view and view.currentIndex().row() == 0
    qtbot.keyClick(view, Qt.Key.Key_Down)
    second = window.results_model.hit(view.currentIndex().row())
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert opened == [second.path]
    with qtbot.waitSignal(window.browse.viewer.photo_shown, timeout=TIMEOUT) as shown:
        qtbot.keyClick(view, Qt.Key.Key_Space)
    assert shown.args == [second.path] and window.browse.viewing
    qtbot.keyClick(window.browse.viewer, Qt.Key.Key_Escape)
    assert not window.browse.viewing and QApplication.focusWidget() is view
    qtbot.keyClick(view, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    assert len(dialogs) == 1
