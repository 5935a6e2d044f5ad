"""The Explore menu in the real window: each entry opens its tab; a group opens in the results
grid; a search's hits light up on the map; a tag's smart album runs `tag:NAME`; the Explore
window's jobs stop when the app closes."""

from __future__ import annotations

from tests.desktop.explore_fixtures import save_shot
from tests.desktop.helpers import index_folder, search_text

JOB_MS = 120_000


def test_explore_menu_groups_map_and_tags_in_the_window(launch, qtbot, photos):
    folder, paths = photos
    window = launch()
    index_folder(qtbot, window, folder)
    explore = window.explore
    assert [a.text() for a in window.menuBar().actions()].count("E&xplore") == 1

    explore.groups.trigger()                               # the first visit reads the groups
    ew = explore.window
    qtbot.waitUntil(lambda: ew.groups.list.count() > 0, timeout=JOB_MS)
    assert ew.isVisible() and ew.tabs.currentWidget() is ew.groups
    group = ew.groups.groups[0]
    with qtbot.waitSignal(ew.groups.opened, timeout=JOB_MS):
        ew.groups.list.itemActivated.emit(ew.groups.list.item(0))
    shown = [window.results_model.hit(r).id for r in range(window.results_model.rowCount())]
    assert sorted(shown) == sorted(group.ids) and window.search_bar.text == ""

    with qtbot.waitSignal(ew.map.laid_out, timeout=JOB_MS):
        explore.map.trigger()
    assert ew.tabs.currentWidget() is ew.map and len(ew.map.ids) == len(paths)
    with qtbot.waitSignal(ew.map.highlighted, timeout=JOB_MS) as lit:
        search_text(qtbot, window, "a colourful photo")
    assert lit.args[0] == window.results_model.hit_count > 0    # every hit the search returned
    save_shot(window, "main-window-after-explore.png")

    with qtbot.waitSignal(ew.tags.loaded, timeout=JOB_MS):
        explore.tags.trigger()
    ew.tags.open_tag("nosuchtag")                          # an unknown tag explains itself
    qtbot.waitUntil(lambda: "nosuchtag" in window.empty.title.text() + window.empty.body.text()
                    or "no tag" in window.empty.body.text().lower(), timeout=JOB_MS)
    assert window.search_bar.text == "tag:nosuchtag"
