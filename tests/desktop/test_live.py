"""The app keeps the library up to date by itself: a photo copied into a library folder becomes
searchable without F5; a folder whose drive goes away shows "offline" with when it was last
seen and keeps its photos; the settings hold watch on/off, rescan interval, tombstone age."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from desktop.settings import AppSettings, load_settings, save_settings
from desktop.widgets.settings_dialog import SettingsDialog
from tests.desktop.helpers import INDEX_TIMEOUT_MS, index_folder
from tests.helpers.e2e import make_photos

SHOTS = Path("/work/notes/shots/live12")


def shot(widget, name: str) -> None:
    """Save a screenshot for a person to look at (not an assertion)."""
    try:
        SHOTS.mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(SHOTS / name))
    except OSError:
        pass


def folder_line(window) -> str:
    model = window.folders_model
    return model.data(model.index(0)) if model.rowCount() else ""


def test_new_photo_is_indexed_and_an_unplugged_folder_shows_offline(launch, qtbot, photos,
                                                                   settings_store, tmp_path):
    settings_store.setValue("library/watch", True)
    folder, paths = photos
    window = launch()
    window.controller.live.check_seconds = 0.5     # notice the unplugged folder quickly
    index_folder(qtbot, window, folder)
    qtbot.waitUntil(lambda: "watching" in folder_line(window), timeout=INDEX_TIMEOUT_MS)
    library = window.controller.library

    new = make_photos(tmp_path / "camera", 1, seed=40, prefix="new")[0]
    new.replace(folder / new.name)                         # copied in, no F5
    qtbot.waitUntil(lambda: library.find_image(str(folder / new.name)) is not None,
                    timeout=INDEX_TIMEOUT_MS)
    qtbot.waitUntil(lambda: folder_line(window).startswith(f"{folder.name}\n13 photos"),
                    timeout=INDEX_TIMEOUT_MS)
    shot(window, "watching.png")

    folder.rename(tmp_path / "unplugged")                  # the drive goes away
    qtbot.waitUntil(lambda: "offline" in folder_line(window), timeout=INDEX_TIMEOUT_MS)
    line = folder_line(window)
    assert "13 photos" in line and "last seen" in line and "removed" not in line
    assert library.count() == 13
    shot(window, "offline.png")
    assert window.isVisible()


def test_settings_hold_watch_rescan_interval_and_tombstone_age(qtbot, tmp_path):
    settings_store = QSettings(str(tmp_path / "fresh.ini"), QSettings.Format.IniFormat)
    assert load_settings(settings_store).watch is True               # on by default
    dialog = SettingsDialog(AppSettings(watch=False, rescan_minutes=15, tombstone_days=7), {})
    qtbot.addWidget(dialog)
    dialog.show()
    shot(dialog, "settings.png")
    got = dialog.result_settings()
    assert (got.watch, got.rescan_minutes, got.tombstone_days) == (False, 15, 7)
    dialog.watch.setChecked(True)
    dialog.tombstone_days.setValue(45)
    save_settings(settings_store, dialog.result_settings())
    again = load_settings(settings_store)
    assert (again.watch, again.rescan_minutes, again.tombstone_days) == (True, 15, 45)


def test_result_tooltips_say_not_connected_and_name_the_raw_sibling(qtbot, tmp_path):
    from PIL import Image
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage

    from clipcore.search import Hit
    from desktop.models.results import ResultsModel
    from tests.helpers.dng import write_dng

    picture = Image.new("RGB", (64, 48), "orange")
    picture.save(tmp_path / "IMG_7.JPG")
    write_dng(tmp_path / "IMG_7.CR2", picture)          # the camera's RAW twin
    away = str(tmp_path / "unplugged" / "p.jpg")
    model = ResultsModel(icon_side=64)
    model.set_hits([Hit(1, str(tmp_path / "IMG_7.JPG"), 0.9), Hit(2, away, 0.8, offline=True)])
    tips = {model.hit(r).path: model.data(model.index(r), Qt.ItemDataRole.ToolTipRole)
            for r in range(model.rowCount())}
    assert "RAW: IMG_7.CR2" in tips[str(tmp_path / "IMG_7.JPG")]
    assert "Drive not connected" in tips[away]
    thumb = QImage(64, 48, QImage.Format.Format_RGB32)
    thumb.fill(Qt.GlobalColor.red)
    model.set_thumbnail(away, thumb)                      # an offline photo's tile is grey
    shown = model.data(model.index([model.hit(r).path for r in range(2)].index(away)),
                       Qt.ItemDataRole.DecorationRole).toImage()
    colour = shown.pixelColor(10, 10)
    assert colour.red() == colour.green() == colour.blue()
