"""``clipcore watch``: keep library folders indexed from a terminal until Ctrl+C.

The CLI's driver of :class:`clipcore.watch.Watcher`: the model is loaded once, each batch is
one ``index_folders`` run (the writer lock is held only during the run), and a one-line report
is printed for each run that changed something.

Stopping: Ctrl+C or SIGTERM (``kill``, a service manager) sets the run's cancel event
(:class:`clipcore.interrupts.CancelOnSignals`, installed whatever SIGINT's inherited
disposition), so a run in progress stops after its current batch and commits it; the watch
then stops and the command exits, waiting at most :data:`STOP_SECONDS` for the run. A second
Ctrl+C stops at once (what was committed is kept either way).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Callable, TextIO

from .indexer import IndexSummary, index_folders
from .interrupts import CancelOnSignals
from .textout import shown
from .watch import Batch, FolderWatch, Watcher

__all__ = ["LiveIndex", "run_watch", "summary_line", "STOP_SECONDS"]

#: Seconds a stop waits for the run in progress to reach the end of its batch and commit.
STOP_SECONDS = 10.0
#: The idle main thread looks at the stop requests this often (a signal handler only sets an
#: event; waiting on that same event from the signalled thread could deadlock on its lock).
_WAKE_SECONDS = 0.25
#: Exit code when a run did not stop in time and the process quit without it (as Ctrl+C: 130).
EXIT_ABANDONED = 130


def summary_line(s: IndexSummary) -> str | None:
    """'3 new, 1 removed, 2 moved' for a run that changed something, else None."""
    parts = [f"{n:,} {what}" for n, what in ((s.new, "new"), (s.restored, "restored"),
                                            (s.changed, "changed"), (s.moved, "moved"),
                                            (s.removed, "removed"), (s.skipped, "skipped"))
             if n]
    parts += [f"{path} offline ({reason})" for path, reason in s.offline.items()]
    return ", ".join(parts) or None


class LiveIndex:
    """A Watcher over a Library whose batches are index runs with one loaded ``encoder``.

    ``on_summary(summary)`` is called after each run (from the watcher's thread).
    ``cancel`` (threading.Event) stops a run between batches when set. Keyword arguments go
    to :class:`Watcher` (rescan_seconds, quiet_seconds, ...)."""

    def __init__(self, library, folders: list[str], spec, encoder, *,
                 on_summary: Callable[[IndexSummary], None] | None = None,
                 on_state: Callable[[dict[str, FolderWatch]], None] | None = None,
                 cancel: threading.Event | None = None, **watch_options):
        self.library, self.spec, self.encoder = library, spec, encoder
        self.on_summary, self.cancel = on_summary, cancel or threading.Event()
        self.summaries: list[IndexSummary] = []
        self.progress = (0, 0)          # (done, total) photos of the latest run
        self.watcher = Watcher(folders, self.run, is_offline=self._offline, on_state=on_state,
                               **watch_options)

    def _offline(self, folder: str) -> bool:
        return folder in self.library.offline_folders()

    def run(self, batch: Batch) -> IndexSummary:
        """One index run over ``batch`` (the Watcher's callback)."""
        summary = None
        for event in index_folders(self.library, list(batch.folders), self.spec,
                                   encoder=self.encoder, cancel=self.cancel, defer=batch.defer):
            if event.phase == "done":
                summary = event.summary
            elif event.total:
                self.progress = (event.done, event.total)
        assert summary is not None, "an index run ends with its DONE event"
        self.summaries.append(summary)
        if self.on_summary is not None:
            self.on_summary(summary)
        return summary

    def start(self) -> None:
        self.watcher.start()

    def stop(self, timeout: float | None = STOP_SECONDS) -> bool:
        """Cancel the run in progress (it stops after its current batch and commits it) and
        stop watching, waiting up to ``timeout`` s. False when the run had not ended by then
        (it goes on in a daemon thread; what it commits is kept)."""
        self.cancel.set()
        return self.watcher.stop(timeout)


def run_watch(library, folders: list[str], spec, encoder, *, rescan_seconds: float,
              out: TextIO = sys.stdout, stop: threading.Event | None = None,
              cancel: threading.Event | None = None) -> bool:
    """Catch up once, then watch ``folders`` until ``stop`` is set (by another thread) or
    ``cancel`` (Ctrl+C / SIGTERM through :class:`~clipcore.interrupts.CancelOnSignals`; it
    also stops a run in progress after its current batch). Prints a line per run that changed
    something. Returns True when the library is up to date with what was seen (no run was cut
    short)."""
    def report(summary: IndexSummary) -> None:
        line = summary_line(summary)
        if summary.cancelled:
            done, total = live.progress
            line = (f"stopped after {done:,} of {total:,} photos" if total else
                    "stopped before any photo was indexed") + (f" ({line})" if line else "")
        if line:
            print(f"{time.strftime('%H:%M:%S')}  {line} ({summary.seconds:.1f} s)", file=out,
                  flush=True)

    def states(st: dict[str, FolderWatch]) -> None:
        for path, w in st.items():
            if w.mode != "watching":
                print(f"{time.strftime('%H:%M:%S')}  {shown(path)}: {w.mode}"
                      + (f" ({shown(w.reason)})" if w.reason else ""), file=out, flush=True)

    live = LiveIndex(library, folders, spec, encoder, on_summary=report, on_state=states,
                     rescan_seconds=rescan_seconds, cancel=cancel)
    stop = stop or threading.Event()
    print(f"Catching up with changes since the last run in {len(folders)} folder"
          f"{'s' * (len(folders) != 1)} ...", file=sys.stderr, flush=True)
    live.run(Batch(tuple(folders)))
    try:
        if not live.cancel.is_set():
            live.start()
            print(f"Watching {len(folders)} folder{'s' * (len(folders) != 1)} for new, changed "
                  "and removed photos; Ctrl+C stops.", file=out, flush=True)
        while not (live.cancel.is_set() or stop.is_set()):
            stop.wait(_WAKE_SECONDS)
    except BaseException as exc:   # a second Ctrl+C (KeyboardInterrupt) stops at once
        live.stop(0.0 if isinstance(exc, KeyboardInterrupt) else STOP_SECONDS)
        raise
    if not live.stop():
        # Never wait longer: the interpreter's exit would wait on the run's decode threads.
        print(f"clipcore: the index run in progress did not stop within {STOP_SECONDS:g} s; "
              "quitting without it (what it committed is kept; the next run does the rest).",
              file=sys.stderr, flush=True)
        out.flush()
        os._exit(EXIT_ABANDONED)
    return not any(s.cancelled for s in live.summaries)


def watch_command(args, open_library, folder_args, model_spec, model_label) -> int:
    """``clipcore watch [DIR...]`` (the CLI passes its helpers). Returns the exit code."""
    from .encoder import Encoder
    from .errors import ClipcoreError

    with open_library(args) as library:
        known = [f.path for f in library.folders()]
        folders = folder_args(args.folders, set(known)) or known
        if not folders:
            raise ClipcoreError(f"The library in {library.data_dir} has no folders yet; give "
                                "one: clipcore watch DIR.")
        spec = model_spec(args, library, indexed=False)
        print(f"Loading model {model_label(spec)} ...", file=sys.stderr)
        encoder = Encoder.load(spec)
        cancel = threading.Event()
        with CancelOnSignals(cancel, (signal.SIGINT, signal.SIGTERM),
                             "clipcore: stopping the watch; a run in progress finishes its "
                             "current batch first (Ctrl+C again to stop now) ..."):
            complete = run_watch(library, folders, spec, encoder, cancel=cancel,
                                 rescan_seconds=args.rescan_minutes * 60)
        print("Stopped watching; " + ("the library is up to date with what was seen." if complete
              else "what was indexed is kept, and the next run indexes the rest."))
    return 0
