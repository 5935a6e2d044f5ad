"""The inter-process writer lock of a data directory (``<data_dir>/writer.lock``).

Only one process at a time writes a library (indexes, adds or removes folders); readers
(search) never take it. ``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows; both locks are
released by the OS when the process dies, so a crash never leaves the library locked. Within a
process the lock is re-entrant for the thread holding it; other threads wait like other processes.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

from .errors import LibraryBusyError

__all__ = ["WriterLock"]

BUSY_MESSAGE = ("The library is busy: another clipdesk/clipcore process is indexing it; "
                "try again when it finishes.")
_POLL_S = 0.05  # the OS offers no timed flock; poll at this interval until the deadline

if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class WriterLock:
    """``with lock.hold(): ...`` holds the data directory's writer lock.

    Waits up to ``timeout`` seconds (default: the constructor's), then raises
    :class:`LibraryBusyError`.
    """

    def __init__(self, data_dir: Path, timeout: float = 10.0):
        self.path = Path(data_dir) / "writer.lock"
        self.timeout = timeout
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while some thread of this process holds the lock."""
        return self._depth > 0

    @contextlib.contextmanager
    def hold(self, timeout: float | None = None):
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        if timeout > 0:
            acquired = self._thread_lock.acquire(timeout=timeout)
        else:
            acquired = self._thread_lock.acquire(blocking=False)
        if not acquired:
            raise LibraryBusyError(BUSY_MESSAGE)
        try:
            if self._depth == 0:
                self._lock_file(deadline)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._unlock_file()
        finally:
            self._thread_lock.release()

    def _lock_file(self, deadline: float) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                os.close(fd)
                raise LibraryBusyError(BUSY_MESSAGE)
            time.sleep(_POLL_S)
        self._fd = fd

    def _unlock_file(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                _unlock(fd)
            os.close(fd)
