"""The duplicate review: found in a worker (signals, not sleeps), the suggested keeper marked,
the others moved to the Trash only after a confirmation, the catalog updated, Cancel."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from desktop.explore.duplicates_view import DuplicatesView
from tests.desktop.explore_fixtures import context_for, dup_library, save_shot  # noqa: F401

FIND_MS = 120_000


def _view(qtbot, library, context_for):  # noqa: F811
    view = DuplicatesView(context_for(library))
    qtbot.addWidget(view)
    view.resize(1000, 560)
    view.show()
    return view


def test_review_suggests_the_largest_and_trashes_the_others(qtbot, dup_library, context_for,  # noqa: F811
                                                            tmp_path, monkeypatch):
    view = _view(qtbot, dup_library, context_for)
    with qtbot.waitSignal(view.found, timeout=FIND_MS) as found:
        view.find_button.click()
    assert found.args == [2] and view.list.count() == 2
    names = {os.path.basename(g.paths[0]): g for g in view.groups}
    assert "img0000-large.png" in names          # most pixels is the suggested keeper
    row = view.groups.index(names["img0000-large.png"])
    view.list.setCurrentRow(row)
    assert os.path.basename(view.kept_path()) == "img0000-large.png"
    qtbot.waitUntil(lambda: all(not lbl.pixmap().isNull() for lbl in view._pictures.values()),
                    timeout=30_000)
    save_shot(view, "duplicates-review.png")

    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Yes)
    kept = view.kept_path()
    gone = [p for p in view.groups[row].paths if p != kept]
    with qtbot.waitSignal(view.trashed, timeout=30_000) as trashed:
        view.trash_button.click()
    assert asked and trashed.args[0] == gone
    assert Path(kept).exists() and not any(Path(p).exists() for p in gone)
    assert sorted(p.name for p in (tmp_path / "xdg" / "Trash" / "files").iterdir()) == \
        sorted(os.path.basename(p) for p in gone)          # in the Trash, not deleted
    assert dup_library.find_image(gone[0]) is None          # the catalog forgot it
    assert view.list.count() == 1
    view.shutdown()


def test_declining_the_confirmation_moves_nothing(qtbot, dup_library, context_for, monkeypatch):  # noqa: F811
    view = _view(qtbot, dup_library, context_for)
    with qtbot.waitSignal(view.found, timeout=FIND_MS):
        view.find_button.click()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    paths = list(view.groups[0].paths)
    view.trash_button.click()
    assert all(Path(p).exists() for p in paths) and view.list.count() == 2
    assert all(dup_library.find_image(p) is not None for p in paths)
    view.shutdown()


def test_cancel_stops_the_search_and_changes_nothing(qtbot, dup_library, context_for, monkeypatch):  # noqa: F811
    import threading

    import clipcore.duplicates as duplicates

    started, release = threading.Event(), threading.Event()
    real = duplicates.neighbour_pairs

    def held(*args, **kwargs):        # hold the job until Cancel was pressed
        started.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(duplicates, "neighbour_pairs", held)
    view = _view(qtbot, dup_library, context_for)
    view.find_button.click()
    assert started.wait(30) and view.job.cancel_button.isVisible()
    with qtbot.waitSignal(view.job.finished, timeout=FIND_MS) as ended:
        view.job.cancel_button.click()
        release.set()
    assert ended.args == ["cancelled"] and "Cancelled" in view.job.status.text()
    assert view.find_button.isEnabled() and view.list.count() == 0
    view.shutdown()
