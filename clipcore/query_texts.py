"""Encoding query texts: one CPU thread and a small memory of recent query vectors.

A search encodes a few short texts at a time. :class:`QueryTexts` (one per
:class:`~clipcore.encoder.Encoder`) remembers the vectors of the most recent texts, so
retyping, paging, re-sorting or filtering a query does not run the model again; the encoder
runs the texts it has not seen on one CPU thread (:func:`cpu_threads`).

Why one thread: a few tokens are too little work to share between threads, and on a busy
machine two OpenMP threads wait for each other: one short query took p50 36 ms on one thread
and 188 ms on two while other processes used the 2 cores (benchmarks/RESULTS.md, query
latency, notes). torch's CPU thread count belongs to the calling thread (OpenMP's
``omp_set_num_threads``), except that a thread running its first torch operation takes the
process-wide value of that moment; so every encode call sets its own thread's count
(:func:`cpu_threads`) and an indexer thread starting while a query runs still gets its own.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from typing import Callable, Sequence

import numpy as np
import torch

__all__ = ["QueryTexts", "cpu_threads", "QUERY_TEXTS", "QUERY_CACHE"]

#: At most this many texts in one call make a query (more: a batch job such as the vocabulary).
QUERY_TEXTS = 4
#: Query text vectors remembered per encoder; the least recently used is dropped first.
QUERY_CACHE = 256


@contextlib.contextmanager
def cpu_threads(device: torch.device, threads: int):
    """Run the calling thread's torch CPU work on ``threads`` threads, then restore the count
    it had (other threads keep theirs). Does nothing for a GPU device."""
    before = torch.get_num_threads()
    if device.type != "cpu" or before == threads:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class QueryTexts:
    """Recent query texts -> their (D,) float32 vectors, for one encoder. Thread-safe.

    ``encode``: the encoder's function for a query, list of N texts -> (N, D) float32, rows
    L2-normalised (on one CPU thread)."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], size: int = QUERY_CACHE):
        self._encode = encode
        self._size = size
        self._known: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """N texts (N >= 1) -> (N, D) float32, rows L2-normalised, equal to the encoder's
        batch function; only the texts not remembered run through the model."""
        texts = list(texts)
        with self._lock:
            found = {t: self._known[t] for t in texts if t in self._known}
            for t in found:
                self._known.move_to_end(t)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            fresh = self._encode(missing)
            with self._lock:
                for t, vector in zip(missing, fresh):
                    vector = vector.copy()
                    vector.flags.writeable = False
                    found[t] = self._known[t] = vector
                while len(self._known) > self._size:
                    self._known.popitem(last=False)
        return np.stack([found[t] for t in texts])

    def warm_up(self) -> None:
        """Encode one short text (not remembered), so that the first query a user types does
        not also pay torch's first-call costs (kernel choice, buffers)."""
        self._encode(["a photo"])
