"""From file events to settled batches: the batching policy of :class:`clipcore.watch.Watcher`.

Events only say which folders were touched and which photos were being written
(:func:`event_paths`); :class:`Pending` collects them until the burst is quiet
(:meth:`Pending.wait`), and :meth:`Pending.take` turns them into one :class:`Batch`: the
outermost folders touched, and the files still being written (deferred, kept pending). Pure
bookkeeping on monotonic times in seconds: no threads, no watches, no index runs.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Iterable

from watchdog import events as ev

from . import offline
from .filetypes import kind_of_name

__all__ = ["Batch", "Pending", "event_paths", "outermost"]

_WRITES = (ev.FileCreatedEvent, ev.FileModifiedEvent, ev.FileClosedEvent, ev.FileMovedEvent)


@dataclass(frozen=True)
class Batch:
    """One index run asked of the callback: ``folders`` to scan (library folders or folders
    inside them, none inside another); ``defer``: files still being written, to leave alone."""

    folders: tuple[str, ...]
    defer: frozenset[str] = frozenset()


def event_paths(root: str, event: ev.FileSystemEvent) -> tuple[list[str], list[str]]:
    """(folders touched, photo files written) by one watchdog ``event`` under library folder
    ``root``: a deleted folder touches its parent, a move both sides (so the indexer pairs
    them); hidden names and files that are not photos by name are ignored."""
    paths = [os.fsdecode(event.src_path)]
    if isinstance(event, (ev.FileMovedEvent, ev.DirMovedEvent)):
        paths.append(os.fsdecode(event.dest_path))
    touched: list[str] = []
    files: list[str] = []
    for path in paths:
        rel = os.path.relpath(path, root)
        if rel != "." and any(part.startswith(".") for part in rel.split(os.sep)):
            continue                                  # hidden, like the scanner
        if event.is_directory:
            if path == root:
                touched.append(root)                  # the folder itself went away
            else:
                touched.append(os.path.dirname(path))
            continue
        if kind_of_name(os.path.basename(path)) not in ("image", None):
            continue
        touched.append(os.path.dirname(path))
        if isinstance(event, _WRITES) and path == paths[-1]:
            files.append(path)
    return touched, files


@dataclass
class Pending:
    """The changes seen and not yet run."""

    first: float | None = None       # monotonic time of the first event not yet run
    last: float = 0.0                # ... of the latest event
    folders: set[str] = field(default_factory=set)
    files: dict[str, list] = field(default_factory=dict)   # path -> [last write event, closed]
    other: bool = False              # events other than files being written (delete, move...)

    def touch(self, now: float, folders: Iterable[str], other: bool = True) -> None:
        """``folders`` changed at ``now`` (``other``: not only by files being written)."""
        self.first = now if self.first is None else self.first
        self.last = max(self.last, now)
        self.folders.update(folders)
        self.other = self.other or other

    def written(self, now: float, files: Iterable[str], event: ev.FileSystemEvent) -> None:
        """``event`` wrote ``files``: closed after writing or renamed into place makes a file
        complete; any other write starts its stable time again."""
        for path in files:
            entry = self.files.setdefault(path, [now, False])
            if isinstance(event, (ev.FileClosedEvent, ev.FileMovedEvent)):
                entry[1] = True                       # complete (closed, or renamed into place)
            else:
                entry[0], entry[1] = now, False

    def wait(self, now: float, quiet: float, max_wait: float, stable: float) -> float | None:
        """Seconds until a batch is due (<= 0: now), None when nothing is pending: ``quiet``
        after the last event, at most ``max_wait`` after the first; while only files still
        being written are pending, when the first of them may have been ``stable`` long."""
        if self.first is None:
            return None
        if self.other or any(closed or now - last >= stable for last, closed in self.files.values()):
            return min(self.last + quiet, self.first + max_wait) - now
        return min(last for last, _ in self.files.values()) + stable - now

    def take(self, now: float, stable: float, roots: list[str]) -> tuple[Batch | None, Pending]:
        """(the Batch to run or None, what stays pending): files not yet stable are deferred
        and stay pending."""
        defer = {path: entry for path, entry in self.files.items()
                 if not entry[1] and now - entry[0] < stable and _unsettled(path, stable)}
        rest = Pending(now, now, {os.path.dirname(f) for f in defer}, defer) if defer else Pending()
        folders = outermost(self.folders, roots)
        return (Batch(tuple(folders), frozenset(defer)) if folders else None), rest


def _unsettled(path: str, stable: float) -> bool:
    """A file may still be being written: it exists and changed in the last ``stable``
    seconds (a photo moved or copied in with its old mtime is settled)."""
    try:
        return time.time() - os.stat(path).st_mtime < stable
    except OSError:
        return False


def outermost(folders: Iterable[str], roots: list[str]) -> list[str]:
    """The folders inside a root (nearest existing ancestor of each, within its root), with
    those inside another one dropped; sorted."""
    found = set()
    for folder in folders:
        root = next((r for r in roots if offline.inside(folder, r)), None)
        if root is None:
            continue
        while folder != root and not os.path.isdir(folder):
            folder = os.path.dirname(folder)
        found.add(folder)
    return sorted(f for f in found
                  if not any(o != f and offline.inside(f, o) for o in found))
