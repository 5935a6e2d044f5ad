"""Start-up: time from launching clipdesk to a visible window whose event loop is running.

Each run is a fresh process (``QT_QPA_PLATFORM=offscreen``, empty data/cache/settings dirs,
``CLIPDESK_MODEL`` = the default model with random weights, so the model really loads in the
background meanwhile). The process runs ``desktop.app.main()`` unchanged; a wrapper around
``QApplication.exec`` queues a zero-delay timer, which fires once the event loop is
processing events with the main window shown: that moment, measured from just before the
parent started the process, is the start-up time. The process then quits.

Run: ``python -m benchmarks.startup [--runs 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from benchmarks.common import REPO_ROOT, Report, base_parser, percentile

TARGET_SECONDS = 2.0


def child(launched: float) -> None:
    """Run the app; print when its window is shown and the event loop runs, then quit."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop import app

    def usable():
        windows = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
        print(json.dumps({"seconds": time.time() - launched, "visible_windows": len(windows),
                          "torch_imported": "torch" in sys.modules}), flush=True)
        QApplication.exit(0)
        os._exit(0)   # do not wait for the background model load to finish

    real_exec = QApplication.exec

    def exec_and_report(*_args):
        QTimer.singleShot(0, usable)
        return real_exec()

    QApplication.exec = exec_and_report
    sys.exit(app.main([]))   # no command-line arguments: no folders


def launch(model_config: str, timeout: float) -> dict:
    """One fresh start-up in private directories; the child's JSON line."""
    with tempfile.TemporaryDirectory(prefix="clipdesk-bench-startup-") as tmp:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1",
                   CLIPDESK_MODEL=model_config, CLIPDESK_DATA_DIR=f"{tmp}/data",
                   CLIPDESK_CACHE_DIR=f"{tmp}/cache", XDG_CONFIG_HOME=f"{tmp}/config")
        launched = time.time()
        out = subprocess.run([sys.executable, "-m", "benchmarks.startup", "--child",
                              repr(launched)], cwd=REPO_ROOT, env=env, capture_output=True,
                             text=True, timeout=timeout)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"clipdesk did not show its window:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> str:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="model loaded in the background")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per start")
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child)
        return ""

    from benchmarks.models import random_weight_spec

    config = random_weight_spec(args.model).name
    runs = [launch(config, args.timeout) for _ in range(args.runs)]
    seconds = [r["seconds"] for r in runs]
    report = Report("Start-up")
    report.emit(f"`clipdesk` (desktop.app.main) in a fresh process, offscreen Qt, empty library, "
                f"model {args.model} (random weights) loading in the background; {args.runs} "
                "runs (the first may include reading files into the OS cache).\n")
    report.table(["run", "launch -> window shown, event loop running (s)", "visible windows",
                  "torch imported by then"],
                 [[i + 1, f"{r['seconds']:.2f}", r["visible_windows"],
                   "yes" if r["torch_imported"] else "no"] for i, r in enumerate(runs)])
    median = percentile(seconds, 50)
    report.target(f"start-up <= {TARGET_SECONDS:.0f} s (median of {args.runs})",
                  f"{median:.2f} s", median <= TARGET_SECONDS
                  and all(r["visible_windows"] >= 1 for r in runs))
    return report.text()


if __name__ == "__main__":
    main(sys.argv[1:])
