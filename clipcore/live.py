"""``clipcore watch``: keep library folders indexed from a terminal until Ctrl+C.

The CLI's driver of :class:`clipcore.watch.Watcher`: the model is loaded once, each batch is
one ``index_folders`` run (the writer lock is held only during the run), and a one-line report
is printed for each run that changed something.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable, TextIO

from .indexer import IndexSummary, index_folders
from .textout import shown
from .watch import Batch, FolderWatch, Watcher

__all__ = ["LiveIndex", "run_watch", "summary_line"]


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
        assert summary is not None, "an index run ends with its DONE event"
        self.summaries.append(summary)
        if self.on_summary is not None:
            self.on_summary(summary)
        return summary

    def start(self) -> None:
        self.watcher.start()

    def stop(self) -> None:
        self.cancel.set()
        self.watcher.stop()


def run_watch(library, folders: list[str], spec, encoder, *, rescan_seconds: float,
              out: TextIO = sys.stdout, stop: threading.Event | None = None) -> None:
    """Catch up once, then watch ``folders`` until ``stop`` is set or Ctrl+C
    (KeyboardInterrupt in the calling thread); prints a line per run that changed something."""
    def report(summary: IndexSummary) -> None:
        line = summary_line(summary)
        if line:
            print(f"{time.strftime('%H:%M:%S')}  {line} ({summary.seconds:.1f} s)", file=out,
                  flush=True)

    def states(st: dict[str, FolderWatch]) -> None:
        for path, w in st.items():
            if w.mode != "watching":
                print(f"{time.strftime('%H:%M:%S')}  {shown(path)}: {w.mode}"
                      + (f" ({shown(w.reason)})" if w.reason else ""), file=out, flush=True)

    live = LiveIndex(library, folders, spec, encoder, on_summary=report, on_state=states,
                     rescan_seconds=rescan_seconds)
    print(f"Catching up with changes since the last run in {len(folders)} folder"
          f"{'s' * (len(folders) != 1)} ...", file=sys.stderr, flush=True)
    live.run(Batch(tuple(folders)))
    live.start()
    print(f"Watching {len(folders)} folder{'s' * (len(folders) != 1)} for new, changed and "
          "removed photos; Ctrl+C stops.", file=out, flush=True)
    try:
        (stop or threading.Event()).wait()
    finally:
        live.stop()


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
        try:
            run_watch(library, folders, spec, encoder, rescan_seconds=args.rescan_minutes * 60)
        except KeyboardInterrupt:
            print("Stopped watching; the library is up to date with what was seen.")
    return 0
