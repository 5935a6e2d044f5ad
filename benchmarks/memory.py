"""Memory: resident set size (RSS) of a process holding a 1M-image vector index, per image.

A fresh process imports clipcore, opens the library of synthetic vectors (the same one as
``benchmarks.query_latency``, default model dimension), runs 100 searches (which loads the
HNSW index from its file) and fetches the result rows. The RSS it gained, divided by the
number of images, is the cost per image beyond the model (which is not loaded here).

The 100,000-photo indexing memory check is in ``benchmarks.reindex_unchanged``.

Run: ``python -m benchmarks.memory [--vectors 1000000]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from benchmarks.common import REPO_ROOT, Report, base_parser, fmt_bytes, peak_rss_bytes, rss_bytes

TARGET_BYTES_PER_IMAGE = 3000    # "<= 3 KB per image for a 512-dim model"


def child(data_dir: str, identity: str) -> dict:
    """Open the library, search, and report RSS before and after (bytes)."""
    import numpy as np

    from clipcore.library import Library

    before = rss_bytes()
    with Library.open(data_dir) as library:
        dim = library.catalog.model_dim(identity)
        queries = np.random.default_rng(3).standard_normal((100, dim)).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        for q in queries:
            library.images([i for i, _ in library.nearest(q, identity, 20)])
        after = rss_bytes()
        count = library.count(identity)
    return {"before": before, "after": after, "peak": peak_rss_bytes(), "count": count,
            "dim": dim}


def main(argv: list[str] | None = None) -> str:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="preset whose dimension is used")
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--work-dir", default=None, help="scratch folder for the library")
    parser.add_argument("--child", nargs=2, metavar=("DATA_DIR", "IDENTITY"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return ""

    from benchmarks.models import random_weight_spec
    from benchmarks.vector_library import vector_library
    from clipcore.encoder import read_model_config

    spec = random_weight_spec(args.model, "cpu")
    dim = int(read_model_config(spec.name)[0]["embed_dim"])
    data_dir = vector_library(args.vectors, dim, spec, base=args.work_dir)
    out = subprocess.run([sys.executable, "-m", "benchmarks.memory", "--child", str(data_dir),
                          spec.identity()], cwd=REPO_ROOT, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"the measuring process failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    per_image = (result["after"] - result["before"]) / result["count"]
    on_disk = {p.name: p.stat().st_size for p in Path(data_dir).iterdir() if p.is_file()}
    index_file = sum(size for name, size in on_disk.items() if name.endswith(".hnsw"))
    catalog = sum(size for name, size in on_disk.items() if name.startswith("catalog"))

    report = Report("Memory")
    report.emit(f"{result['count']:,} images, {result['dim']}-d vectors (model {args.model}), "
                "synthetic; measured in a fresh process that opens the library and runs 100 "
                "searches (no model loaded).\n")
    report.table(["", "value"], [
        ["RSS after imports", fmt_bytes(result["before"])],
        ["RSS holding the index, after 100 searches", fmt_bytes(result["after"])],
        ["peak RSS", fmt_bytes(result["peak"])],
        ["RSS per image", f"{per_image:,.0f} B"],
        ["index file / catalog on disk (per image)",
         f"{index_file / result['count']:,.0f} B / {catalog / result['count']:,.0f} B"],
    ])
    report.target(f"RSS per image <= {TARGET_BYTES_PER_IMAGE:,} B for a {result['dim']}-d model",
                  f"{per_image:,.0f} B", per_image <= TARGET_BYTES_PER_IMAGE)
    return report.text()


if __name__ == "__main__":
    main(sys.argv[1:])
