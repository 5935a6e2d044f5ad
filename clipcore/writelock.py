"""The inter-process writer lock of a data directory (``<data_dir>/writer.lock``).

Only one process at a time writes a library (indexes, adds or removes folders); readers
(search) never take it. The lock is :class:`filelock.FileLock` (``fcntl.flock`` on POSIX,
``msvcrt.locking`` on Windows, released by the OS when the process dies, so a crash never
leaves the library locked). Holds are per thread (filelock's ``thread_local``): re-entrant for
the thread holding it; other threads of the process wait like other processes do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from .errors import CatalogError, LibraryBusyError

__all__ = ["WriterLock", "BUSY_MESSAGE"]

BUSY_MESSAGE = ("The library is busy: another clipdesk/clipcore process is indexing it; "
                "try again when it finishes.")


class WriterLock:
    """``with lock.hold(): ...`` holds the data directory's writer lock.

    ``data_dir`` must exist. Waits up to ``timeout`` seconds (default: the constructor's; 0
    tries once without waiting), then raises :class:`LibraryBusyError` with
    :data:`BUSY_MESSAGE`.
    """

    def __init__(self, data_dir: Path, timeout: float = 10.0):
        self.path = Path(data_dir) / "writer.lock"
        self.timeout = timeout
        self._lock = FileLock(self.path, thread_local=True)

    @contextlib.contextmanager
    def hold(self, timeout: float | None = None) -> Iterator[None]:
        timeout = self.timeout if timeout is None else timeout
        try:
            self._lock.acquire(timeout=max(0.0, timeout))
        except Timeout:
            raise LibraryBusyError(BUSY_MESSAGE) from None
        except OSError as exc:    # a read-only disk or folder, no permission
            raise CatalogError(
                f"The library in {self.path.parent} is read-only here ({exc.strerror or exc}), so "
                "it cannot be changed; search works. Give clipdesk write access to change the "
                "library.") from exc
        try:
            yield
        finally:
            self._lock.release()
