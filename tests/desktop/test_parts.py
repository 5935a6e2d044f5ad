"""The window's parts on their own: results model, folder states, progress text, settings."""

from __future__ import annotations

import os
import subprocess
import sys

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QImage

from clipcore.indexer import ProgressEvent
from clipcore.library import FolderInfo
from clipcore.search import Hit
from desktop.models.folders import folder_state
from desktop.models.results import SORT_DATE, SORT_RELEVANCE, ResultsModel
from desktop.settings import AppSettings, load_settings, save_settings
from desktop.widgets.index_progress import describe_progress

HITS = [Hit(1, "/p/a.jpg", 0.9, "2020-05-01T10:00:00"), Hit(2, "/p/b.jpg", 0.5, None),
        Hit(3, "/p/c.jpg", 0.3, "2023-01-02T08:00:00")]


def _paths(model):
    return [model.hit(r).path for r in range(model.rowCount())]


def test_results_sort_by_date_puts_newest_first_and_undated_last(qtbot):
    model = ResultsModel()
    model.set_hits(HITS)
    assert _paths(model) == ["/p/a.jpg", "/p/b.jpg", "/p/c.jpg"]
    model.set_sort(SORT_DATE)
    assert _paths(model) == ["/p/c.jpg", "/p/a.jpg", "/p/b.jpg"]
    model.set_sort(SORT_RELEVANCE)
    model.set_min_score(0.4)
    assert _paths(model) == ["/p/a.jpg", "/p/b.jpg"] and model.hit_count == 3


def test_results_ask_for_sharp_thumbnails_and_show_them_when_they_arrive(qtbot):
    model = ResultsModel(icon_side=100)
    model.set_device_pixel_ratio(2.0)
    model.set_hits(HITS)
    index = model.index(1)
    with qtbot.waitSignal(model.thumbnail_wanted) as asked:
        placeholder = index.data(Qt.ItemDataRole.DecorationRole)
    assert asked.args == ["/p/b.jpg", 200]   # device pixels for a 100 px cell at 2x
    image = QImage(200, 150, QImage.Format.Format_RGB888)
    image.fill(Qt.GlobalColor.red)
    with qtbot.waitSignal(model.dataChanged):
        model.set_thumbnail("/p/b.jpg", image)
    shown = index.data(Qt.ItemDataRole.DecorationRole)
    assert shown.cacheKey() != placeholder.cacheKey()
    assert shown.devicePixelRatio() == 2.0 and shown.deviceIndependentSize().width() == 100
    small = QImage(64, 48, QImage.Format.Format_RGB888)   # a photo smaller than the cell
    small.fill(Qt.GlobalColor.blue)
    model.set_thumbnail("/p/a.jpg", small)
    assert model.index(0).data(Qt.ItemDataRole.DecorationRole).deviceIndependentSize().width() == 100
    tooltip = index.data(Qt.ItemDataRole.ToolTipRole)
    assert "/p/b.jpg" in tooltip and "0.500" in tooltip and "unknown" in tooltip


def test_folder_state_lines():
    done = FolderInfo(1, "/p", image_count=10, indexed_count=8, skipped_count=2)
    assert folder_state(done, indexing=False) == "8 photos · indexed · 2 skipped"
    partial = FolderInfo(1, "/p", image_count=10, indexed_count=3, skipped_count=0)
    assert folder_state(partial, indexing=True) == "3 photos · indexing…"
    assert folder_state(partial, indexing=False) == "3 photos · not fully indexed"
    assert folder_state(None, indexing=True) == "indexing…"
    assert folder_state(FolderInfo(1, "/p", 0, 0, 0), indexing=False) == "no photos yet"


def test_a_folder_tooltip_has_the_path_and_the_whole_state_line():
    """The panel is narrow, so a folder row's state line is often cut with "…": its tooltip
    carries the path and the whole line."""
    from desktop.models.folders import FoldersModel

    model = FoldersModel()
    path = os.path.join(os.sep, "media", "Holiday photos from the summer of 2026")
    model.set_folders([FolderInfo(1, path, image_count=1240, indexed_count=1234, skipped_count=6)])
    tip = model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    assert tip == f"{path}\n1,234 photos · indexed · 6 skipped"


def test_progress_text_has_count_rate_and_eta():
    event = ProgressEvent("encode", 1234, 5000, 42.0, 120.0, "/p/x.jpg")
    assert describe_progress(event) == "Indexing 1,234 / 5,000 · 42.0 images/s · about 2 min left"
    assert describe_progress(ProgressEvent("scan", 0, 0, 0.0, None, None)) == "Looking for photos…"


def test_settings_persist_and_fall_back_on_bad_values(tmp_path):
    store = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    wanted = AppSettings(preset="fast", device="cpu", result_count=50, exclude=["/p/raw"])
    save_settings(store, wanted)
    again = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    assert load_settings(again) == wanted
    again.setValue("model/device", "quantum")
    again.setValue("search/result_count", "lots")
    loaded = load_settings(again)
    assert (loaded.device, loaded.result_count) == ("auto", 200)


