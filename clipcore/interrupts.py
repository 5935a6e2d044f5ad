"""Ctrl+C (and, for long-running commands, SIGTERM) as a request to stop between batches.

The first signal sets a ``threading.Event`` that the running job checks between batches (what
is done is committed); a second one raises ``KeyboardInterrupt`` at once. The handlers are
installed explicitly, whatever the process inherited: a program started in the background by a
shell without job control (``cmd &`` in a script, a CI runner) inherits SIGINT as *ignored*,
and Python then installs no ``KeyboardInterrupt`` handler of its own, so a command relying on
Python's default never noticed a Ctrl+C or ``kill -INT`` (``clipcore watch`` ran on forever).
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any, Callable

__all__ = ["CancelOnSignals"]

_Handler = Callable[[int, FrameType | None], Any] | int | None


class CancelOnSignals:
    """Context manager: the first of ``signals`` sets ``cancel`` (and prints ``message`` on
    stderr, if given); a second one raises KeyboardInterrupt. Only in the main thread (Python
    runs signal handlers there); elsewhere it does nothing. The previous handlers come back on
    exit. ``received`` lists the signals caught."""

    def __init__(self, cancel: threading.Event, signals: tuple[int, ...] = (signal.SIGINT,),
                 message: str | None = None):
        self.cancel, self.signals, self.message = cancel, signals, message
        self.received: list[int] = []
        self._previous: dict[int, _Handler] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received:
            raise KeyboardInterrupt
        self.received.append(signum)
        self.cancel.set()
        if self.message:
            print(f"\n{self.message}", file=sys.stderr, flush=True)

    def __enter__(self) -> "CancelOnSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in self.signals:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()
