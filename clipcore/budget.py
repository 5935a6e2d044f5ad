"""A budget of decoded pixels in flight, shared by every thread that decodes images.

A decode needs a full-resolution pixel buffer before it can be reduced: Pillow keeps 8-bit
RGB / RGBA at 4 bytes per pixel, so a 169-megapixel PNG (a few hundred KB on disk) takes
676 MB while it decodes. Eight decode threads meeting eight such files at once would need
5.4 GB. :class:`PixelBudget` caps the sum: a decode asks for its pixel count (after JPEG draft
reduction) before allocating and gives it back once its image is reduced, so at most
``limit`` pixels (about ``4 * limit`` bytes) are held by decodes at any moment. A single image
larger than the whole budget still decodes, alone. Waiters are served first come, first
served, so a big image is not starved by a stream of small ones.

A budget alone is not enough: glibc serves each thread from its own malloc arena, and memory
freed there stays in that arena (it is not returned to the system, nor given to another
thread). Pillow allocates images in 16 MB blocks, which glibc puts in the arenas once its
adaptive mmap threshold has risen (any 32 MB temporary does that), so eight decode threads
each kept the buffers of their last big image: 6.1 GB RSS for 169-megapixel PNGs with a
budget of one image at a time (measured). :func:`release_big_buffers` makes big buffers
mmap-backed, so they go back to the system when freed: Pillow blocks of 64 MB, and on glibc a
fixed mmap threshold of 4 MB (``mallopt(M_MMAP_THRESHOLD)``, which also stops the adaptation).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
from typing import Iterator

__all__ = ["BUDGET_ENV", "DEFAULT_BUDGET_PIXELS", "PixelBudget", "decode_budget",
           "release_big_buffers"]

#: Default pixels in flight: 256 megapixels, about 1 GiB of decode buffers at 4 bytes per
#: pixel. It lets eight 24-megapixel PNGs (or any number of draft-decoded JPEGs) decode at
#: once, and keeps 169-megapixel images to one at a time (issue 15: 8 workers <= 2 GB RSS).
DEFAULT_BUDGET_PIXELS = 256_000_000
#: Environment variable overriding the default, in megapixels (e.g. ``CLIPDESK_DECODE_MP=512``).
BUDGET_ENV = "CLIPDESK_DECODE_MP"

PILLOW_BLOCK_BYTES = 64 << 20    # > glibc's largest adaptive mmap threshold (32 MB)
MMAP_THRESHOLD_BYTES = 4 << 20
_M_MMAP_THRESHOLD = -3           # glibc malloc.h


class PixelBudget:
    """At most ``limit`` pixels held at once by the callers of :meth:`hold` (thread-safe).

    ``in_flight`` (pixels held now) and ``peak`` (the most held at once) are for tests and
    benchmarks.
    """

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError(f"the pixel budget must be at least 1, not {limit}")
        self.limit = int(limit)
        self.in_flight = 0
        self.peak = 0
        self._cond = threading.Condition()
        self._next_ticket = 0     # first come, first served
        self._serving = 0

    @contextlib.contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        """Block until ``pixels`` (capped at ``limit``) fit in the budget; hold them inside."""
        want = max(0, min(int(pixels), self.limit))
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._cond.wait_for(lambda: ticket == self._serving
                                and self.in_flight + want <= self.limit)
            self._serving += 1
            self.in_flight += want
            self.peak = max(self.peak, self.in_flight)
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self.in_flight -= want
                self._cond.notify_all()


def _default_limit() -> int:
    raw = os.environ.get(BUDGET_ENV, "").strip()
    try:
        return max(1, int(float(raw) * 1_000_000)) if raw else DEFAULT_BUDGET_PIXELS
    except ValueError:
        return DEFAULT_BUDGET_PIXELS


_shared: PixelBudget | None = None
_shared_lock = threading.Lock()


def decode_budget() -> PixelBudget:
    """The process-wide budget every :func:`clipcore.imaging.decode_image` call shares
    (created on first use: ``CLIPDESK_DECODE_MP`` megapixels, else :data:`DEFAULT_BUDGET_PIXELS`)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = PixelBudget(_default_limit())
        return _shared


def release_big_buffers() -> None:
    """Make big allocations mmap-backed, so a decode's buffers return to the system when freed
    (see the module docstring). Leaves settings the user chose through ``PILLOW_BLOCK_SIZE``
    or ``MALLOC_MMAP_THRESHOLD_`` alone. Safe to call more than once."""
    from PIL import Image

    if "PILLOW_BLOCK_SIZE" not in os.environ and Image.core.get_block_size() < PILLOW_BLOCK_BYTES:
        Image.core.set_block_size(PILLOW_BLOCK_BYTES)
    if sys.platform.startswith("linux") and "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        try:
            ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        except (OSError, AttributeError):   # not glibc (musl has no mallopt): nothing to tune
            pass
