"""A big index loading in the background while its file answers searches exactly.

:class:`BackgroundLoad` (one per model, owned by clipcore.ann_cache) runs the slow part of
opening a saved index in a thread: the whole-file CRC check, then ``hnswlib`` reading the
file. Meanwhile :func:`exact_from_file` answers searches from the same file, memory-mapped
(:class:`clipcore.ann_file.IndexFile`, checked cheaply first): one exact matrix-vector
product over its vectors, then the best candidates re-scored with the catalog's own vectors,
so every returned score is the catalog's and a photo deleted since the file was saved is
never returned; vectors the catalog wrote after the file's watermark join the candidates.

``hnswlib.Index.load_index`` holds Python's GIL until it returns (hnswlib 0.8's
python_bindings/bindings.cpp: ``loadIndex`` has no ``gil_scoped_release``, unlike
``knn_query`` and ``add_items``), so nothing else in the process runs meanwhile: ~10 s for a
1M-vector file. The loader therefore starts late: it waits until no search has run for
``idle`` seconds (``IndexParams.load_after_idle_s``) before the whole-file check and again
before hnswlib's load (:meth:`BackgroundLoad.gate`). So the searches of someone who has just
opened the library are answered from the file at once; a search that has started always
finishes first; one started during hnswlib's load waits for it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Callable

import numpy as np
import numpy.ma  # noqa: F401 -- np.unique imports it lazily (0.05-0.14 s): not in a search

from .ann import HnswIndex, StaleIndex, exact_knn
from .ann_file import IndexFile

__all__ = ["BackgroundLoad", "exact_from_file"]

log = logging.getLogger(__name__)


class BackgroundLoad:
    """One model's index being loaded by a thread, and the file that answers meanwhile.

    ``file``/``info``: the memory-mapped file and its sidecar. ``load(gate, cancelled)``, run
    in the thread, returns the loaded HnswIndex (or raises StaleIndex); it calls ``gate()``
    right before the hnswlib call. ``load`` itself starts only once no search has run for
    ``idle`` seconds (counted from construction and from the end of each search). When it
    ends, ``done`` is set and ``result`` or ``error`` holds the outcome. ``hook``: called in
    the thread just before hnswlib's load (tests hold the load there to search meanwhile).
    """

    def __init__(self, file: IndexFile, info: dict,
                 load: Callable[[Callable[[], None], Callable[[], bool]], HnswIndex],
                 hook: Callable[[], None] | None = None, idle: float = 0.0):
        self.file, self.info = file, info
        self.done = threading.Event()
        self.result: HnswIndex | None = None
        self.error: Exception | None = None
        self._load, self._hook = load, hook
        self._cond = threading.Condition()
        self._searches = 0
        self._idle = idle
        self._last = time.monotonic()       # when the last search ended
        self._cancelled = False
        self._delta: tuple[int, np.ndarray, np.ndarray] | None = None
        self._thread = threading.Thread(target=self._run, name="clipcore-index-load",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._wait_idle()
            if self._cancelled:
                raise StaleIndex("loading was cancelled")
            self.result = self._load(self.gate, self.cancelled)
        except Exception as exc:  # noqa: BLE001 -- handed to the owner, who rebuilds
            self.error = exc
        finally:
            self.done.set()

    def _wait_idle(self) -> None:
        """Return once no search runs and none has ended for ``idle`` seconds, or on cancel."""
        with self._cond:
            while not self._cancelled:
                if self._searches:
                    self._cond.wait()
                    continue
                left = self._idle - (time.monotonic() - self._last)
                if left <= 0:
                    return
                self._cond.wait(left)

    def gate(self) -> None:
        """Wait until no search has run on the file for ``idle`` seconds (hnswlib's load then
        holds the GIL), call the hook; raises StaleIndex when cancelled meanwhile."""
        self._wait_idle()
        if self._hook is not None:
            self._hook()
        if self._cancelled:
            raise StaleIndex("loading was cancelled")

    def cancelled(self) -> bool:
        return self._cancelled

    @contextlib.contextmanager
    def searching(self):
        """Hold the hnswlib load back while a search reads the file."""
        with self._cond:
            self._searches += 1
        try:
            yield
        finally:
            with self._cond:
                self._searches -= 1
                self._last = time.monotonic()
                self._cond.notify_all()

    def cancel(self, wait: bool = True) -> None:
        """Stop before hnswlib's load if it has not begun; ``wait`` for the thread to end."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()
        if wait:
            self._thread.join()

    def delta(self, generation: int, read: Callable[[], tuple[np.ndarray, np.ndarray]]
              ) -> tuple[np.ndarray, np.ndarray]:
        """The catalog's vectors written after the file's watermark, as ``read()`` returns
        them, read again only when the catalog ``generation`` changed."""
        if self._delta is None or self._delta[0] != generation:
            self._delta = (generation, *read())
        return self._delta[1], self._delta[2]


def exact_from_file(file: IndexFile, query: np.ndarray, k: int, allowed: np.ndarray | None,
                    delta: tuple[np.ndarray, np.ndarray],
                    truth: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The exact k nearest (ids (k',) int64, cosines (k',) float32), best first.

    ``file``'s vectors (all of them, by one product) give candidates, and ``truth(ids)``
    returns the catalog's (ids, vectors) of those that still exist, which decide the scores;
    ``delta`` (ids (n,), vectors (n, D) float32: the catalog's vectors newer than the file)
    is scored as it is. ``allowed`` (ids, or None) restricts both. Starts with 2k + 16 file candidates and
    takes four times more while fewer than k survive (photos deleted since the file was saved).
    """
    scores = file.scores(query)
    if allowed is not None:
        scores[~np.isin(file.labels(), allowed)] = -np.inf
        keep = np.isin(delta[0], allowed)
        delta = (delta[0][keep], delta[1][keep])
    want = 2 * k + 16
    while True:
        want = min(want, file.count)
        rows = (np.argpartition(-scores, want - 1)[:want] if want < file.count
                else np.arange(file.count))
        rows = rows[np.isfinite(scores[rows])]
        ids, vectors = truth(np.setdiff1d(file.labels(rows), delta[0]))
        if len(delta[0]):
            ids, vectors = np.concatenate([ids, delta[0]]), np.concatenate([vectors, delta[1]])
        found = exact_knn(vectors, ids, np.asarray(query, np.float32), k)
        if len(found[0]) >= k or want >= file.count:
            return found
        want *= 4
