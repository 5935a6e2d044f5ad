"""Browsing: a text query with a one-year date filter at 100k photos (p50 target 50 ms).

A library of ``--size`` synthetic clustered unit vectors (as in ``benchmarks.vector_library``)
whose photos are dated evenly over ten years (2015-2024), so one year holds ~10% of them: more
than ``IndexParams.exact_below``, so the filtered search goes through HNSW with hnswlib's
filter. Measured after a few warm-up queries, over ``--queries`` different texts:
``Searcher.search(text, k=20, after=YEAR-01-01, before=YEAR-12-31)`` end to end (parse,
encode, date ids from the catalog, filtered ANN, rows), and its parts alone
(``Encoder.encode_texts``; ``Library.nearest`` with the date bounds; without them); and that
every filtered query returns k hits, all inside the year. The filter's ids come from a date
column read once per catalog generation (clipcore.scope); the first two filtered queries after
a catalog change (an SQL range read, then the column read again) are timed on their own.

Run: ``python -m benchmarks.browse [--size 100000]``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import shutil
import sys
from pathlib import Path

from benchmarks.common import Report, base_parser, percentile
from benchmarks.models import random_weight_spec
from benchmarks.query_latency import latencies_ms, query_texts
from benchmarks.synthetic import clustered_unit_vectors, work_dir

FILTER_P50_MS = 50.0
YEARS = range(2015, 2025)


def dated_library(n: int, dim: int, spec, base: Path | None = None, params=None) -> Path:
    """Data dir of a library of ``n`` vectors dated evenly over YEARS (built once, reused)."""
    from clipcore.library import Changes, IndexedImage, Library

    tag = hashlib.sha256(spec.identity().encode()).hexdigest()[:8]
    hnsw = f"-M{params.M}-efc{params.ef_construction}" if params is not None else ""
    root = work_dir(base) / f"dated-{n}-{dim}-{tag}{hnsw}"
    data_dir, done = root / "data", root / ".complete"
    if done.exists():
        return data_dir
    shutil.rmtree(data_dir, ignore_errors=True)
    print(f"building a dated library of {n:,} vectors in {root} ...", file=sys.stderr)
    vectors = clustered_unit_vectors(n, dim)
    start, span = dt.datetime(YEARS[0], 1, 1), (dt.datetime(YEARS[-1] + 1, 1, 1)
                                                - dt.datetime(YEARS[0], 1, 1))
    with Library.open(data_dir, params) as library:
        (root / "photos").mkdir(parents=True, exist_ok=True)
        folder = library.add_folder(str(root / "photos"))
        library.set_model_spec(spec)
        library.apply(Changes(indexed=[
            IndexedImage(path=os.path.join(root, "photos", f"{i // 1000:04d}", f"IMG_{i:07d}.jpg"),
                         folder_id=folder.id, size=3_000_000, mtime_ns=1_600_000_000_000_000_000,
                         vector=vectors[i], width=4000, height=3000,
                         date_taken=(start + span * ((i * 7919) % n) / n).isoformat(
                             timespec="seconds"), date_source="exif")
            for i in range(n)]), spec, dim, save=True)
    done.touch()
    return data_dir


def main(argv: list[str] | None = None) -> str:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="preset, open_clip name or config")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--M", type=int, default=None, help="HNSW M (default: the app's)")
    parser.add_argument("--ef-construction", type=int, default=None,
                        help="HNSW ef_construction (default: the app's)")
    args = parser.parse_args(argv)

    from clipcore.dates import year_range
    from clipcore.encoder import Encoder
    from clipcore.library import Library
    from clipcore.search import Searcher

    from clipcore.config import IndexParams

    params = IndexParams()
    if args.M or args.ef_construction:
        params = dataclasses.replace(params, M=args.M or params.M,
                                     ef_construction=args.ef_construction or params.ef_construction)
    encoder = Encoder.load(random_weight_spec(args.model, args.device))
    data_dir = dated_library(args.size, encoder.dim, encoder.spec, args.work_dir,
                             params if params != IndexParams() else None)
    texts = query_texts(args.queries)
    years = [YEARS[i % len(YEARS)] for i in range(len(texts))]
    identity, k = encoder.identity, args.k
    with Library.open(data_dir, params) as library:
        searcher = Searcher(library, lambda: encoder)
        for text in ("a photo", "a tree", "holiday"):
            searcher.search(text, k=k, dates=year_range(2020))
        jobs = list(zip(texts, years))
        end_to_end = latencies_ms(lambda j: searcher.search(j[0], k=k, dates=year_range(j[1])),
                                  jobs)
        results = [searcher.search(t, k=k, dates=year_range(y)) for t, y in jobs]
        complete = all(len(r) == k and all(h.date_taken.startswith(str(y)) for h in r)
                       for r, (_, y) in zip(results, jobs))
        vectors = encoder.encode_texts(texts)
        # texts not seen before (the encoder remembers recent query texts)
        encode = latencies_ms(lambda t: encoder.encode_texts([t]), [f"{t} photo" for t in texts])
        bounds = [year_range(y).bounds() for y in years]
        filtered = latencies_ms(lambda i: library.nearest(vectors[i], identity, k,
                                                          dates=bounds[i], text=True),
                                range(len(texts)))
        plain = latencies_ms(lambda i: library.nearest(vectors[i], identity, k, text=True),
                             range(len(texts)))
        # after a catalog change: the first filtered query reads its range from SQL, the
        # second the whole date column again
        scopes, cold, second = library.ann.scopes, [], []
        for i in range(min(10, len(texts))):
            scopes._roll(-1)
            for times in (cold, second):
                times += latencies_ms(lambda j: library.nearest(vectors[j], identity, k,
                                                                dates=bounds[j], text=True), [i])

    p = percentile
    report = Report("Browse: date filter")
    report.emit(f"Model {args.model} (random weights, {encoder.dim}-d) on "
                f"{encoder.device_description}; {args.size:,} photos dated evenly over "
                f"{YEARS[0]}-{YEARS[-1]}, one-year filter (~{args.size // len(YEARS):,} photos), "
                f"{len(texts)} different queries, k={k}; HNSW M={params.M}, "
                f"ef_construction={params.ef_construction}. Times in ms.\n")
    report.table(["photos", "text + year p50", "text + year p95", "encode p50",
                  "filtered ANN p50", "unfiltered ANN p50",
                  "after a catalog change: 1st / 2nd filtered ANN p50", "k hits, all in the year"],
                 [[args.size, f"{p(end_to_end, 50):.1f}", f"{p(end_to_end, 95):.1f}",
                   f"{p(encode, 50):.1f}", f"{p(filtered, 50):.2f}", f"{p(plain, 50):.2f}",
                   f"{p(cold, 50):.1f} / {p(second, 50):.1f}", "yes" if complete else "NO"]])
    report.target(f"text query with a one-year filter p50 <= {FILTER_P50_MS:.0f} ms at "
                  f"{args.size:,}", f"{p(end_to_end, 50):.1f} ms",
                  p(end_to_end, 50) <= FILTER_P50_MS and complete)
    return report.text()


if __name__ == "__main__":
    print(main())
