"""Decode memory: peak RSS while indexing a folder of 169-megapixel PNGs with 8 decode workers.

Each PNG is 13000 x 13000 RGB (about 0.5 MB on disk, under the decompression-bomb limit);
Pillow needs 676 MB to decode one. A fresh process loads the model (the default preset's
architecture with random weights: the same memory as the real one), then indexes the folder
with ``workers=8`` and reports its peak RSS (``ru_maxrss``). Run once with the shared decode
budget (``clipcore.budget``, default 256 megapixels) and, for comparison, once with the budget
lifted (``CLIPDESK_DECODE_MP`` very large), i.e. the behaviour before issue 15.

Run: ``python -m benchmarks.decode_memory [--images 8] [--workers 8] [--no-baseline]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO_ROOT, Report, base_parser, fmt_bytes

TARGET_BYTES = 2 * 1024**3      # issue 15: <= 2 GB with 8 workers
SIDE = 13000                     # 169 megapixels


def child(folder: str, data_dir: str, spec_json: str, workers: int) -> dict:
    """Load the model, index ``folder`` with ``workers`` decode threads; report RSS (bytes)."""
    import resource

    from clipcore.config import ModelSpec
    from clipcore.encoder import Encoder
    from clipcore.indexer import index_folders
    from clipcore.library import Library

    spec = ModelSpec(**json.loads(spec_json))
    encoder = Encoder.load(spec)
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.monotonic()
    with Library.open(data_dir) as library:
        events = list(index_folders(library, [folder], spec, encoder=encoder, workers=workers))
    summary = events[-1].summary
    return {"model_loaded": loaded, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "seconds": time.monotonic() - start, "new": summary.new, "skipped": summary.skipped}


def _run(folder: Path, spec, workers: int, budget_mp: str | None) -> dict:
    import dataclasses

    env = dict(os.environ)
    if budget_mp is not None:
        env["CLIPDESK_DECODE_MP"] = budget_mp
    with tempfile.TemporaryDirectory(prefix="clipdesk-decmem-") as data_dir:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.decode_memory", "--child", str(folder), data_dir,
             json.dumps(dataclasses.asdict(spec)), str(workers)],
            cwd=REPO_ROOT, capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"the measuring process failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> str:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--model", default="default", help="preset whose architecture is used")
    parser.add_argument("--side", type=int, default=SIDE, help="PNG width and height, px")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the run without the decode budget")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        folder, data_dir, spec_json, workers = args.child
        print(json.dumps(child(folder, data_dir, spec_json, int(workers))))
        return ""

    from benchmarks.models import random_weight_spec
    from clipcore.budget import DEFAULT_BUDGET_PIXELS
    from tests.helpers.zoo import png_solid_blocks

    spec = random_weight_spec(args.model, "cpu")
    side = args.side
    data = png_solid_blocks(side, side)
    with tempfile.TemporaryDirectory(prefix="clipdesk-169mp-") as tmp:
        folder = Path(tmp)
        for i in range(args.images):
            (folder / f"big{i:02d}.png").write_bytes(data)
        runs = [("shared decode budget (default, "
                 f"{DEFAULT_BUDGET_PIXELS // 1_000_000} MP)", None)]
        if not args.no_baseline:
            runs.append(("budget lifted (CLIPDESK_DECODE_MP=1000000)", "1000000"))
        results = [(label, _run(folder, spec, args.workers, mp)) for label, mp in runs]

    report = Report("Decode memory")
    report.emit(f"{args.images} PNGs of {side}x{side} px ({side * side / 1e6:.0f} megapixels, "
                f"{len(data) / 1e6:.2f} MB each), indexed with workers={args.workers} in a "
                f"fresh process; model: {args.model} architecture, random weights, CPU. "
                "Peak RSS is the process's ru_maxrss.\n")
    report.table(["decoding", "RSS after model load", "peak RSS", "indexed", "seconds"],
                 [[label, fmt_bytes(r["model_loaded"]), fmt_bytes(r["peak"]),
                   f"{r['new']} of {args.images}", f"{r['seconds']:.0f}"]
                  for label, r in results])
    peak = results[0][1]["peak"]
    report.target(f"Peak RSS indexing {side * side / 1e6:.0f} MP PNGs with {args.workers} "
                  "workers <= 2 GB",
                  fmt_bytes(peak), peak <= TARGET_BYTES)
    return report.text()


if __name__ == "__main__":
    main()
