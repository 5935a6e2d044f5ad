"""Where a model runs: the torch device, its description, the compute dtype, CPU threads.

Used by :mod:`clipcore.encoder` when it loads a model, by the CLI (``clipcore info``) and by the
benchmarks (the machine line).
"""

from __future__ import annotations

import math
import os

import psutil
import torch

from .errors import ClipcoreError

__all__ = ["pick_device", "describe_device", "autocast_dtype", "physical_cores", "configure_cpu"]

_PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
_DEVICE_HELP = "use --device auto, cpu, cuda, cuda:N or mps"


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def pick_device(requested: str = "auto") -> torch.device:
    """Resolve a device request to a ``torch.device``.

    ``"auto"``: CUDA if available, then Apple MPS, then CPU. Explicit requests (``"cpu"``,
    ``"cuda"``, ``"cuda:1"``, ``"mps"``) are honoured exactly. Raises ClipcoreError for an
    unknown name or a device this computer does not have.
    """
    req = (requested or "auto").strip().lower()
    if req == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    try:
        device = torch.device(req)
    except (RuntimeError, ValueError):
        raise ClipcoreError(f"Unknown device '{requested}'; {_DEVICE_HELP}.") from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = device.index or 0
        if index >= count:
            have = f"it has {count} CUDA GPU(s)" if count else "it has no usable CUDA GPU"
            raise ClipcoreError(f"Device '{requested}' is not available on this computer ({have}); "
                                f"{_DEVICE_HELP}.")
        return torch.device("cuda", index)
    if device.type == "mps":
        if not _mps_available():
            raise ClipcoreError(f"Device 'mps' (Apple GPU) is not available on this computer; "
                                f"{_DEVICE_HELP}.")
        return device
    raise ClipcoreError(f"Device '{requested}' is not supported; {_DEVICE_HELP}.")


def describe_device(device: torch.device) -> str:
    """Human description: ``"CPU, 4 threads"``, ``"GPU: NVIDIA H100 (CUDA)"`` or ``"Apple GPU (MPS)"``."""
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)} (CUDA)"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU, {torch.get_num_threads()} threads"


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype:
    """Compute dtype: ``"auto"`` is fp16 (autocast) on CUDA and fp32 on CPU / MPS."""
    p = (precision or "auto").strip().lower()
    if p == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    if p not in _PRECISIONS:
        raise ClipcoreError(f"Unknown precision '{precision}'; use auto, fp32, fp16 or bf16.")
    return _PRECISIONS[p]


def physical_cores() -> int:
    """Physical CPU cores this process may use (SMT siblings counted once), at least 1.

    ``psutil.cpu_count(logical=False)`` (the logical count where the OS does not say), scaled
    by the share of logical CPUs this process may run on (``os.sched_getaffinity`` where the OS
    has it: a container or ``taskset`` limited to 4 of 16 logical CPUs on 8 cores gets 2).
    """
    logical = psutil.cpu_count(logical=True) or os.cpu_count() or 1
    cores = psutil.cpu_count(logical=False) or logical
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else logical
    if allowed < logical:
        cores = math.ceil(cores * allowed / logical)
    return max(1, cores)


def configure_cpu() -> None:
    """Process-wide CPU speed settings, applied when a model is loaded for the CPU.

    ``torch.set_num_threads(physical cores)`` unless the user chose ``OMP_NUM_THREADS``
    (hyper-threads share one core's vector units and mostly add contention), and
    ``torch.set_flush_denormal(True)``: denormal floats run through a slow microcode path on
    x86; without flushing, MobileCLIP2-S0 ran about 30x slower on CPU (speed issue).
    """
    if not os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(physical_cores())
    torch.set_flush_denormal(True)
