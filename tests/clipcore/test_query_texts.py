"""Query texts: remembered, encoded on one thread of the caller (two while a core is spare),
equal to batch encoding."""

from __future__ import annotations

import threading

import numpy as np
import torch

import pytest

from clipcore import query_texts
from clipcore.query_texts import QUERY_TEXTS, choose_threads


def test_a_repeated_query_does_not_run_the_model_again(encoder):
    calls = []
    real = encoder._queries._encode
    encoder._queries._encode = lambda texts: calls.append(list(texts)) or real(texts)
    try:
        first = encoder.encode_texts(["a red kite over the dunes"])
        again = encoder.encode_texts(["a red kite over the dunes"])
        both = encoder.encode_texts(["a red kite over the dunes", "two kites"])
    finally:
        encoder._queries._encode = real
    assert calls == [["a red kite over the dunes"], ["two kites"]]   # only what was new
    assert np.array_equal(first, again) and np.array_equal(both[0], first[0])
    batch = encoder.encode_texts(["a red kite over the dunes", "two kites"] * QUERY_TEXTS)
    assert np.abs(batch[:2] - both).max() < 1e-5            # the same as a batch job's
    first[0, 0] = 7.0                                        # the caller's copy, not the memory's
    assert encoder.encode_texts(["a red kite over the dunes"])[0, 0] != 7.0


def test_a_query_runs_on_one_thread_and_leaves_other_threads_alone(encoder, monkeypatch):
    """While a query encodes, its thread runs torch on one thread; an indexer thread whose
    first torch work starts meanwhile still encodes on the encoder's threads, and the query
    thread gets its own count back afterwards."""
    torch.set_num_threads(2)
    monkeypatch.setattr(encoder, "cpu_threads", 2)
    monkeypatch.setattr(query_texts, "system_load", lambda: (2, 1.3, 1))     # a busy machine
    seen, inside, release = {}, threading.Event(), threading.Event()
    real = encoder.model.encode_text

    def encode_text(tokens, *args, **kwargs):
        name = threading.current_thread().name
        seen.setdefault(name, torch.get_num_threads())
        if name == "query":
            inside.set()
            release.wait(30)
        return real(tokens, *args, **kwargs)

    monkeypatch.setattr(encoder, "text_prefix", False)
    monkeypatch.setattr(encoder.model, "encode_text", encode_text)

    def query():
        encoder.encode_texts(["a lighthouse in fog"])
        seen["query after"] = torch.get_num_threads()

    def indexer():
        inside.wait(30)
        encoder.encode_texts([f"label {i}" for i in range(QUERY_TEXTS + 1)])   # a batch job
        release.set()

    threads = [threading.Thread(target=query, name="query"),
               threading.Thread(target=indexer, name="indexer")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert seen == {"query": 1, "indexer": 2, "query after": 2}


@pytest.mark.parametrize("cores, load, running, threads", [
    (2, 0.1, 0, 2),      # an idle 2-core machine: the second core helps
    (2, 0.4, 1, 1),      # something else runs right now (the average has not seen it yet)
    (2, 1.2, 0, 1),      # busy over the last minute
    (1, 0.0, 0, 1),      # one core
    (8, 3.0, 2, 2),      # a big machine with cores to spare
])
def test_a_query_takes_a_second_thread_only_when_a_core_is_spare(cores, load, running, threads):
    assert choose_threads(cores, load, running) == threads


def test_the_encoder_follows_the_machine_load(encoder, monkeypatch):
    """Each query reads the load: two threads while the machine is idle, one once it is busy;
    the vectors are the same either way."""
    torch.set_num_threads(2)
    monkeypatch.setattr(encoder, "cpu_threads", 2)
    seen = []
    hook = encoder.model.token_embedding.register_forward_pre_hook(
        lambda *_: seen.append(torch.get_num_threads()))
    try:
        monkeypatch.setattr(query_texts, "system_load", lambda: (2, 0.05, 0))
        idle = encoder.encode_texts(["a kite on the beach"])
        monkeypatch.setattr(query_texts, "system_load", lambda: (2, 1.8, 2))
        busy = encoder.encode_texts(["two kites on the beach"])
        again = encoder._encode_texts(["a kite on the beach"], threads=1)
    finally:
        hook.remove()
    assert seen[:2] == [2, 1] and busy.shape == idle.shape
    assert np.abs(idle - again).max() < 1e-5
