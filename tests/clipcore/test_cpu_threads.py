"""A CPU model runs one torch thread per physical core: on a machine with hyper-threading (SMT)
the logical CPUs are twice the cores, and using them all mostly adds contention.

The machine is faked (psutil's counts and the CPU affinity), so the expected thread count is
written down here, never computed with the function under test."""

from __future__ import annotations

import psutil
import pytest
import torch

from clipcore import devices
from clipcore.encoder import Encoder


@pytest.fixture
def smt_machine(monkeypatch):
    """A machine with 3 physical cores and 6 logical CPUs, all of them usable."""
    counts = {True: 6, False: 3}
    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: counts[logical])
    monkeypatch.setattr(devices.os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3, 4, 5},
                        raising=False)
    monkeypatch.setattr(devices.os, "cpu_count", lambda: 6)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


def test_loading_a_cpu_model_uses_one_thread_per_physical_core(smt_machine,
                                                               restore_cpu_settings, tiny_spec):
    torch.set_num_threads(1)
    encoder = Encoder.load(tiny_spec)
    assert torch.get_num_threads() == 3
    assert encoder.device_description == "CPU, 3 threads"


def test_physical_cores_on_an_smt_machine(smt_machine):
    assert devices.physical_cores() == 3
