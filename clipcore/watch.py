"""Live watch of the library folders: photos added, changed, removed or moved are indexed
without user action (watchdog: inotify on Linux, FSEvents on macOS, ReadDirectoryChangesW on
Windows). Qt-free: ``clipcore watch`` and the desktop app drive the same :class:`Watcher`.

How a change becomes an index run:

1. watchdog reports created / modified / closed-after-write / deleted / moved files and
   folders (opens and reads are not asked for, so the indexer's own reads make no events).
   Hidden names and files that are not photos by name are ignored.
2. The folders touched are collected (a deleted folder: its parent; a move: both sides, so the
   indexer pairs them and the photo keeps its vector).
3. A batch starts once no event came for ``quiet_seconds`` (or ``max_wait_seconds`` after the
   first event of a burst): 5,000 photos copied in are one index run (or a few during a long
   copy), never 5,000. Events that arrive during a run make the next batch.
4. A file is ready when it was closed after writing, or when no event came for it for
   ``stable_seconds`` (a copy over the network, or a writer that keeps the file open). Files not
   ready are *deferred*: the run leaves them alone (not indexed, not removed) and they are
   looked at again later, so a half-copied photo is never indexed as a corrupt file.

Fallbacks: a folder that cannot be watched (the OS refuses more watches: Linux's
``fs.inotify.max_user_watches``; or a network file system, where changes made on other machines
send no events) is rescanned every ``rescan_seconds`` (stat only, cheap for an unchanged
folder) and the reason is logged once. An offline folder (clipcore.offline) is checked every
``check_seconds`` and indexed again (and watched) when it is back.

The watcher holds no lock: the callback takes the library's writer lock only for its run, so
``clipcore search`` and other readers work throughout, and ``clipcore index`` between runs.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from watchdog import events as ev
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from . import offline
from .watch_batches import Batch, Pending, event_paths

__all__ = ["Watcher", "Batch", "FolderWatch", "WATCHING", "RESCANNING", "OFFLINE",
           "filesystem_type", "NETWORK_FILESYSTEMS"]

log = logging.getLogger(__name__)

WATCHING, RESCANNING, OFFLINE = "watching", "rescanning", "offline"

#: File-system types (as in /proc/mounts) whose changes made elsewhere send no local events.
NETWORK_FILESYSTEMS = frozenset(
    "nfs nfs4 cifs smbfs smb3 9p afs ncpfs coda davfs fuse.davfs2 fuse.sshfs sshfs fuse.rclone "
    "glusterfs fuse.glusterfs ceph fuse.ceph lustre gpfs beegfs fuse.s3fs".split())

_EVENTS = [ev.FileCreatedEvent, ev.FileModifiedEvent, ev.FileClosedEvent, ev.FileDeletedEvent,
           ev.FileMovedEvent, ev.DirCreatedEvent, ev.DirDeletedEvent, ev.DirMovedEvent]
_LIMIT_ERRNOS = {errno.ENOSPC, errno.EMFILE, errno.ENFILE, errno.ENOMEM}


@dataclass(frozen=True)
class FolderWatch:
    """How one library folder is kept up to date: ``mode`` WATCHING (events), RESCANNING
    (every ``interval_s`` seconds, because ``reason``) or OFFLINE (``reason``: why; checked
    every ``interval_s`` seconds)."""

    path: str
    mode: str
    reason: str | None = None
    interval_s: float | None = None


def filesystem_type(path: str) -> str | None:
    """The file-system type of the mount holding ``path`` ("ext4", "nfs4", ...) or None."""
    try:
        import psutil

        real = os.path.realpath(path)
        best, kind = "", None
        for part in psutil.disk_partitions(all=True):
            mount = part.mountpoint
            if offline.inside(real, mount) and len(mount) >= len(best):
                best, kind = mount, part.fstype
        return kind
    except Exception:   # no psutil data on this platform: assume a local disk
        return None


class _Handler(ev.FileSystemEventHandler):
    def __init__(self, watcher: "Watcher", root: str):
        self.watcher, self.root = watcher, root

    def on_any_event(self, event: ev.FileSystemEvent) -> None:
        self.watcher._event(self.root, event)


class Watcher:
    """Keeps library folders indexed while it runs (see the module docstring).

    ``folders``: the library folders to watch (absolute paths). ``on_batch(Batch)``: runs one
    index run and returns when it is done (called from the watcher's thread, one at a time;
    an exception is logged and the batch retried after ``check_seconds``). ``is_offline(path)``:
    whether the library holds the folder as offline (after a run). ``on_state(states)``: called
    with {path: FolderWatch} whenever a folder's mode changes. Times are in seconds.
    """

    def __init__(self, folders: Iterable[str], on_batch: Callable[[Batch], object], *,
                 is_offline: Callable[[str], bool] = lambda path: False,
                 on_state: Callable[[dict[str, FolderWatch]], None] | None = None,
                 rescan_seconds: float = 300.0, check_seconds: float = 30.0,
                 quiet_seconds: float = 0.5, max_wait_seconds: float = 5.0,
                 stable_seconds: float = 2.0, observer_factory=Observer):
        self.on_batch, self.is_offline, self.on_state = on_batch, is_offline, on_state
        self.rescan_seconds, self.check_seconds = rescan_seconds, check_seconds
        self.quiet, self.max_wait, self.stable = quiet_seconds, max_wait_seconds, stable_seconds
        self._observer_factory = observer_factory
        self._observer: BaseObserver | None = None
        self._watches: dict[str, ObservedWatch] = {}     # folder -> ObservedWatch
        self._states: dict[str, FolderWatch] = {}
        self._next_visit: dict[str, float] = {}   # folder -> monotonic time of its next rescan
        self._identity: dict[str, tuple | None] = {}   # folder -> (st_dev, st_ino) when watched
        self._next_health = 0.0
        self._folders = [os.path.abspath(f) for f in folders]
        self._pending = Pending()
        self._cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.batches = 0                          # index runs done

    # -- public ------------------------------------------------------------------------
    def start(self) -> None:
        """Start watching (the watches are set up here, in the caller's thread)."""
        self._observer = observer = self._observer_factory()
        observer.start()
        for folder in self._folders:
            self._watch(folder)
        self._publish()
        self._thread = threading.Thread(target=self._loop, name="clipcore-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> bool:
        """Stop watching: waits up to ``timeout`` seconds (None: no limit) in all for a running
        batch to end and for watchdog's threads to close the OS watches. True when all of it
        stopped in time; False when something was still running (left to daemon threads).
        watchdog's own stop joins its threads without a limit, so it runs in a thread of its
        own here and a stop never hangs."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        end = None if timeout is None else time.monotonic() + timeout
        threads = [self._thread] if self._thread is not None else []
        observer = self._observer
        if observer is not None:
            closing = threading.Thread(target=_stop_observer, args=(observer,), daemon=True,
                                       name="clipcore-watch-close")
            closing.start()
            threads.append(closing)
        for thread in threads:
            thread.join(None if end is None else max(0.0, end - time.monotonic()))
        return not any(thread.is_alive() for thread in threads)

    def states(self) -> dict[str, FolderWatch]:
        """{folder: FolderWatch} of every watched library folder."""
        with self._cond:
            return dict(self._states)

    def rescan(self, folder: str | None = None) -> None:
        """Ask for a run over ``folder`` (default: every folder) as soon as possible."""
        with self._cond:
            targets = [folder] if folder else list(self._folders)
            self._pending.touch(time.monotonic(), [os.path.abspath(f) for f in targets])
            self._cond.notify_all()

    # -- watches -----------------------------------------------------------------------
    def _watch(self, folder: str) -> None:
        """Set up the watch of one folder, or its fallback; records its state. Never called
        with ``_cond`` held: watchdog holds its observer's lock while it hands an event to
        :meth:`_event` (which takes ``_cond``), so calling watchdog under ``_cond`` could
        deadlock. Only start() and the watcher's thread call it (they own ``_watches``)."""
        observer = self._observer
        assert observer is not None, "start() makes the observer"
        old = self._watches.pop(folder, None)
        if old is not None:
            try:
                observer.unschedule(old)
            except Exception:
                pass
        known_offline = self.is_offline(folder)
        if known_offline or offline.reachability(folder) is not None:
            self._set(folder, FolderWatch(folder, OFFLINE, self._offline_reason(folder),
                                          self.check_seconds))
            if not known_offline:
                # Gone since the library last looked (unplugged or renamed away as a run
                # ended): a run over it now records it offline, with its photos kept. Without
                # it the folder sat here as offline while the library still showed it indexed.
                with self._cond:
                    self._pending.touch(time.monotonic(), [folder])
            return
        fs = filesystem_type(folder)
        if fs in NETWORK_FILESYSTEMS:
            self._fallback(folder, f"a network folder ({fs}): changes made on other computers "
                                   "send no events")
            return
        try:
            watch = observer.schedule(_Handler(self, folder), folder, recursive=True,
                                      event_filter=_EVENTS)
        except OSError as exc:
            if exc.errno in _LIMIT_ERRNOS:
                why = ("the system refuses more watches (raise fs.inotify.max_user_watches "
                       "to watch it live)")
            else:
                why = f"it cannot be watched ({exc.strerror or exc})"
            self._fallback(folder, why)
            return
        self._watches[folder] = watch
        self._set(folder, FolderWatch(folder, WATCHING))

    def _fallback(self, folder: str, why: str) -> None:
        minutes = self.rescan_seconds / 60
        log.warning("%s: %s; rescanning it every %s instead.", folder, why,
                    f"{minutes:g} min" if minutes >= 1 else f"{self.rescan_seconds:g} s")
        self._set(folder, FolderWatch(folder, RESCANNING, why, self.rescan_seconds))
        with self._cond:
            self._next_visit[folder] = time.monotonic() + self.rescan_seconds

    def _offline_reason(self, folder: str) -> str:
        return offline.reachability(folder) or "offline"

    def _set(self, folder: str, state: FolderWatch) -> None:
        identity = _identity(folder)
        with self._cond:
            self._identity[folder] = identity
            if state.mode == OFFLINE:
                self._next_visit[folder] = time.monotonic() + self.check_seconds
            elif state.mode == WATCHING:
                self._next_visit.pop(folder, None)
            self._states[folder] = state

    def _publish(self) -> None:
        if self.on_state is not None:
            try:
                self.on_state(self.states())
            except Exception:
                log.exception("watch state callback failed")

    # -- events (watchdog's thread) ----------------------------------------------------
    def _event(self, root: str, event: ev.FileSystemEvent) -> None:
        now = time.monotonic()
        touched, files = event_paths(root, event)
        if not touched:
            return
        with self._cond:
            self._pending.touch(now, touched, other=not files)
            self._pending.written(now, files, event)
            self._cond.notify_all()

    # -- the batch loop (the watcher's thread) -----------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                batch = None
                while batch is None:
                    if self._stop:
                        return
                    now = time.monotonic()
                    wait = self._due(now)
                    if wait <= 0:
                        batch = self._take(now)
                        if batch is None:
                            continue
                        break
                    self._cond.wait(wait)
            self._run(batch)

    def _due(self, now: float) -> float:
        """Seconds until something is due (<= 0: now); moves due rescans into pending."""
        for folder, at in list(self._next_visit.items()):
            if at <= now:
                del self._next_visit[folder]
                state = self._states.get(folder)
                if state is not None and state.mode == OFFLINE and not self._back(folder):
                    self._next_visit[folder] = now + self.check_seconds
                    continue
                self._pending.touch(now, [folder])
        if now >= self._next_health:
            # A watched folder renamed away, unmounted (the mount point is another folder) or
            # whose watch died makes no further events: look at it every check_seconds.
            self._next_health = now + self.check_seconds
            for folder, state in self._states.items():
                if state.mode != OFFLINE and (_identity(folder) != self._identity.get(folder)
                                              or (state.mode == WATCHING
                                                  and not self._alive(folder))):
                    self._pending.touch(now, [folder])
        waits = [at - now for at in self._next_visit.values()] + [self._next_health - now]
        batch_due = self._pending.wait(now, self.quiet, self.max_wait, self.stable)
        return min(waits + ([] if batch_due is None else [batch_due]))

    def _back(self, folder: str) -> bool:
        """An offline folder looks reachable again (and not like an empty mount point)."""
        if offline.reachability(folder) is not None:
            return False
        try:
            with os.scandir(folder) as it:
                return next(it, None) is not None
        except OSError:
            return False

    def _take(self, now: float) -> Batch | None:
        """The pending work as a Batch; files not yet stable are deferred and stay pending."""
        batch, self._pending = self._pending.take(now, self.stable, self._folders)
        return batch

    def _run(self, batch: Batch) -> None:
        try:
            self.on_batch(batch)
        except Exception as exc:
            log.warning("Updating the library failed (%s); trying again in %g s.", exc,
                        self.check_seconds)
            with self._cond:
                retry_at = time.monotonic() + self.check_seconds - self.quiet
                self._pending.touch(retry_at, batch.folders)
            return
        finally:
            self.batches += 1
        rewatch = []
        with self._cond:
            for folder in self._folders:
                if not any(offline.inside(f, folder) for f in batch.folders):
                    continue
                state = self._states.get(folder)
                emitter_dead = state is not None and state.mode == WATCHING and (
                    not self._alive(folder) or _identity(folder) != self._identity.get(folder))
                now_offline = self.is_offline(folder)
                if now_offline and (state is None or state.mode != OFFLINE):
                    rewatch.append(folder)
                elif not now_offline and state is not None and (state.mode == OFFLINE or emitter_dead):
                    rewatch.append(folder)
                elif state is not None and state.mode == RESCANNING:
                    self._next_visit[folder] = time.monotonic() + self.rescan_seconds
        for folder in rewatch:          # outside _cond (see _watch)
            if self._stop:
                return
            self._watch(folder)
        if rewatch:
            self._publish()

    def _alive(self, folder: str) -> bool:
        watch = self._watches.get(folder)
        if watch is None or self._observer is None:
            return False
        try:
            emitter = self._observer._emitter_for_watch.get(watch)   # watchdog >= 2
        except AttributeError:
            return True
        return emitter is None or emitter.is_alive()


def _stop_observer(observer: BaseObserver) -> None:
    try:
        observer.stop()
        observer.join()
    except Exception:   # noqa: BLE001 -- stopping: nothing left to report it to
        log.debug("stopping the file-system observer failed", exc_info=True)


def _identity(folder: str) -> tuple | None:
    try:
        st = os.stat(folder)
        return st.st_dev, st.st_ino
    except OSError:
        return None

