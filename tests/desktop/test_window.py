"""End-to-end: the window over a real library, the tiny model and a generated photo folder."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication, QImage

from clipcore.config import ModelSpec
from clipcore.library import Library
from desktop.search_request import SearchRequest
from desktop.settings import AppSettings

from tests.desktop.helpers import (INDEX_TIMEOUT_MS, IndexGate, close_window, drop, file_mime,
                                   index_folder, search_text, wait_for_results)


def test_start_up_does_not_import_torch():
    """The window module imports no torch/open_clip: the window shows before the model loads."""
    code = ("import sys, desktop.app, desktop.main_window; "
            "sys.exit(bool({'torch', 'open_clip'} & set(sys.modules)))")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_empty_library_says_add_a_folder(launch, qtbot):
    window = launch()
    qtbot.waitUntil(lambda: window.empty.title.text() == "Add a folder of photos")
    assert window.pages.currentWidget() is window.empty
    assert window.empty.button.isVisible()


def test_dropping_a_folder_indexes_it_and_a_typed_query_fills_the_grid(launch, qtbot, photos):
    folder, paths = photos
    window = launch()
    summary = index_folder(qtbot, window, folder)

    assert summary.new == len(paths) and not summary.cancelled
    assert window.count_label.text() == f"{len(paths)} images indexed"
    row = window.folders_model.index(0).data()
    assert row.startswith("photos\n") and "indexed" in row
    assert not window.progress.isVisible()

    qtbot.keyClicks(window.search_bar.edit, "a red square")
    qtbot.keyClick(window.search_bar.edit, Qt.Key.Key_Return)
    hits = wait_for_results(qtbot, window)
    assert {h.path for h in hits} <= {str(p) for p in paths}
    assert window.pages.currentWidget() is window.results_view
    assert "a red square" in window.result_info.text()


def test_search_as_you_type_without_enter(launch, qtbot, photos):
    window = launch()
    index_folder(qtbot, window, photos[0])
    qtbot.keyClicks(window.search_bar.edit, "sky")
    assert wait_for_results(qtbot, window)


def test_dropped_image_searches_and_finds_itself_first(launch, qtbot, photos):
    folder, paths = photos
    window = launch()
    index_folder(qtbot, window, folder)

    assert drop(window, file_mime(paths[5]))
    hits = wait_for_results(qtbot, window)
    assert hits[0].path == str(paths[5])
    assert window.search_bar.chip.isVisible()

    window.search_bar.chip.clear_button.click()   # clearing the image clears the results
    qtbot.waitUntil(lambda: window.results_model.rowCount() == 0)
    assert not window.search_bar.chip.isVisible()


@pytest.mark.parametrize("what", ["file", "pixels"])
def test_pasted_image_searches(launch, qtbot, photos, what):
    folder, paths = photos
    window = launch()
    index_folder(qtbot, window, folder)
    clipboard = QGuiApplication.clipboard()
    if what == "file":
        clipboard.setMimeData(file_mime(paths[7]))
    else:
        clipboard.setImage(QImage(str(paths[7])))
    window.search_bar.edit.setFocus()
    qtbot.keyClick(window.search_bar.edit, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    hits = wait_for_results(qtbot, window)
    assert hits[0].path == str(paths[7])
    assert window.search_bar.edit.text() == ""   # the image did not end up as query text


def test_find_similar_from_the_context_menu(launch, qtbot, photos):
    folder, paths = photos
    window = launch()
    index_folder(qtbot, window, folder)
    hits = search_text(qtbot, window, "blue")
    target = hits[-1]

    menu = window.results_view.build_menu(window.results_model.index(len(hits) - 1))
    assert [a.text() for a in menu.actions() if a.text()] == \
        ["Open", "Preview", "Show in folder", "Copy path", "Copy to folder…", "Save list as…",
         "Find similar", "More like this", "Less like this"]
    with qtbot.waitSignal(window.controller.results_ready, timeout=30_000,
                          check_params_cb=lambda _hits, request: request.similar_to == target.id):
        next(a for a in menu.actions() if a.text() == "Find similar").trigger()
    assert window.results_model.hit(0).path == target.path
    assert window.results_model.hit(0).score == pytest.approx(1.0, abs=1e-4)


def test_a_search_made_during_start_up_is_answered_before_the_rescan_ends(launch, qtbot, photos):
    from tests.helpers.e2e import make_photos

    folder, paths = photos
    window = launch()
    index_folder(qtbot, window, folder)
    close_window(qtbot, window)
    make_photos(folder, 1, seed=1, prefix="new")   # the start-up rescan has one photo to add

    window = launch()   # start-up (model choice, catalog read) has not run yet
    gate = IndexGate(window.controller)   # holds the rescan at the new photo
    try:
        with qtbot.waitSignal(window.controller.results_ready, timeout=30_000) as answer:
            window.search_bar.edit.setText("a red square")
            window.run_search()
        assert window.controller.is_indexing
    finally:
        with qtbot.waitSignal(window.controller.indexing_finished, timeout=INDEX_TIMEOUT_MS):
            gate.release()
    assert {h.path for h in answer.args[0]} == {str(p) for p in paths}


def test_back_to_back_searches_each_get_their_results(launch, qtbot, photos):
    """A search started the moment the previous one answered is answered too: an idle worker
    runs a "find similar" (no model needed) at once, and its result must not be lost."""
    window = launch()
    index_folder(qtbot, window, photos[0])
    ids = [window.controller.library.find_image(str(p)).id for p in photos[1]]
    for image_id in ids + ids:
        with qtbot.waitSignal(window.controller.results_ready, timeout=30_000,
                              check_params_cb=lambda _h, request, i=image_id:
                              request.similar_to == i) as answer:
            window.controller.search(SearchRequest(similar_to=image_id))
        assert answer.args[0][0].id == image_id


class _UrlRecorder(QObject):
    def __init__(self):
        super().__init__()
        self.urls = []

    @Slot(QUrl)
    def open(self, url):
        self.urls.append(url)


def test_enter_opens_ctrl_c_copies_and_drag_gives_file_urls(launch, qtbot, photos):
    folder, paths = photos
    window = launch()
    index_folder(qtbot, window, folder)
    hits = search_text(qtbot, window, "green")
    view = window.results_view
    view.setFocus()
    view.setCurrentIndex(window.results_model.index(0))

    recorder = _UrlRecorder()
    QDesktopServices.setUrlHandler("file", recorder, "open")
    try:
        qtbot.keyClick(view, Qt.Key.Key_Return)
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [u.toLocalFile() for u in recorder.urls] == [hits[0].path]

    view.selectAll()
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    copied = QGuiApplication.clipboard().mimeData()
    assert sorted(u.toLocalFile() for u in copied.urls()) == sorted(h.path for h in hits)

    dragged = window.results_model.mimeData([window.results_model.index(1)])
    assert [u.toLocalFile() for u in dragged.urls()] == [hits[1].path]


def test_min_score_filters_the_grid_without_searching_again(launch, qtbot, photos):
    window = launch()
    index_folder(qtbot, window, photos[0])
    window.set_query_image(str(photos[1][0]))
    hits = wait_for_results(qtbot, window)
    cut = min(100, math.ceil(hits[len(hits) // 2].score * 100))
    window.min_score.setValue(cut)
    shown = [window.results_model.hit(r) for r in range(window.results_model.rowCount())]
    assert shown == [h for h in hits if round(h.score, 2) >= cut / 100]
    assert shown[0].path == str(photos[1][0]) and len(shown) < len(hits)
    assert f"of {len(hits)} above {cut / 100:.2f}" in window.result_info.text()
    window.min_score.setValue(0)
    assert window.results_model.rowCount() == len(hits)


def test_cancel_stops_indexing_and_the_next_start_resumes(launch, qtbot, tmp_path):
    from tests.helpers.e2e import make_photos

    paths = make_photos(tmp_path / "many", 40)
    window = launch(batch_size=4, commit_every=4)
    gate = IndexGate(window.controller)
    with qtbot.waitSignal(window.controller.indexing_finished, timeout=INDEX_TIMEOUT_MS) as done:
        drop(window, file_mime(tmp_path / "many"))
        qtbot.waitUntil(gate.reached.is_set, timeout=INDEX_TIMEOUT_MS)
        assert window.progress.isVisible()
        qtbot.mouseClick(window.progress.cancel_button, Qt.MouseButton.LeftButton)
        gate.release()
    summary = done.args[0]
    assert summary.cancelled
    first_run = window.controller.library.count()
    assert first_run < len(paths)
    close_window(qtbot, window)

    window = launch()   # a new start picks up where the cancelled run stopped
    with qtbot.waitSignal(window.controller.indexing_finished, timeout=INDEX_TIMEOUT_MS) as done:
        pass
    assert not done.args[0].cancelled
    assert done.args[0].new + first_run == len(paths)
    assert window.count_label.text() == f"{len(paths)} images indexed"


def test_a_folder_added_while_indexing_shows_at_once_and_is_indexed_next(launch, qtbot, tmp_path):
    """A second folder (dropped, or handed over by a second `clipdesk`) while a long run goes is
    listed at once as waiting, not only when the running index ends (it could take hours)."""
    from tests.helpers.e2e import make_photos

    make_photos(tmp_path / "first", 8)
    make_photos(tmp_path / "second", 3)
    window = launch(batch_size=4)
    gate = IndexGate(window.controller)
    try:
        drop(window, file_mime(tmp_path / "first"))
        qtbot.waitUntil(gate.reached.is_set, timeout=INDEX_TIMEOUT_MS)
        window.controller.add_folder(str(tmp_path / "second"))
        rows = [window.folders_model.index(r).data() for r in range(window.folders_model.rowCount())]
        assert "second\nwaiting to be indexed" in rows and any(r.startswith("first\n") for r in rows)
    finally:
        gate.release()
    qtbot.waitUntil(lambda: window.controller.library.count() == 11 and
                    not window.controller.is_indexing, timeout=INDEX_TIMEOUT_MS)
    rows = [window.folders_model.index(r).data() for r in range(window.folders_model.rowCount())]
    assert any(r.startswith("second\n3 photos") for r in rows), rows


def test_closing_during_indexing_leaves_a_consistent_catalog(launch, qtbot, tmp_path, tiny_spec):
    from tests.helpers.e2e import make_photos

    paths = make_photos(tmp_path / "many", 40)
    window = launch(batch_size=4, commit_every=4)
    gate = IndexGate(window.controller)
    drop(window, file_mime(tmp_path / "many"))
    qtbot.waitUntil(gate.reached.is_set, timeout=INDEX_TIMEOUT_MS)
    with qtbot.waitSignal(window.closed, timeout=INDEX_TIMEOUT_MS):
        window.close()
        assert not window.isVisible()   # the window goes at once; the workers finish behind it
        gate.release()

    identity = tiny_spec.identity()
    with Library.open() as library:
        (info,) = library.folders()
        kept = library.count(identity)
        rows = [library.find_image(str(p)) for p in paths]
        embedded = [r for r in rows if r is not None and library.vector(r.id, identity) is not None]
        assert len(embedded) == kept == info.indexed_count < len(paths)
        assert all(r.status == "ok" for r in embedded)
        if kept:   # the vector index agrees with the catalog
            found = library.nearest(library.vector(embedded[0].id, identity), identity, len(paths))
            assert sorted(i for i, _ in found) == sorted(r.id for r in embedded)

    window = launch()   # the next start indexes the rest
    with qtbot.waitSignal(window.controller.indexing_finished, timeout=INDEX_TIMEOUT_MS):
        pass
    assert window.controller.library.count(identity) == len(paths)


def test_changing_the_model_reindexes_in_the_background_while_search_keeps_working(
        launch, qtbot, photos, tmp_path, tiny_config, tiny_spec):
    other = tmp_path / "other-clip.json"
    other.write_text(tiny_config.read_text() + "\n")   # same network, another identity
    other_spec = ModelSpec(name=str(other), device="cpu")
    specs = {"default": tiny_spec, "other": other_spec}
    window = launch(resolve_spec=lambda settings: specs[settings.preset])
    index_folder(qtbot, window, photos[0])
    library = window.controller.library

    gate = IndexGate(window.controller)
    with qtbot.waitSignal(window.controller.indexing_started):
        window.controller.apply_settings(AppSettings(preset="other"))
    qtbot.waitUntil(gate.reached.is_set, timeout=INDEX_TIMEOUT_MS)
    # the re-index is held mid-way: search uses the old vectors
    assert search_text(qtbot, window, "a cat")
    assert library.model_identity() == tiny_spec.identity()

    with qtbot.waitSignal(window.controller.indexing_finished, timeout=INDEX_TIMEOUT_MS) as done:
        gate.release()
    assert not done.args[0].cancelled
    assert library.model_identity() == other_spec.identity()
    assert window.controller.active_spec == other_spec
    assert library.count(other_spec.identity()) == len(photos[1])
    with qtbot.waitSignal(window.controller.results_ready, timeout=30_000):
        window.run_search()


def test_missing_weights_show_an_explanation_and_the_app_keeps_running(
        qtbot, settings_store, tiny_config, tmp_path, photos):
    from desktop.app import create_window

    missing = tmp_path / "weights" / "model.safetensors"
    spec = ModelSpec(name=str(tiny_config), checkpoint=str(missing), device="cpu")
    window = create_window(settings_store, resolve_spec=lambda _s: spec)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.model_page, timeout=120_000)
    assert "is not on this computer" in window.model_page.title.text()
    assert "model.safetensors" in window.model_page.body.text()

    with qtbot.waitSignal(window.controller.indexing_finished, timeout=INDEX_TIMEOUT_MS):
        drop(window, file_mime(photos[0]))
    assert window.message_bar.isVisible()   # the failure is a message, not a crash
    assert window.pages.currentWidget() is window.model_page
    # the folder is remembered, to be indexed once a model loads
    assert window.folders_model.index(0).data().startswith("photos\n")
    close_window(qtbot, window)


def test_removing_a_folder_forgets_it_but_keeps_the_files(launch, qtbot, photos, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    folder, paths = photos
    window = launch()
    index_folder(qtbot, window, folder)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or
                        QMessageBox.StandardButton.Yes)      # "Remove ... from the library?"
    panel = window.library_panel
    panel.view.setCurrentIndex(window.folders_model.index(0))
    with qtbot.waitSignal(window.controller.folders_changed, timeout=30_000):
        panel.remove_button.click()
    qtbot.waitUntil(lambda: window.folders_model.rowCount() == 0)
    assert len(asked) == 1 and "files on disk are not touched" in asked[0]
    assert window.count_label.text() == "0 images indexed"
    assert window.empty.title.text() == "Add a folder of photos"
    assert all(os.path.exists(p) for p in paths)


def test_screenshot_of_results(launch, qtbot, photos, tmp_path):
    """Saves the window with results showing, to look at: <tmp>/screenshots/results.png
    (also copied to $CLIPDESK_SCREENSHOT_DIR when set)."""
    folder, paths = photos
    window = launch()
    index_folder(qtbot, window, folder)
    window.set_query_image(str(paths[3]))
    hits = wait_for_results(qtbot, window)
    qtbot.waitUntil(lambda: all(window.results_model.has_thumbnail(h.path) for h in hits),
                    timeout=30_000)
    image = window.grab().toImage()
    out = tmp_path / "screenshots" / "results.png"
    out.parent.mkdir()
    assert image.save(str(out))
    if os.environ.get("CLIPDESK_SCREENSHOT_DIR"):
        image.save(os.path.join(os.environ["CLIPDESK_SCREENSHOT_DIR"], "results.png"))
    saved = QImage(str(out))
    assert saved.size() == window.size() * window.devicePixelRatioF()
    # the first cell shows the photo itself, not the grey placeholder
    rect = window.results_view.visualRect(window.results_model.index(0))
    centre = window.results_view.viewport().mapTo(window, rect.center())
    dpr = window.devicePixelRatioF()
    assert saved.pixelColor(int(centre.x() * dpr), int(centre.y() * dpr)).name() != "#dcdcdc"


def test_a_queued_watch_batch_inside_a_library_folder_adds_no_row(qtbot):
    """The watch queues sub-folders of library folders ("photos/2026" got a new photo): they
    show as their library folder, never as a row of their own; a new folder gets its row."""
    from types import SimpleNamespace

    from desktop.models.folders import FoldersModel

    model = FoldersModel()
    top = os.path.join(os.sep, "pics", "photos")
    info = SimpleNamespace(path=top, image_count=3, indexed_count=3, skipped_count=0, pending=0)
    model.set_folders([info])
    model.set_queued([os.path.join(top, "2026"), os.path.join(os.sep, "pics", "new")])
    rows = [model.index(r).data() for r in range(model.rowCount())]
    assert rows == ["new\nwaiting to be indexed", "photos\n3 photos · indexed"]
