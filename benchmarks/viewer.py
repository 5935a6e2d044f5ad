"""Viewer: keypress (Space on a result) -> first pixels of a 12 MP JPEG, and the grid meanwhile.

The main window is built as the app builds it (no model is loaded: results are given to the
grid directly) at 1280x800 on Qt's offscreen platform (``QT_SCALE_FACTOR=2`` for HiDPI).
Each run selects a result, sends Space to the grid and waits for the viewer's
``photo_shown`` (emitted from the paint of the decoded photo); between runs Esc returns to
the grid (and the viewer's decode of the neighbour ahead is let finish, as a user pausing
would). Two 4000x3000 JPEGs (quality 90, ~3.3 MB, like a 12 MP phone photo) alternate.
During each run a 5 ms QTimer ticks on the GUI thread: the longest gap between ticks is how
long the grid could not respond (target: the decode happens off the GUI thread).

Run: ``python -m benchmarks.viewer [--runs 20]``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from benchmarks.common import Report, base_parser, percentile   # noqa: E402

FIRST_PIXELS_MS = 300.0
TICK_MS = 5


def _photos(folder: Path, count: int = 2) -> list[Path]:
    import numpy as np
    from PIL import Image

    from benchmarks.synthetic import photo_array

    paths = []
    for i in range(count):
        path = folder / f"photo{i}.jpg"
        if not path.exists():
            Image.fromarray(photo_array(np.random.default_rng(i), 4000, 3000)).save(
                path, quality=90)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> str:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--work-dir", default=None)
    args = parser.parse_args(argv)

    from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from benchmarks.synthetic import work_dir
    from clipcore.library import Library
    from clipcore.search import Hit
    from desktop.controller import Controller
    from desktop.main_window import MainWindow
    from desktop.settings import AppSettings
    from desktop.thumbnails import ThumbnailCache, ThumbnailLoader

    app = QApplication.instance() or QApplication(sys.argv[:1])
    photos = _photos(work_dir(args.work_dir))
    scratch = Path(tempfile.mkdtemp(prefix="viewer-bench-"))
    library = Library.open(scratch / "data")
    window = MainWindow(Controller(library, AppSettings()),
                        ThumbnailLoader(ThumbnailCache(scratch / "cache")), None)
    window.resize(1280, 800)
    window.show()
    hits = [Hit(i + 1, str(p), 0.3, "2021-07-04T18:30:00", 4000, 3000, "exif")
            for i, p in enumerate(photos)]
    window._show_hits(hits)
    window.pages.setCurrentWidget(window.results_view)
    view, viewer = window.results_view, window.browse.viewer
    dpr = viewer.devicePixelRatioF()

    first_ms, stall_ms, sizes = [], [], []
    for run in range(args.runs + 1):                  # run 0 warms up (imports, thread start)
        view.setCurrentIndex(window.results_model.index(run % len(hits)))
        view.setFocus()
        ticks: list[float] = []
        clock = QElapsedTimer()
        timer = QTimer(interval=TICK_MS)
        timer.timeout.connect(lambda: ticks.append(clock.nsecsElapsed() / 1e6))
        loop = QEventLoop()
        done: list[float] = []
        viewer.photo_shown.connect(lambda _p: (done.append(clock.nsecsElapsed() / 1e6),
                                               loop.quit()))
        QTimer.singleShot(30_000, loop.quit)
        timer.start()
        clock.start()
        QTest.keyClick(view, Qt.Key.Key_Space)
        ticks.append(clock.nsecsElapsed() / 1e6)      # the key's own handling counts as a stall
        if not done:
            loop.exec()
        timer.stop()
        viewer.photo_shown.disconnect()
        if not done:
            raise SystemExit("the viewer never showed the photo")
        gaps = [b - a for a, b in zip([0.0] + ticks, ticks + done)]
        if run:
            first_ms.append(done[0])
            stall_ms.append(max(gaps))
            pixmap = viewer.canvas.pixmap
            sizes.append((pixmap.width(), pixmap.height()))
        QTest.keyClick(viewer, Qt.Key.Key_Escape)
        viewer.pool.waitForDone()     # the neighbour decoded ahead: not part of the next run
        app.processEvents()
    window.controller.shutdown()
    library.close()
    from desktop.widgets.viewer import decode_for_screen

    box = viewer._box()
    cpu_ms = []
    for run in range(args.runs):        # the worker's part alone, in CPU time (load-independent)
        c0 = time.process_time()
        decode_for_screen(str(photos[run % len(photos)]), box)
        cpu_ms.append((time.process_time() - c0) * 1e3)

    p = percentile
    report = Report("Viewer: keypress to first pixels")
    report.emit(f"Main window 1280x800, device pixel ratio {dpr:g} (offscreen platform); two "
                f"4000x3000 JPEGs (q90, {photos[0].stat().st_size / 2**20:.1f} MB) alternating, "
                f"{args.runs} runs after a warm-up; decoded to {sizes[0][0]}x{sizes[0][1]} "
                f"(JPEG draft). GUI thread: a {TICK_MS} ms timer; its longest gap per run.\n")
    report.table(["DPR", "first pixels p50 (ms)", "p95 (ms)", "max (ms)",
                  "longest GUI gap p50 (ms)", "longest GUI gap max (ms)",
                  "decode CPU time p50 (ms)"],
                 [[f"{dpr:g}", f"{p(first_ms, 50):.0f}", f"{p(first_ms, 95):.0f}",
                   f"{max(first_ms):.0f}", f"{p(stall_ms, 50):.0f}", f"{max(stall_ms):.0f}",
                   f"{p(cpu_ms, 50):.0f}"]])
    report.target(f"keypress to first pixels p50 <= {FIRST_PIXELS_MS:.0f} ms (DPR {dpr:g})",
                  f"{p(first_ms, 50):.0f} ms", p(first_ms, 50) <= FIRST_PIXELS_MS)
    return report.text()


if __name__ == "__main__":
    print(main())
