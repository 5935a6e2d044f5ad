"""Large library: index 100,000 small photos with the tiny model watching memory, then
re-index the unchanged library without loading the model or reading any file's content.

Both runs are fresh processes (``--child``) over a tree of 16x16 JPEGs:

1. first index + 20 searches, sampling the resident set size (RSS) at every progress event;
   the growth per image (from before indexing to after the searches) is compared with what
   the vectors need in hnswlib (vector + level-0 links + label + per-element bookkeeping);
2. re-index of the unchanged tree: a Python audit hook counts every ``open`` of a path inside
   the tree, ``Encoder.load`` calls are counted, /proc/self/io gives the bytes read.

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

from benchmarks.common import (REPO_ROOT, TINY_CONFIG, Report, base_parser, fmt_bytes,
                               io_counters, peak_rss_bytes, rss_bytes)
from benchmarks.synthetic import tiny_photo_tree

TARGET_SECONDS = 5.0
GROWTH_FACTOR = 2.0     # RSS growth per image may be at most this many times the vectors' need


def hnsw_bytes_per_image(dim: int, M: int) -> int:
    """hnswlib's memory per element: the float32 vector, 2*M level-0 links (4 bytes each) and
    their count, the 8-byte label, the upper-level pointer, level and lock (hnswalg.h)."""
    return dim * 4 + (2 * M + 1) * 4 + 8 + 8 + 4 + 40


def _spec():
    from clipcore.config import ModelSpec

    return ModelSpec(name=str(TINY_CONFIG), device="cpu")


def first_index(tree: str, data_dir: str) -> dict:
    """Index the tree in a fresh library, sampling RSS; then search. Returns the numbers."""
    from benchmarks.query_latency import query_texts
    from clipcore.encoder import Encoder
    from clipcore.indexer import index_folders
    from clipcore.library import Library
    from clipcore.search import Searcher

    spec = _spec()
    encoder = Encoder.load(spec)
    samples = [(0, rss_bytes())]
    scanned = samples[0][1]
    t0 = time.perf_counter()
    with Library.open(data_dir) as library:
        for event in index_folders(library, [tree], spec, encoder=encoder):
            if event.phase in ("encode", "commit"):   # during the scan, done counts files seen
                samples.append((event.done, rss_bytes()))
            elif event.phase == "scan":
                scanned = rss_bytes()
        seconds = time.perf_counter() - t0
        summary = event.summary
        searcher = Searcher(library, lambda: encoder)
        for text in query_texts(20):
            searcher.search(text, k=20)
        after_search = rss_bytes()
    return {"seconds": seconds, "new": summary.new, "skipped": summary.skipped,
            "samples": samples, "scanned": scanned, "after_search": after_search, "peak": peak_rss_bytes(),
            "dim": encoder.dim}


def reindex(tree: str, data_dir: str) -> dict:
    """Index the unchanged tree again, counting file opens inside it and model loads."""
    from clipcore.encoder import Encoder
    from clipcore.indexer import index_folders
    from clipcore.library import Library

    root = os.path.realpath(tree) + os.sep
    opened: list[str] = []

    def audit(event, args):
        if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            if os.path.realpath(os.fsdecode(args[0])).startswith(root):
                opened.append(os.fsdecode(args[0]))

    sys.addaudithook(audit)
    loads = []
    real_load = Encoder.load.__func__
    Encoder.load = classmethod(lambda cls, *a, **kw: loads.append(a) or real_load(cls, *a, **kw))
    before = io_counters()
    t0 = time.perf_counter()
    with Library.open(data_dir) as library:
        summary = list(index_folders(library, [tree], _spec()))[-1].summary
    seconds = time.perf_counter() - t0
    after = io_counters()
    return {"seconds": seconds, "unchanged": summary.unchanged, "new": summary.new,
            "changed": summary.changed, "removed": summary.removed,
            "model_loads": len(loads), "opened": len(opened), "opened_example": opened[:3],
            "read_bytes": after["read_bytes"] - before["read_bytes"],
            "rchar": after["rchar"] - before["rchar"]}


def _run_child(step: str, tree: Path, data_dir: str) -> tuple[dict, float]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "benchmarks.reindex_unchanged", "--child",
                          step, str(tree), data_dir], cwd=REPO_ROOT, capture_output=True,
                         text=True)
    if out.returncode:
        raise RuntimeError(f"the {step} child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1]), time.perf_counter() - t0


def _sample_at(samples: list, fraction: float) -> tuple[int, int]:
    """The first (images done, RSS bytes) sample at or past ``fraction`` of the run."""
    return next(s for s in samples if s[0] >= fraction * samples[-1][0])


def main(argv: list[str] | None = None) -> str:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--work-dir", default=None, help="scratch folder for the photo tree")
    parser.add_argument("--child", nargs=3, metavar=("STEP", "TREE", "DATA_DIR"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        step, tree, data_dir = args.child
        print(json.dumps((first_index if step == "first" else reindex)(tree, data_dir)))
        return ""

    from clipcore.config import IndexParams

    tree = tiny_photo_tree(args.files, base=args.work_dir)
    tree_bytes = sum(f.stat().st_size for f in tree.rglob("*.jpg"))
    with tempfile.TemporaryDirectory(prefix="clipdesk-bench-data-") as data_dir:
        first, _ = _run_child("first", tree, data_dir)
        again, process_seconds = _run_child("again", tree, data_dir)

    samples = first["samples"]
    (q1_done, q1_rss), (q3_done, q3_rss) = _sample_at(samples, 0.25), _sample_at(samples, 0.75)
    steady = (q3_rss - q1_rss) / max(1, q3_done - q1_done)
    per_image = (first["after_search"] - samples[0][1]) / max(1, first["new"])
    need = hnsw_bytes_per_image(first["dim"], IndexParams().M)
    report = Report(f"Large library: {args.files:,} photos")
    report.emit(f"{args.files:,} 16x16 JPEGs ({tree_bytes / 1e6:.0f} MB) in "
                f"{(args.files + 999) // 1000} folders; the tests' tiny model "
                f"({first['dim']}-d). Each step is a fresh process.\n")
    report.table(["first index", "value"], [
        ["images indexed / skipped", f"{first['new']:,} / {first['skipped']:,}"],
        ["wall clock", f"{first['seconds']:.1f} s ({first['new'] / first['seconds']:.0f} images/s)"],
        ["RSS before indexing (model loaded)", fmt_bytes(samples[0][1])],
        ["RSS after the scan (the plan of work)", fmt_bytes(first["scanned"])],
        ["RSS at 25% / 50% / 75% / 100% encoded",
         " / ".join(fmt_bytes(_sample_at(samples, f)[1]) for f in (0.25, 0.5, 0.75, 1.0))],
        ["RSS after 20 searches / peak RSS",
         f"{fmt_bytes(first['after_search'])} / {fmt_bytes(first['peak'])}"],
        ["RSS growth per image while encoding (25% -> 75%)", f"{steady:,.0f} B"],
        ["RSS growth per image, whole run (before indexing -> after searches)",
         f"{per_image:,.0f} B"],
        ["what the vectors need per image (hnswlib element)", f"{need:,} B"],
    ])
    report.table(["re-index of the unchanged library", "value"], [
        ["indexer wall clock (open library -> done)", f"{again['seconds']:.2f} s"],
        ["whole process (Python start, imports, index)", f"{process_seconds:.2f} s"],
        ["unchanged / new / changed / removed",
         f"{again['unchanged']:,} / {again['new']} / {again['changed']} / {again['removed']}"],
        ["model loads (Encoder.load calls)", again["model_loads"]],
        ["files opened inside the tree", again["opened"]],
        ["bytes read from storage (read_bytes) / by read calls (rchar)",
         f"{again['read_bytes']:,} / {again['rchar']:,}"],
    ])
    report.target(f"memory growth of the run <= {GROWTH_FACTOR:.0f}x what the vectors need",
                  f"{per_image:,.0f} B vs {need:,} B per image",
                  per_image <= GROWTH_FACTOR * need)
    report.target(f"re-index of {args.files:,} unchanged files <= {TARGET_SECONDS:.0f} s",
                  f"{again['seconds']:.2f} s", again["seconds"] <= TARGET_SECONDS)
    report.target("no model loaded, no file content read",
                  f"{again['model_loads']} loads, {again['opened']} files opened",
                  again["model_loads"] == 0 and again["opened"] == 0
                  and again["unchanged"] == first["new"] + first["skipped"])
    return report.text()


if __name__ == "__main__":
    main(sys.argv[1:])