def test_process_exits_cleanly_after_copying_to_an_in_process_clipboard():
    """Paths copied from Python onto the offscreen platform's clipboard do not crash the
    process at exit (Qt would delete the Python-made QMimeData after Python has shut down)."""
    code = ("import sys; from PySide6.QtCore import QMimeData, QUrl; "
            "from PySide6.QtWidgets import QApplication; import desktop.mime; "
            "app = QApplication(sys.argv); mime = QMimeData(); "
            "mime.setUrls([QUrl.fromLocalFile('/p/a.jpg')]); app.clipboard().setMimeData(mime)")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    assert subprocess.run([sys.executable, "-c", code], env=env, timeout=120).returncode == 0


def test_file_urls_keep_names_that_are_not_utf8(tmp_path):
    """Open / Copy / drag-out use file URLs; a non-UTF-8 name must round-trip byte for byte."""
    import os

    from desktop.mime import file_url, url_path

    name = os.fsdecode(b"caf\xe9 'x' #1 %20.jpg")      # Latin-1 byte, quote, hash, percent
    path = str(tmp_path / name)
    url = file_url(path)
    assert url.isLocalFile()
    assert url_path(url) == path
    assert os.fsencode(url_path(url)) == os.fsencode(path)


def test_thumbnails_arrive_for_large_webp_and_undecodable_files_get_a_cannot_show_tile(
        qtbot, tmp_path):
    from PIL import Image

    from desktop.thumbnails import ThumbnailCache, ThumbnailLoader

    big, bad = tmp_path / "big.webp", tmp_path / "bad.jpg"
    Image.new("RGB", (3000, 2000), (200, 40, 40)).save(big, "WEBP")
    bad.write_bytes(b"not a jpeg")
    loader = ThumbnailLoader(ThumbnailCache(tmp_path / "cache"))
    model = ResultsModel(icon_side=100)
    loader.ready.connect(model.set_thumbnail)
    loader.failed.connect(lambda path: model.set_thumbnail(path, None))
    model.thumbnail_wanted.connect(loader.request)
    model.set_hits([Hit(1, str(big), 0.9, None), Hit(2, str(bad), 0.5, None)])
    placeholder = model.index(1).data(Qt.ItemDataRole.DecorationRole)   # asks for both
    model.index(0).data(Qt.ItemDataRole.DecorationRole)
    try:
        qtbot.waitUntil(lambda: model.has_thumbnail(str(big)) and model.index(1).data(
            Qt.ItemDataRole.DecorationRole).cacheKey() != placeholder.cacheKey(), timeout=30_000)
    finally:
        loader.shutdown()
    shown = model.index(0).data(Qt.ItemDataRole.DecorationRole)
    assert shown.deviceIndependentSize().width() == 100
    assert shown.toImage().pixelColor(50, 30).red() > 150   # the photo, not the grey tile
    assert not model.has_thumbnail(str(bad))   # its tile is the "cannot show" one


def test_empty_page_tells_the_most_urgent_next_step():
    from desktop.empty_states import choose_empty_page

    base = dict(model_state="ready", model_message="", have_folders=True, indexing=False,
                search_error="", query_label=None, hit_count=0, min_score=0.0)
    page = choose_empty_page(**{**base, "model_state": "missing", "have_folders": False,
                                "model_message": "No weights for ViT-B-32."})
    assert (page.title, page.action) == ("Model weights missing", "settings")
    assert "No weights for ViT-B-32." in page.body
    assert choose_empty_page(**{**base, "have_folders": False}).action == "add"
    assert choose_empty_page(**{**base, "have_folders": False, "indexing": True}).title \
        == "Search your photos"
    hidden = choose_empty_page(**{**base, "query_label": "“cat”", "hit_count": 40, "min_score": 0.3})
    assert hidden.action == "lower" and "40" in hidden.body and "0.30" in hidden.body
    assert "“cat”" in choose_empty_page(**{**base, "query_label": "“cat”"}).body
    assert choose_empty_page(**{**base, "search_error": "Bad query."}).body == "Bad query."


def test_a_cancelled_folder_says_how_far_it_got():
    from clipcore.catalog import FolderInfo
    from desktop.models.folders import folder_state

    paused = FolderInfo(1, "/photos", image_count=48, indexed_count=48, skipped_count=0,
                        pending=552)
    assert folder_state(paused, indexing=False) == "48 of 600 indexed · paused"
    assert folder_state(paused, indexing=True).endswith("indexing…")
    done = FolderInfo(1, "/photos", image_count=600, indexed_count=600, skipped_count=0)
    assert folder_state(done, indexing=False) == "600 photos · indexed"
