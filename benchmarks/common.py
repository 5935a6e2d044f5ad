"""Helpers shared by the benchmark scripts: the machine line, tables, timing and memory.

Every script prints Markdown (a ``## Title``, tables, and one ``Target`` line per target), so
its output reads in a terminal and pastes into ``benchmarks/RESULTS.md`` unchanged.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

from clipcore.devices import physical_cores

os.environ.setdefault("HF_HUB_OFFLINE", "1")   # benchmarks never download weights

REPO_ROOT = Path(__file__).resolve().parent.parent
TINY_CONFIG = REPO_ROOT / "tests" / "data" / "tiny-clip.json"


# ---------------------------------------------------------------- the machine

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _total_ram_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def machine_line() -> str:
    """One line describing where the numbers were taken: CPU, cores, RAM, GPU, torch, OS."""
    import torch

    ram = _total_ram_bytes()
    parts = [
        f"CPU: {_cpu_model()}, {physical_cores()} physical cores / {os.cpu_count()} logical",
        f"RAM {ram / 2**30:.1f} GiB" if ram else "RAM unknown",
    ]
    if torch.cuda.is_available():
        parts.append("GPU: " + ", ".join(torch.cuda.get_device_name(i)
                                         for i in range(torch.cuda.device_count())))
    elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        parts.append("GPU: Apple MPS")
    else:
        parts.append("GPU: none")
    parts.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    parts.append(f"Python {platform.python_version()}, {platform.system()} {platform.release()}")
    try:
        load = os.getloadavg()[0]
        parts.append(f"load average {load:.2f} at start")
    except OSError:
        pass
    return "; ".join(parts)


# ---------------------------------------------------------------- output

def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-Markdown pipe table; floats are printed with 3 significant digits or more."""
    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"
        if isinstance(v, int) and not isinstance(v, bool):
            return f"{v:,}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def target_line(name: str, measured: str, met: bool, note: str = "") -> str:
    """``- Target <name>: <measured> -- met`` (or ``NOT MET``, then the note)."""
    status = "met" if met else "NOT MET"
    return f"- Target {name}: {measured} -- **{status}**" + (f". {note}" if note else "")


class Report:
    """Collects one benchmark's Markdown section; ``emit`` prints each part as it is added."""

    def __init__(self, title: str):
        self.parts: list[str] = []
        self.emit(f"## {title}\n")

    def emit(self, text: str) -> None:
        self.parts.append(text)
        print(text, flush=True)

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        self.emit(markdown_table(headers, rows) + "\n")

    def target(self, name: str, measured: str, met: bool, note: str = "") -> None:
        self.emit(target_line(name, measured, met, note))

    def text(self) -> str:
        return "\n".join(self.parts) + "\n"


def base_parser(description: str) -> argparse.ArgumentParser:
    """A parser with the options every script shares: ``--device``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--device", default="auto",
                        help="auto (default: CUDA, then MPS, then CPU) | cpu | cuda | mps")
    return parser


# ---------------------------------------------------------------- timing

def synchronize(device) -> None:
    """Wait for queued GPU work so wall-clock timings are true (no-op on the CPU)."""
    import torch

    kind = getattr(device, "type", str(device))
    if kind == "cuda":
        torch.cuda.synchronize()
    elif kind == "mps":
        torch.mps.synchronize()


def time_repeated(fn: Callable[[], object], min_seconds: float, min_runs: int = 1,
                  device=None) -> list[float]:
    """Call ``fn`` until ``min_seconds`` have passed and at least ``min_runs`` calls were made.

    Returns each call's wall-clock duration in seconds (GPU work synchronised per call).
    """
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        if device is not None:
            synchronize(device)
        times.append(time.perf_counter() - t0)
    return times


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of values, linear interpolation (numpy's default)."""
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def matmul_gflops(device, dtype=None, sizes: Sequence[int] = (1024, 2048),
                  seconds: float = 1.0) -> float:
    """The machine's own dense matrix-multiply rate in GFLOP/s (best over ``sizes``).

    An (n, n) @ (n, n) product costs 2 n^3 floating point operations. ``dtype`` defaults to
    float32; run with the thread count the encoder uses so the ceiling is comparable.
    """
    import torch

    dtype = dtype or torch.float32
    best = 0.0
    for n in sizes:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        torch.mm(a, b)   # warm-up (thread pool, allocator, cuBLAS handle)
        times = time_repeated(lambda: torch.mm(a, b), seconds, min_runs=3, device=device)
        best = max(best, 2 * n**3 / min(times) / 1e9)
    return best


# ---------------------------------------------------------------- memory

def _proc_status_bytes(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def rss_bytes() -> int:
    """Current resident set size of this process in bytes (VmRSS; peak RSS where unavailable)."""
    return _proc_status_bytes("VmRSS") or peak_rss_bytes()


def peak_rss_bytes() -> int:
    """Peak resident set size of this process in bytes.

    Linux: VmHWM of /proc/self/status. Not ``ru_maxrss``, which Linux carries over from the
    parent across exec, so a child of a big parent would report the parent's peak.
    Elsewhere ``ru_maxrss`` (KiB on Linux, bytes on macOS).
    """
    peak = _proc_status_bytes("VmHWM")
    if peak:
        return peak
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if platform.system() == "Darwin" else peak * 1024


def io_counters() -> dict[str, int]:
    """This process's I/O counters from /proc/self/io (Linux): ``rchar`` (bytes returned by
    read calls, page cache included), ``read_bytes`` (bytes fetched from storage), ... Zeros
    where the file does not exist."""
    try:
        pairs = (line.split(":") for line in Path("/proc/self/io").read_text().splitlines())
        return {k: int(v) for k, v in pairs}
    except OSError:
        return {"rchar": 0, "read_bytes": 0}


def fmt_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
