"""Encoding query texts: one or two CPU threads and a small memory of recent query vectors.

A search encodes a few short texts at a time. :class:`QueryTexts` (one per
:class:`~clipcore.encoder.Encoder`) remembers the vectors of the most recent texts, so
retyping, paging, re-sorting or filtering a query does not run the model again; the encoder
runs the texts it has not seen on :func:`query_threads` CPU threads (:func:`cpu_threads`):
two only while the machine has a core to spare, else one.

Why not always two: on a busy machine two OpenMP threads wait for each other: one short
query took p50 155-181 ms on one thread and 906-1,316 ms on two at load average 8-10 on the
2 cores, 278-288 vs 2,172-2,721 ms with another process spinning as well
(benchmarks/RESULTS.md, issue 14). The text tower reads its ~151 MB of weights per query,
so a second idle core adds memory bandwidth. torch's CPU thread count belongs to the calling thread (OpenMP's
``omp_set_num_threads``), except that a thread running its first torch operation takes the
process-wide value of that moment; so every encode call sets its own thread's count
(:func:`cpu_threads`) and an indexer thread starting while a query runs still gets its own.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from typing import Callable, Sequence

import numpy as np
import torch

__all__ = ["QueryTexts", "cpu_threads", "query_threads", "choose_threads", "QUERY_TEXTS",
           "QUERY_CACHE"]

#: At most this many texts in one call make a query (more: a batch job such as the vocabulary).
QUERY_TEXTS = 4
#: Query text vectors remembered per encoder; the least recently used is dropped first.
QUERY_CACHE = 256


def choose_threads(cores: int, load: float, running: int) -> int:
    """Threads for one query's text encoding: 2 when a whole core is spare, else 1.

    ``cores``: logical CPUs; ``load``: the 1-minute load average; ``running``: tasks running
    right now besides the caller. A core is spare when both the average and the moment leave
    at least 1.5 cores idle (the average lags a minute behind a job that just started; the
    moment alone flickers): 2 cores -> two threads only at load <= 0.5 with nothing else
    running. Never more than 2: a few tokens do not feed more."""
    spare = cores - max(load, float(running))
    return 2 if cores >= 2 and spare >= 1.5 else 1


def system_load() -> tuple[int, float, int]:
    """(logical CPUs, 1-minute load average, tasks running now besides the caller) from the
    OS; where a figure is unavailable (no load average: Windows) the machine counts as busy."""
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return cores, float(cores), cores
    try:
        with open("/proc/loadavg", encoding="ascii") as fh:     # "0.12 0.3 0.4 2/150 999"
            running = int(fh.read().split()[3].split("/")[0]) - 1
    except (OSError, ValueError, IndexError):
        running = round(load)
    return cores, load, max(running, 0)


def query_threads() -> int:
    """CPU threads for the query being encoded now (:func:`choose_threads` of the machine's
    load, read per query: ~0.02 ms)."""
    return choose_threads(*system_load())


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
    L2-normalised (on :func:`query_threads` CPU threads)."""

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
