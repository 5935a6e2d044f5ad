"""The groups list: covers with names and counts, made in a worker (signals, not sleeps), read
back from the cache the second time, and a group opens as hits for the results grid."""

from __future__ import annotations

from desktop.explore.groups_view import GroupsView
from tests.desktop.explore_fixtures import context_for, photo_library, save_shot  # noqa: F401

JOB_MS = 120_000


def test_groups_show_covers_names_and_counts_and_open(qtbot, photo_library, context_for):  # noqa: F811
    context = context_for(photo_library)
    view = GroupsView(context)
    qtbot.addWidget(view)
    view.resize(900, 520)
    view.show()
    with qtbot.waitSignal(view.loaded, timeout=JOB_MS) as loaded:
        view.refresh_button.click()
    n = loaded.args[0]
    assert n >= 1 and view.list.count() == n
    assert sum(len(g.ids) for g in view.groups) == photo_library.count()
    first = view.list.item(0)
    assert view.groups[0].name in first.text() and f"{len(view.groups[0].ids)} photo" in first.text()
    qtbot.waitUntil(view.covers_loaded, timeout=30_000)
    save_shot(view, "groups-list.png")

    with qtbot.waitSignal(view.opened, timeout=JOB_MS) as opened:
        view.list.itemActivated.emit(first)
    label, hits = opened.args
    assert view.groups[0].name in label
    assert [h.id for h in hits] == view.groups[0].ids
    assert context.shown == [(label, hits)]
    assert hits[0].path == first.toolTip().split("cover ")[1]     # the cover comes first

    with qtbot.waitSignal(view.loaded, timeout=JOB_MS):          # the cached groups
        view.refresh_button.click()
    assert view.list.count() == n
    view.shutdown()
