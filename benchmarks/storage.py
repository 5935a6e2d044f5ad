"""Storage benchmarks: re-index of an unchanged library, exact-vs-HNSW crossover, search latency.

Run: ``python -m benchmarks.storage [--files 100000] [--dim 512] [--sizes 2000,5000,10000,20000,50000]``.
The catalog rows of the unchanged tree are written directly (fake vectors), so no model runs;
the re-index then goes through the real scanner and indexer. Vectors are clustered unit
vectors (tests/helpers/vectors.py). Prints plain tables.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from clipcore.ann import HnswIndex, exact_knn
from clipcore.config import IndexParams, ModelSpec
from clipcore.indexer import index_folders
from clipcore.library import Changes, IndexedImage, Library
from tests.helpers.vectors import clustered_unit_vectors


def unchanged_reindex(n_files: int) -> None:
    spec = ModelSpec(name="fake-model", pretrained="fake")
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "photos"
        paths = []
        for d in range(n_files // 1000 + 1):
            (tree / f"d{d:03d}").mkdir(parents=True)
        for i in range(n_files):
            p = tree / f"d{i // 1000:03d}" / f"img{i:06d}.jpg"
            p.touch()
            paths.append(p)
        vec = clustered_unit_vectors(1, 8)[0]
        with Library.open(Path(tmp) / "data") as lib:
            fid = lib.add_folder(str(tree)).id
            for start in range(0, n_files, 20_000):
                lib.apply(Changes(indexed=[
                    IndexedImage(str(p), fid, 0, p.stat().st_mtime_ns, vec)
                    for p in paths[start:start + 20_000]]), spec, 8)
            t0 = time.perf_counter()
            summary = list(index_folders(lib, [str(tree)], spec))[-1].summary
            seconds = time.perf_counter() - t0
    print(f"unchanged re-index: {n_files} files in {seconds:.2f} s "
          f"(unchanged={summary.unchanged}, new={summary.new}; target <= 5 s)")


def latency(fn, repeats: int = 200) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.percentile(times, 50) * 1000), float(np.percentile(times, 95) * 1000)


def crossover(dim: int, sizes: list[int]) -> None:
    params = IndexParams()
    print(f"\nexact vs HNSW, D={dim}, k=10, M={params.M} ef_construction={params.ef_construction} "
          f"ef={params.ef}, 1 search thread (ms)")
    print(f"{'N':>8} {'exact p50':>10} {'hnsw p50':>10} {'hnsw p95':>10} {'recall@10':>10} {'build s':>8}")
    for n in sizes:
        data = clustered_unit_vectors(n, dim, seed=n)
        ids = np.arange(n, dtype=np.int64)
        queries = clustered_unit_vectors(200, dim, seed=n + 1)
        t0 = time.perf_counter()
        index = HnswIndex(dim, params, capacity=n)
        index.add(ids, data, num_threads=-1)
        index.live = n
        build = time.perf_counter() - t0
        it = iter(np.tile(queries, (5, 1)))
        exact_p50, _ = latency(lambda: exact_knn(data, ids, next(it), 10))
        it = iter(np.tile(queries, (5, 1)))
        hnsw_p50, hnsw_p95 = latency(lambda: index.search(next(it), 10))
        recall = np.mean([len(set(exact_knn(data, ids, q, 10)[0]) & set(index.search(q, 10)[0])) / 10
                          for q in queries])
        print(f"{n:>8} {exact_p50:>10.2f} {hnsw_p50:>10.2f} {hnsw_p95:>10.2f} {recall:>10.3f} {build:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--sizes", default="2000,5000,10000,20000,50000")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    unchanged_reindex(args.files)
    crossover(args.dim, [int(s) for s in args.sizes.split(",")])


if __name__ == "__main__":
    main()
