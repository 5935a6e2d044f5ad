"""The app's threads: results and errors reach the GUI thread, warnings stay the process's own,
an index run that fails still ends, and thumbnails for replaced results are dropped."""

from __future__ import annotations

import threading
import warnings

import pytest

from clipcore.search import Hit
from desktop.workers import IndexWorker, WorkPool


def test_a_warning_in_a_task_is_shown_once_and_the_warnings_setup_is_left_as_it_was(qtbot):
    """Two overlapping tasks (the thumbnail pool always runs two) must not swap the process's
    warning machinery: a warning raised in a task reaches the normal warnings path, and after
    the tasks the filters and ``showwarning`` are the ones from before (superqt 0.9's workers
    fail both)."""
    pool = WorkPool(max_threads=2)
    both_in = threading.Barrier(2, timeout=60)
    first_out = threading.Event()

    def first():
        both_in.wait()
        warnings.warn("from a worker", UserWarning, stacklevel=1)
        first_out.set()

    def second():
        both_in.wait()
        first_out.wait(60)   # leave after the first one: not last-in, first-out

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        before = (warnings.showwarning, list(warnings.filters))
        done = []
        pool.run(first, on_finished=lambda: done.append(1))
        pool.run(second, on_finished=lambda: done.append(2))
        qtbot.waitUntil(lambda: len(done) == 2, timeout=60_000)
        pool.waitForDone()
        assert (warnings.showwarning, list(warnings.filters)) == before
    assert [str(w.message) for w in seen if "worker" in str(w.message)] == ["from a worker"]


def test_a_task_error_reaches_the_gui_thread_as_the_exception(qtbot):
    pool = WorkPool()
    errors = []

    def fail():
        raise RuntimeError("shape mismatch")

    pool.run(fail, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=60_000)
    pool.waitForDone()
    qtbot.waitUntil(lambda: not pool.busy, timeout=60_000)
    assert [str(e) for e in errors] == ["shape mismatch"]


def test_a_runtime_error_in_an_index_run_is_reported_and_the_run_ends(qtbot, tmp_path,
                                                                      monkeypatch, tiny_spec):
    """torch reports out-of-memory and shape errors as RuntimeError: the user gets a sentence
    and ``done(None)``, so the window never waits for the run forever."""
    import clipcore.indexer
    from clipcore.library import Library
    from desktop.workers import ModelLoader

    def broken(*_args, **_kwargs):
        yield from ()
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(clipcore.indexer, "index_folders", broken)
    library = Library.open(tmp_path / "data")
    worker = IndexWorker(library, [str(tmp_path)], ModelLoader(tiny_spec))
    try:
        with qtbot.waitSignal(worker.failed, timeout=60_000) as failed, \
                qtbot.waitSignal(worker.done, timeout=60_000) as done:
            worker.start()
        worker.wait()
    finally:
        library.close()
    assert "CUDA out of memory" in failed.args[0] and done.args == [None]


def test_replacing_the_results_drops_queued_thumbnails_of_the_old_ones(launch, qtbot, photos):
    """A new result list must not wait behind decodes for the list it replaced: only the
    decodes already running (two threads) finish for the old results."""
    _folder, paths = photos
    window = launch()
    gate, started, loaded = threading.Event(), [], []
    inner = window.loader.cache.load

    def gated(path, side):
        started.append(path)
        gate.wait(30)
        loaded.append(path)
        return inner(path, side)

    window.loader.cache.load = gated
    old, new = [str(p) for p in paths[:8]], [str(p) for p in paths[8:]]
    window.controller.results_ready.emit([Hit(i, p, 0.5) for i, p in enumerate(old)], None)
    for row in range(len(old)):   # what the view does for the cells it paints
        window.results_model.thumbnail_wanted.emit(old[row], 160)
    qtbot.waitUntil(lambda: len(started) == 2, timeout=10_000)
    window.controller.results_ready.emit([Hit(i, p, 0.5) for i, p in enumerate(new)], None)
    for path in new:
        window.results_model.thumbnail_wanted.emit(path, 160)
    gate.set()
    qtbot.waitUntil(lambda: all(window.results_model.has_thumbnail(p) for p in new),
                    timeout=30_000)
    window.loader.pool.waitForDone()
    assert len([p for p in loaded if p in old]) == 2


@pytest.mark.parametrize("ext", [".jpe", ".jfif", ".JPG"])
def test_search_by_image_offers_every_indexed_extension(launch, qtbot, photos, monkeypatch, ext):
    """The file dialog's filter comes from clipcore's IMAGE_EXTENSIONS; the chosen file
    becomes the query image."""
    import fnmatch

    from PySide6.QtWidgets import QFileDialog

    from clipcore.imaging import IMAGE_EXTENSIONS

    _folder, paths = photos
    chosen = paths[0].with_suffix(ext)
    chosen.write_bytes(paths[0].read_bytes())
    offered = []

    def fake_dialog(_parent, _title, _dir, filters):
        offered.append(filters)
        return str(chosen), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", fake_dialog)
    window = launch()
    window.actions.search_by_image.trigger()
    images = offered[0].split(";;")[0]
    patterns = images[images.index("(") + 1:images.index(")")].split()
    assert {f"*{e}" for e in IMAGE_EXTENSIONS} <= set(patterns)
    assert any(fnmatch.fnmatch(chosen.name.lower(), p) for p in patterns)   # Qt ignores case
    assert window._query_image == str(chosen) and window.search_bar.chip.isVisible()


def test_the_explore_job_bar_names_the_stage_in_its_status_line_not_inside_the_bar(qtbot):
    """A long stage name ("choosing the number of groups") was cut off inside the narrow
    progress bar; the bar now shows only the percentage and the status line names the stage."""
    from desktop.explore.common import JobBar

    bar = JobBar()
    qtbot.addWidget(bar)
    release = threading.Event()

    def job(cancel, progress):
        progress(1, 4, "choosing the number of groups")
        release.wait(60)
        return "ok"

    bar.run(job, on_done=lambda result: None, message="Reading the groups…")
    qtbot.waitUntil(lambda: "choosing the number of groups" in bar.status.text(), timeout=30_000)
    assert bar.status.text().startswith("Reading the groups…")
    assert bar.bar.format() == "%p%" and bar.bar.value() == 1
    with qtbot.waitSignal(bar.finished, timeout=30_000) as ended:
        release.set()
    assert ended.args == ["done"]
