"""Helpers shared by the long library jobs (duplicates, groups, map, tags): cancel + progress.

Each job takes ``cancel`` (a ``threading.Event`` or None) and ``progress`` (a callable
``(done, total, phase)`` or None). Jobs check ``cancel`` between blocks of work and raise
:class:`Cancelled`, having changed nothing; the CLI maps it to exit code 130, the desktop worker
to its "cancelled" signal.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Cancelled", "Progress", "check_cancel", "report"]

Progress = Callable[[int, int, str], None]


class Cancelled(Exception):
    """The job's cancel event was set; nothing was changed."""


def check_cancel(cancel) -> None:
    """Raise :class:`Cancelled` if ``cancel`` (a threading.Event or None) is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def report(progress: Progress | None, done: int, total: int, phase: str) -> None:
    """Call ``progress(done, total, phase)`` if given."""
    if progress is not None:
        progress(done, total, phase)
