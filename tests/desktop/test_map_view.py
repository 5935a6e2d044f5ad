"""The map: the PCA layout first, then UMAP in the background with Cancel keeping the PCA one;
dots when zoomed out, thumbnails when zoomed in; a search highlights its hits; a rubber band
selects photos for "More like these" and copy. Signals, not sleeps."""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QGuiApplication, QMouseEvent
from PySide6.QtWidgets import QApplication
from PySide6.QtTest import QTest

from desktop.explore.map_canvas import SIDE
from desktop.explore.map_view import MapView
from tests.desktop.explore_fixtures import context_for, photo_library, save_shot  # noqa: F401

JOB_MS = 120_000


def _mouse(widget, kind, pos, button, buttons, modifiers) -> None:
    local = QPointF(pos)
    QApplication.sendEvent(widget, QMouseEvent(kind, local, QPointF(widget.mapToGlobal(pos)),
                                               button, buttons, modifiers))


def _view(qtbot, context):
    view = MapView(context)
    qtbot.addWidget(view)
    view.resize(900, 640)
    view.show()
    return view


def test_dots_zoom_to_thumbnails_highlight_and_select(qtbot, photo_library, context_for,  # noqa: F811
                                                      monkeypatch):
    import desktop.explore.map_canvas as map_canvas

    monkeypatch.setattr(map_canvas, "MAX_THUMBS", 8)   # 36 photos: a "big" map at this scale
    context = context_for(photo_library)
    context.more_liked = []
    context.more_like = context.more_liked.append
    view = _view(qtbot, context)
    with qtbot.waitSignal(view.laid_out, timeout=JOB_MS) as laid:
        view.draw_button.click()
    assert laid.args == ["pca", 36] and len(view.canvas.dots.xy) == 36   # < 200 photos: PCA only
    xy = view.canvas.dots.xy
    assert xy.min() >= 0 and xy.max() <= SIDE and np.ptp(xy[:, 0]) > SIDE / 2
    qtbot.waitUntil(lambda: not view.canvas._lod.isActive(), timeout=5_000)
    assert not view.canvas.thumb_items           # zoomed out: 36 photos in view > 8: dots
    save_shot(view, "map-zoomed-out-small.png")

    canvas, at = view.canvas, QPointF(*xy[0])
    while len(canvas.visible_rows()) > 8:        # zoom in on one photo
        canvas.zoom(1.5, at)
    with qtbot.waitSignal(canvas.zoomed, timeout=5_000) as zoomed:
        pass
    assert zoomed.args == [True]
    visible = set(canvas.visible_rows().tolist())
    qtbot.waitUntil(lambda: set(canvas.thumb_items) == visible, timeout=30_000)
    canvas.fit_all()                             # zoomed out again: thumbnails go
    qtbot.waitUntil(lambda: not canvas.thumb_items, timeout=5_000)

    with qtbot.waitSignal(view.highlighted, timeout=JOB_MS) as lit:   # a search on the map
        view.query.setText("a photo")
        QTest.keyClick(view.query, Qt.Key.Key_Return)
    assert lit.args[0] == 36 and len(view.hit_rows) == 36   # k=200 >= every photo

    # a rubber band over the left half of the map (as Shift + drag ends)
    left = np.flatnonzero(xy[:, 0] < SIDE / 2)
    with qtbot.waitSignal(view.selection_changed, timeout=5_000) as picked:
        canvas.select_rect(QRectF(-20, -20, SIDE / 2 + 20, SIDE + 40))
    assert picked.args == [len(left)] and sorted(view.picked_rows) == left.tolist()
    view.copy_button.click()
    qtbot.waitUntil(lambda: "Copied" in view.job.status.text(), timeout=30_000)
    copied = QGuiApplication.clipboard().mimeData().text().splitlines()
    assert sorted(copied) == sorted(photo_library.images(view.selected_ids())[i].path
                                    for i in range(len(left)))
    view.more_button.click()
    qtbot.waitUntil(lambda: bool(context.more_liked), timeout=30_000)
    assert sorted(h.id for h in context.more_liked[0]) == sorted(view.selected_ids())
    view.shutdown()


def test_a_rubber_band_drag_with_shift_selects(qtbot, photo_library, context_for):  # noqa: F811
    view = _view(qtbot, context_for(photo_library))
    with qtbot.waitSignal(view.laid_out, timeout=JOB_MS):
        view.draw_button.click()
    canvas = view.canvas
    vp = canvas.viewport()
    start, end = QPoint(2, 2), QPoint(vp.width() - 2, vp.height() - 2)
    shift, left = Qt.KeyboardModifier.ShiftModifier, Qt.MouseButton.LeftButton
    with qtbot.waitSignal(view.selection_changed, timeout=5_000) as picked:
        _mouse(vp, QEvent.Type.MouseButtonPress, start, left, left, shift)
        for step in (0.3, 0.7, 1.0):        # moves with the button held (QTest's carry none)
            at = start + (end - start) * step
            _mouse(vp, QEvent.Type.MouseMove, at, Qt.MouseButton.NoButton, left, shift)
        _mouse(vp, QEvent.Type.MouseButtonRelease, end, left, Qt.MouseButton.NoButton, shift)
    band = QRectF(canvas.mapToScene(start), canvas.mapToScene(end)).normalized()
    xy = canvas.dots.xy
    inside = np.flatnonzero((xy[:, 0] >= band.left()) & (xy[:, 0] <= band.right())
                            & (xy[:, 1] >= band.top()) & (xy[:, 1] <= band.bottom()))
    assert picked.args == [len(inside)] and sorted(view.picked_rows) == inside.tolist()
    assert len(inside) >= 30                      # the band covered (nearly) the whole map
    view.shutdown()


def test_umap_follows_pca_and_cancel_keeps_pca(qtbot, photo_library, context_for, monkeypatch):  # noqa: F811
    """With >= 200 photos the UMAP fit follows the PCA layout; Cancel keeps the PCA map."""
    import clipcore.libmap as libmap
    from clipcore.jobs import check_cancel

    monkeypatch.setattr(libmap, "UMAP_FROM", 10)     # 36 photos count as a big library
    started, release = threading.Event(), threading.Event()
    real = libmap.fit_layout

    def held(ids, vectors, method="auto", **kw):
        if method != "pca":
            started.set()
            release.wait(30)
            check_cancel(kw.get("cancel"))
        return real(ids, vectors, "pca", **kw)

    monkeypatch.setattr(libmap, "fit_layout", held)
    view = _view(qtbot, context_for(photo_library))
    with qtbot.waitSignal(view.laid_out, timeout=JOB_MS):
        view.draw_button.click()
    assert started.wait(30) and view.job.cancel_button.isVisible()
    with qtbot.waitSignal(view.job.finished, timeout=JOB_MS) as ended:
        view.job.cancel_button.click()
        release.set()
    assert ended.args == ["cancelled"] and view.method == "pca"
    assert "PCA" in view.job.status.text() and len(view.canvas.dots.xy) == 36
    view.shutdown()
