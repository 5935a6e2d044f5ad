"""The settings and skipped-files dialogs, and the result actions "Show in folder" and
"Copy path": what the user sees and what reaches the system (file URLs, the clipboard)."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QObject, QTimer, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLabel, QPushButton

from desktop.settings import AppSettings, load_settings
from desktop.widgets.settings_dialog import SettingsDialog
from desktop.widgets.skipped_dialog import SkippedDialog
from tests.desktop.helpers import index_folder, search_text


class _UrlCatcher(QObject):
    """Receives what QDesktopServices.openUrl would hand to the desktop for file:// URLs."""

    def __init__(self):
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


@pytest.fixture
def opened_urls():
    catcher = _UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    yield catcher.urls
    QDesktopServices.unsetUrlHandler("file")


def _action(menu, text):
    return next(a for a in menu.actions() if a.text() == text)


# ------------------------------------------------------------------ the settings dialog

def test_settings_dialog_edits_a_copy_and_returns_what_the_user_chose(qtbot, monkeypatch):
    before = AppSettings(preset="custom-one", device="cpu", result_count=50, exclude=["/photos/a"])
    dialog = SettingsDialog(before, {"default": "The default model.", "shapes": "Tiny shapes."})
    qtbot.addWidget(dialog)

    presets = [dialog.preset.itemText(i) for i in range(dialog.preset.count())]
    assert presets == ["default", "shapes", "custom-one"]   # the current one is still offered
    assert dialog.preset.currentText() == "custom-one"
    assert dialog.result_settings() == before               # untouched: the same settings

    dialog.preset.setCurrentText("shapes")
    assert dialog.note.text().startswith("Tiny shapes.") and "re-indexes" in dialog.note.text()
    dialog.device.setCurrentText("auto")
    dialog.result_count.setValue(300)
    monkeypatch.setattr("desktop.widgets.settings_dialog.QFileDialog.getExistingDirectory",
                        lambda *_args, **_kw: "/photos/b")
    buttons = {b.text(): b for b in dialog.findChildren(QPushButton)}
    buttons["Add…"].click()
    dialog.exclude.item(0).setSelected(True)                 # "/photos/a"
    buttons["Remove"].click()

    assert dialog.result_settings() == AppSettings(preset="shapes", device="auto",
                                                   result_count=300, exclude=["/photos/b"])
    assert before.exclude == ["/photos/a"]                   # the caller's copy is unchanged


def test_settings_from_the_window_are_applied_and_saved(launch, qtbot, settings_store):
    window = launch()

    def choose_and_accept():
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, SettingsDialog)
        dialog.result_count.setValue(77)
        dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()

    QTimer.singleShot(0, choose_and_accept)
    window.open_settings()          # modal: returns when the dialog is accepted

    assert window.controller.settings.result_count == 77
    assert load_settings(settings_store).result_count == 77


def test_cancelling_the_settings_changes_nothing(launch, qtbot, settings_store):
    window = launch()
    before = window.controller.settings.result_count

    def change_and_cancel():
        dialog = QApplication.activeModalWidget()
        dialog.result_count.setValue(before + 5)
        dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Cancel).click()

    QTimer.singleShot(0, change_and_cancel)
    window.open_settings()
    assert window.controller.settings.result_count == before
    assert load_settings(settings_store).result_count == before


# ------------------------------------------------------------------ the skipped-files dialog

class _Row:
    def __init__(self, path, skip_reason):
        self.path, self.skip_reason = path, skip_reason


def test_skipped_dialog_lists_each_file_with_its_reason(qtbot):
    dialog = SkippedDialog([_Row("/p/a.jpg", "file is empty"), _Row("/p/b.png", None)])
    qtbot.addWidget(dialog)
    table = dialog.table
    rows = [(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())]
    assert rows == [("/p/a.jpg", "file is empty"), ("/p/b.png", "unknown")]
    text = " ".join(label.text() for label in dialog.findChildren(QLabel))
    assert "2 files could not be indexed" in text and "remove them" in text

    one = SkippedDialog([_Row("/p/a.jpg", "permission denied")])
    qtbot.addWidget(one)
    assert "1 file could not be indexed" in " ".join(x.text() for x in one.findChildren(QLabel))


def test_skipped_files_from_the_library_panel(launch, qtbot, photos):
    folder, _ = photos
    (folder / "notes.jpg").write_text("this is not a photo")
    (folder / "empty.png").touch()
    window = launch()
    index_folder(qtbot, window, folder)

    with qtbot.waitSignal(window.controller.skipped_ready, timeout=30_000):
        window.library_panel.skipped_requested.emit()
    qtbot.waitUntil(lambda: window.findChild(SkippedDialog) is not None)
    dialog = window.findChild(SkippedDialog)
    assert dialog.isVisible()
    table = dialog.table
    shown = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert shown.keys() == {str(folder / "notes.jpg"), str(folder / "empty.png")}
    assert "empty" in shown[str(folder / "empty.png")]
    assert "not an image" in shown[str(folder / "notes.jpg")]


# ------------------------------------------------------------------ Show in folder / Copy path

@pytest.fixture
def results(launch, qtbot, photos):
    folder, _ = photos
    window = launch()
    index_folder(qtbot, window, folder)
    hits = search_text(qtbot, window, "a red square")
    return window, hits


def test_show_in_folder_opens_the_photos_folder_and_open_opens_the_photo(results, opened_urls):
    window, hits = results
    menu = window.results_view.build_menu(window.results_model.index(2))
    _action(menu, "Show in folder").trigger()
    _action(menu, "Open").trigger()
    assert [u.toLocalFile() for u in opened_urls] == [os.path.dirname(hits[2].path), hits[2].path]


def test_copy_path_puts_the_path_on_the_clipboard_as_text_and_url(results, qtbot):
    window, hits = results
    _action(window.results_view.build_menu(window.results_model.index(1)), "Copy path").trigger()
    mime = QGuiApplication.clipboard().mimeData()
    assert mime.text() == hits[1].path
    assert [u.toLocalFile() for u in mime.urls()] == [hits[1].path]


def test_copy_path_on_a_selection_copies_every_selected_photo(results, qtbot):
    window, hits = results
    view, model = window.results_view, window.results_model
    selection = view.selectionModel()
    for row in (3, 0):
        selection.select(model.index(row), selection.SelectionFlag.Select)
    _action(view.build_menu(model.index(3)), "Copy path").trigger()
    mime = QGuiApplication.clipboard().mimeData()
    assert mime.text().splitlines() == [hits[0].path, hits[3].path]
    assert [u.toLocalFile() for u in mime.urls()] == [hits[0].path, hits[3].path]
