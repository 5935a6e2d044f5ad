"""Tags: the editor's live preview (scored in a worker, counted as the slider moves) tags
exactly what Save then stores; tags are listed as smart albums with counts, and opening one
runs `tag:NAME`. Signals, not sleeps."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from clipcore.tags import tag_members
from desktop.explore.tags_view import TagsView
from tests.desktop.explore_fixtures import context_for, photo_library, save_shot  # noqa: F401

JOB_MS = 120_000


def test_preview_save_list_and_open_a_tag(qtbot, photo_library, context_for, monkeypatch):  # noqa: F811
    context = context_for(photo_library)
    view = TagsView(context)
    qtbot.addWidget(view)
    view.show()
    with qtbot.waitSignal(view.loaded, timeout=JOB_MS) as loaded:
        view.refresh()
    assert loaded.args == [0] and "No tags yet" in view.job.status.text()

    editor = view.edit(None)
    editor.name.setText("bright")
    with qtbot.waitSignal(editor.previewed, timeout=JOB_MS):   # typing scores (debounced)
        editor.words.setText("a bright colourful photo")
    assert len(editor.z) == 36
    counts = {}
    for value in (editor.slider.minimum(), editor.slider.maximum(), 5):   # z -2.0, 8.0, 0.5
        with qtbot.waitSignal(editor.previewed, timeout=JOB_MS) as shown:
            editor.slider.setValue(value)
        counts[value] = shown.args[0]
        assert f"<b>{counts[value]:,}</b> of 36 photos" in editor.count.text()
    assert counts[editor.slider.minimum()] >= counts[5] >= counts[editor.slider.maximum()]
    assert editor.above[1].count() == min(counts[5], 18)
    assert editor.below[1].count() == min(36 - counts[5], 9)
    qtbot.waitUntil(editor.thumbnails_shown, timeout=30_000)
    save_shot(editor, "tag-editor.png")

    with qtbot.waitSignal(view.loaded, timeout=JOB_MS):                # saved, list refreshed
        with qtbot.waitSignal(editor.saved, timeout=JOB_MS) as saved:
            editor.save_button.click()
    assert saved.args == ["bright", counts[5]]
    assert len(tag_members(photo_library, "bright")) == counts[5]       # preview == stored
    item = view.list.item(0)
    assert item.text().startswith("bright") and f"{counts[5]} photo" in item.text()
    save_shot(view, "tags-smart-albums.png")

    with qtbot.waitSignal(view.opened, timeout=5_000) as opened:
        view.list.itemActivated.emit(item)
    assert opened.args == ["tag:bright"] and context.searched == ["tag:bright"]

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    view.list.setCurrentRow(0)
    with qtbot.waitSignal(view.loaded, timeout=JOB_MS) as after:
        view.remove_button.click()
    assert after.args == [0] and photo_library.catalog.tag("bright") is None
    view.shutdown()


def test_a_bad_name_is_explained_and_nothing_is_saved(qtbot, photo_library, context_for):  # noqa: F811
    view = TagsView(context_for(photo_library))
    qtbot.addWidget(view)
    editor = view.edit(None)
    editor.name.setText("no spaces please")
    editor.words.setText("a photo")
    editor.save_button.click()
    assert "cannot be a tag name" in editor.job.status.text()
    assert editor.isVisible() and photo_library.catalog.tags() == []
    editor.reject()
    view.shutdown()
