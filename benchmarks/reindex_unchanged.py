"""Unchanged library: re-index 100,000 already-indexed files without loading the model or
reading any file's content.

A tree of tiny JPEGs is indexed once with the tests' tiny model; then a fresh process runs
the indexer again over the unchanged tree. That process counts, with a Python audit hook,
every ``open`` of a path inside the tree, counts ``Encoder.load`` calls, and reads the bytes it
took from storage (/proc/self/io); the parent times the whole process too.

Run: ``python -m benchmarks.reindex_unchanged [--files 100000]``.
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

from benchmarks.common import REPO_ROOT, TINY_CONFIG, Report, base_parser, io_counters
from benchmarks.synthetic import tiny_photo_tree

TARGET_SECONDS = 5.0


def _index(library_dir: Path, tree: Path, spec) -> tuple[float, object]:
    from clipcore.indexer import index_folders
    from clipcore.library import Library

    t0 = time.perf_counter()
    with Library.open(library_dir) as library:
        summary = list(index_folders(library, [str(tree)], spec))[-1].summary
    return time.perf_counter() - t0, summary


def child(tree: str, data_dir: str, model: str) -> None:
    """The measured re-index; prints one JSON line."""
    from clipcore.config import ModelSpec
    from clipcore.encoder import Encoder

    root = os.path.realpath(tree) + os.sep
    opened: list[str] = []

    def audit(event, args):
        if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.fsdecode(args[0])
            if os.path.realpath(path).startswith(root):
                opened.append(path)

    sys.addaudithook(audit)
    loads = []
    real_load = Encoder.load.__func__
    Encoder.load = classmethod(lambda cls, spec: loads.append(spec) or real_load(cls, spec))
    before = io_counters()
    seconds, summary = _index(Path(data_dir), Path(tree), ModelSpec(name=model, device="cpu"))
    after = io_counters()
    print(json.dumps({
        "seconds": seconds, "unchanged": summary.unchanged, "new": summary.new,
        "changed": summary.changed, "removed": summary.removed,
        "model_loads": len(loads), "opened": len(opened), "opened_example": opened[:3],
        "read_bytes": after["read_bytes"] - before["read_bytes"],
        "rchar": after["rchar"] - before["rchar"],
    }))


def main(argv: list[str] | None = None) -> str:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--work-dir", default=None, help="scratch folder for the photo tree")
    parser.add_argument("--child", nargs=3, metavar=("TREE", "DATA_DIR", "MODEL"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return ""

    from clipcore.config import ModelSpec

    tree = tiny_photo_tree(args.files, base=args.work_dir)
    tree_bytes = sum(f.stat().st_size for f in tree.rglob("*.jpg"))
    spec = ModelSpec(name=str(TINY_CONFIG), device="cpu")
    with tempfile.TemporaryDirectory(prefix="clipdesk-bench-data-") as data_dir:
        first_seconds, first = _index(Path(data_dir), tree, spec)
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.reindex_unchanged", "--child", str(tree),
             data_dir, str(TINY_CONFIG)],
            cwd=REPO_ROOT, capture_output=True, text=True, check=True)
        process_seconds = time.perf_counter() - t0
    result = json.loads(out.stdout.strip().splitlines()[-1])

    report = Report("Unchanged library")
    report.emit(f"{args.files:,} tiny JPEGs ({tree_bytes / 1e6:.0f} MB) in "
                f"{(args.files + 999) // 1000} folders, tiny model. First index: "
                f"{first.new:,} new in {first_seconds:.1f} s.\n")
    report.table(["re-index of the unchanged tree", "value"], [
        ["indexer wall clock (open library -> done)", f"{result['seconds']:.2f} s"],
        ["whole process (Python start, imports, index)", f"{process_seconds:.2f} s"],
        ["unchanged / new / changed / removed",
         f"{result['unchanged']:,} / {result['new']} / {result['changed']} / {result['removed']}"],
        ["model loads (Encoder.load calls)", result["model_loads"]],
        ["files opened inside the tree", result["opened"]],
        ["bytes read from storage (read_bytes) / by read calls (rchar)",
         f"{result['read_bytes']:,} / {result['rchar']:,}"],
    ])
    report.target(f"re-index of {args.files:,} unchanged files <= {TARGET_SECONDS:.0f} s",
                  f"{result['seconds']:.2f} s", result["seconds"] <= TARGET_SECONDS)
    report.target("no model loaded, no file content read",
                  f"{result['model_loads']} loads, {result['opened']} files opened",
                  result["model_loads"] == 0 and result["opened"] == 0
                  and result["unchanged"] == args.files)
    return report.text()


if __name__ == "__main__":
    main(sys.argv[1:])
