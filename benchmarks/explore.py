"""Exploring a big library: duplicates, groups, map and tag refresh over N synthetic 512-d
vectors (issue 13: 100,000 vectors; duplicates <= 60 s, groups <= 60 s, map <= 3 min and
<= 1 GB extra RAM, tag refresh <= 10 s; all cancellable).

The vectors are clustered (benchmarks.synthetic) with 1% near-duplicate copies (noise of
norm 0.05). Each job runs on plain arrays, as clipcore's library functions call it; the HNSW
index the duplicate finder queries is built first (as the library keeps it, not timed as part of
the job). ``--library DATA_DIR`` instead reads the vectors of an already built library (e.g.
the 100,000-vector one benchmarks/browse.py keeps in the scratch folder, HNSW M=16,
ef_construction=64) and the duplicate finder queries that library's own saved HNSW index
through ``Library.neighbours``, as ``find_duplicates`` does; the 1% planted copies then exist
only in memory (they are the queries, their sources are in the index), and building the
100,000-vector index under load (which never finished on this machine) is skipped. Cancel
latency: a second run of each job is cancelled half-way (after half the first run's wall time,
at least 1 s), inside its longest stage; the table says how long it took to stop. Peak extra RAM: the highest RSS sampled every 50 ms during the
job minus the RSS before it. CPU seconds: the process's CPU time during the job (all threads):
on a shared machine the wall time says how long a user waited, the CPU time how much work the
job is.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np

from benchmarks.common import Report, base_parser, fmt_bytes, machine_line, rss_bytes
from benchmarks.synthetic import clustered_unit_vectors


class _Peak:
    def __init__(self):
        self.base, self.peak, self.stop = rss_bytes(), rss_bytes(), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.wait(0.05):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def _timed(fn):
    with _Peak() as peak:
        start, cpu = time.perf_counter(), time.process_time()
        result = fn(None)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return result, seconds, cpu, max(0, peak.peak - peak.base)


def _cancel_latency(fn, after: float = 1.0) -> float | None:
    from clipcore.jobs import Cancelled

    cancel = threading.Event()
    timer = threading.Timer(after, cancel.set)
    timer.start()
    start = time.perf_counter()
    try:
        fn(cancel)
    except Cancelled:
        return time.perf_counter() - start - after
    finally:
        timer.cancel()
    return None   # finished before the cancel


def main(argv=None) -> str:
    import hnswlib

    from clipcore.duplicates import group_duplicates
    from clipcore.groups import make_groups
    from clipcore.libmap import fit_layout
    from clipcore.tags import tag_scores, tag_vector

    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--library", metavar="DATA_DIR",
                        help="read the vectors + HNSW index of this built library (see above)")
    parser.add_argument("--jobs", nargs="*", default=["duplicates", "groups", "map", "tag refresh"],
                        help="which jobs to run (default: all four)")
    args = parser.parse_args(argv)
    report = Report("Exploring a library (issue 13)")
    report.emit(f"_Machine: {machine_line()}. Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
                f"`python -m benchmarks.explore "
                + (f"--library {args.library}" if args.library else f"--size {args.size}") + "`._\n")
    library = None
    if args.library:
        from clipcore.library import Library

        library = Library.open(args.library)
        ids, vectors = library.all_vectors()
        n, dim = vectors.shape
    else:
        n, dim = args.size, 512
        vectors = clustered_unit_vectors(n, dim, clusters=max(10, n // 100))
        ids = np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(0)
    dup = rng.choice(n, n // 100, replace=False)
    src = rng.choice(n, n // 100, replace=False)
    noisy = vectors[src] + 0.05 * rng.standard_normal((len(src), dim), dtype=np.float32) / np.sqrt(dim)
    vectors[dup] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    hashes = [(int(i), int(i)) for i in range(n)]
    for a, b in zip(dup.tolist(), src.tolist()):
        hashes[a] = hashes[b]

    start = time.perf_counter()
    if library is not None:
        library.neighbours(vectors[:1], 2)      # loads the saved index
        build = time.perf_counter() - start
        how = f"the saved HNSW index of {args.library} loaded in {build:.0f} s"

        def knn_all(s, e, k):   # as clipcore.duplicates.find_duplicates maps ids to rows
            found, cos = library.neighbours(vectors[s:e], k + 1)
            rows = np.searchsorted(ids, found.clip(min=0))
            rows = np.where((found >= 0) & (ids[rows.clip(max=n - 1)] == found), rows, -1)
            return rows, cos
    else:
        index = hnswlib.Index(space="ip", dim=dim)
        index.init_index(max_elements=n, M=32, ef_construction=200, random_seed=100)
        index.add_items(vectors, ids, num_threads=-1)
        index.set_ef(128)
        build = time.perf_counter() - start
        how = f"HNSW index built first in {build:.0f} s (M=32, ef_construction=200)"

        def knn_all(s, e, k):
            labels, dists = index.knn_query(vectors[s:e], k=k + 1, num_threads=-1)
            return labels.astype(np.int64), (1 - dists).astype(np.float32)

    labels = rng.standard_normal((150, dim), dtype=np.float32)
    labels /= np.linalg.norm(labels, axis=1, keepdims=True)
    tag = tag_vector(vectors[0])
    jobs = {
        "duplicates": lambda c: group_duplicates(vectors, hashes, [None] * n, knn_all=knn_all, cancel=c),
        "groups": lambda c: make_groups(ids, vectors, labels, [f"l{i}" for i in range(150)], cancel=c),
        "map": lambda c: fit_layout(ids, vectors, "auto", cancel=c),
        "tag refresh": lambda c: tag_scores(vectors, tag, labels, cancel=c),
    }
    limits = {"duplicates": 60, "groups": 60, "map": 180, "tag refresh": 10}
    rows, results = [], {}
    jobs = {name: fn for name, fn in jobs.items() if name in args.jobs}
    limits = {name: limit for name, limit in limits.items() if name in jobs}
    for name, fn in jobs.items():
        print(f"{name} ...", file=sys.stderr, flush=True)
        load = os.getloadavg()[0]
        result, seconds, cpu, extra = _timed(fn)
        stop = _cancel_latency(fn, max(1.0, seconds / 2))
        results[name] = (result, seconds, extra)
        detail = {"duplicates": lambda r: f"{len(r)} groups (planted {len(dup)} copies)",
                  "groups": lambda r: f"{len(r)} groups",
                  "map": lambda r: f"{r.method}, {len(r.ids)} photos placed",
                  "tag refresh": lambda r: f"{int((r >= 1.5).sum())} photos tagged"}[name](result)
        rows.append((name, f"{seconds:.1f}", f"{cpu:.1f}", fmt_bytes(extra),
                     "finished first" if stop is None else f"{stop:.2f}", f"{load:.2f}", detail))
        print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    report.emit(f"{n:,} vectors of {dim} dims; {how} (not part of the duplicates time).\n")
    report.table(["job", "seconds", "CPU seconds (all threads)", "peak extra RAM", "seconds to stop after cancel",
                  "load average at start", "result"], rows)
    for name, limit in limits.items():
        _, seconds, extra = results[name]
        ok = seconds <= limit and (name != "map" or extra <= 1 << 30)
        report.target(f"{name} <= {limit} s" + (" and <= 1 GB extra RAM" if name == "map" else ""),
                      f"{seconds:.1f} s" + (f", {fmt_bytes(extra)}" if name == "map" else ""), ok,
                      "" if ok else "measured under load (see the load average)")
    if library is not None:
        library.close()
    return report.text()


if __name__ == "__main__":
    main()
