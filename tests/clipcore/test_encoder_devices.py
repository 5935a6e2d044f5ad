"""Device and precision choice, CPU speed settings, and GPU/CPU agreement (when a GPU exists)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from clipcore.config import ModelSpec
from clipcore.encoder import Encoder, pick_device
from clipcore.errors import ClipcoreError


def test_auto_picks_cuda_then_mps_then_cpu():
    device = pick_device("auto")
    if torch.cuda.is_available():
        assert device.type == "cuda"
    elif torch.backends.mps.is_available():
        assert device.type == "mps"
    else:
        assert device == torch.device("cpu")
    assert pick_device("CPU") == torch.device("cpu")


UNAVAILABLE = ["cuda:99", "tpu", "banana"] + ([] if torch.backends.mps.is_available() else ["mps"])


@pytest.mark.parametrize("requested", UNAVAILABLE)
def test_unavailable_or_unknown_device_is_a_clear_error(requested):
    with pytest.raises(ClipcoreError, match="--device"):
        pick_device(requested)


def test_unknown_precision_is_a_clear_error(tiny_config):
    with pytest.raises(ClipcoreError, match="precision"):
        Encoder.load(ModelSpec(name=str(tiny_config), device="cpu", precision="fp8"))


def test_cpu_load_uses_physical_cores_and_flushes_denormals(tiny_spec, monkeypatch,
                                                            restore_cpu_settings):
    from clipcore.devices import physical_cores

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    torch.set_flush_denormal(False)
    encoder = Encoder.load(tiny_spec)
    cores = physical_cores()
    assert 1 <= cores <= (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                          else os.cpu_count())
    assert torch.get_num_threads() == cores
    assert encoder.device_description == f"CPU, {cores} threads"
    assert encoder.dtype == torch.float32  # "auto" is fp32 on the CPU
    assert torch.tensor([1e-40], dtype=torch.float32).item() == 0.0  # denormal flushed to zero


def test_cpu_load_leaves_a_users_omp_num_threads_alone(tiny_spec, monkeypatch,
                                                       restore_cpu_settings):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    Encoder.load(tiny_spec)
    assert torch.get_num_threads() == 1


def _pictures():
    out = []
    for i in range(6):
        im = Image.new("RGB", (40 + 8 * i, 36), (40 * i, 100, 220 - 30 * i))
        ImageDraw.Draw(im).rectangle((4, 4, 12 + 3 * i, 20), fill=(240, 240, 20))
        out.append(im)
    return out


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)  # rows are L2-normalised


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_and_cpu_embeddings_agree(tiny_config):
    cpu = Encoder.load(ModelSpec(name=str(tiny_config), device="cpu"))
    gpu = Encoder.load(ModelSpec(name=str(tiny_config), device="cuda"))
    assert gpu.dtype == torch.float16 and gpu.device_description.startswith("GPU: ")
    texts = ["a dog on a beach", "a red car", "sunset over the sea"]
    assert _cosines(cpu.encode_images(_pictures()), gpu.encode_images(_pictures())).min() >= 0.999
    assert _cosines(cpu.encode_texts(texts), gpu.encode_texts(texts)).min() >= 0.999


@pytest.mark.parametrize("physical, logical, allowed, cores", [
    (8, 16, 16, 8),      # SMT: two logical CPUs per core count once
    (8, 16, 4, 2),       # a container / taskset limited to 4 of the 16
    (4, 4, 4, 4),        # no SMT
    (None, 6, 6, 6),     # the OS does not tell physical cores: the logical count
    (2, 4, 1, 1),
])
def test_physical_cores_counts_cores_not_hyperthreads(monkeypatch, physical, logical, allowed,
                                                      cores):
    import psutil

    from clipcore import devices

    counts = {True: logical, False: physical}
    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: counts[logical])
    monkeypatch.setattr(devices.os, "sched_getaffinity", lambda _pid: set(range(allowed)),
                        raising=False)
    assert devices.physical_cores() == cores
