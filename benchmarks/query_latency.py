"""Query latency: warm text queries and "find similar" end to end, and ANN recall@10.

For each library size (synthetic clustered unit vectors stored under the default model's
identity, see ``benchmarks.vector_library``), after opening the library and a few warm-up
queries:

* text query: ``Searcher.search`` (parse, tokenise, encode, ANN search, fetch the rows) over
  100 different queries, p50 / p95, and its parts measured alone: ``Encoder.encode_texts``,
  ``Library.nearest``, ``Library.images``;
* "find similar": ``Searcher.similar(image_id)`` (stored vector, no encoding), p50 / p95;
* recall@10 of ``Library.nearest`` against exact search (numpy over the stored vectors), for
  100 held-out points drawn around the same cluster centres, and for the 100 text queries.

Run: ``python -m benchmarks.query_latency [--sizes 10000,100000,1000000]``.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import Report, base_parser, percentile
from benchmarks.models import random_weight_spec
from benchmarks.synthetic import clustered_unit_vectors
from benchmarks.vector_library import stored_vectors, vector_library

TEXT_P50_MS = 50.0      # targets at 1M vectors
SIMILAR_P50_MS = 5.0
RECALL = 0.98
TARGET_SIZE = 1_000_000

SUBJECTS = ["a dog", "a cat", "two children", "an old man", "a red car", "a bicycle",
            "a birthday cake", "a sailboat", "a mountain lake", "a busy street"]
SCENES = ["at sunset", "in the snow", "on a beach", "in the rain", "at night", "in a forest",
          "in a kitchen", "at a wedding", "in black and white", "seen from above"]


def query_texts(count: int) -> list[str]:
    """``count`` different short queries ("a dog at sunset", ...), at most 100."""
    return [f"{s} {p}" for s, p in itertools.product(SUBJECTS, SCENES)][:count]


def latencies_ms(fn, items) -> list[float]:
    out = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def exact_top10(ids: np.ndarray, vectors: np.ndarray, queries: np.ndarray,
                chunk: int = 100_000) -> list[set[int]]:
    """Exact 10 nearest ids by inner product for each row of ``queries`` (Q, D), computed in
    row chunks of ``vectors`` (N, D) so memory stays at chunk x Q scores."""
    best_ids = np.empty((len(queries), 0), np.int64)
    best = np.empty((len(queries), 0), np.float32)
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        scores = np.concatenate([best, queries @ vectors[start:start + chunk].T], axis=1)
        cand = np.concatenate([best_ids, np.broadcast_to(part, (len(queries), len(part)))], axis=1)
        top = np.argpartition(-scores, min(10, scores.shape[1] - 1), axis=1)[:, :10]
        best, best_ids = np.take_along_axis(scores, top, 1), np.take_along_axis(cand, top, 1)
    return [set(row.tolist()) for row in best_ids]


def recall_at_10(library, identity: str, queries: np.ndarray, exact: list[set[int]]) -> float:
    """Mean |Library.nearest top-10 ∩ exact top-10| / 10 over the rows of ``queries``."""
    hits = sum(len(truth & {i for i, _ in library.nearest(q, identity, 10)})
               for q, truth in zip(queries, exact))
    return hits / (10 * len(queries))


def ef_sweep(data_dir, identity: str, sets: dict, efs, k: int) -> list[list]:
    """recall@10 per query set and ANN p50 (ms, first set) for each HNSW ``ef``, by opening
    the same library with ``IndexParams(ef=...)``."""
    from clipcore.config import IndexParams
    from clipcore.library import Library

    rows = []
    for ef in efs:
        with Library.open(data_dir, IndexParams(ef=ef)) as library:
            recalls = [recall_at_10(library, identity, q, exact) for q, exact in sets.values()]
            first = next(iter(sets.values()))[0]
            ann = percentile(latencies_ms(lambda v: library.nearest(v, identity, k), first), 50)
        rows.append([ef] + [f"{r:.3f}" for r in recalls] + [f"{ann:.2f}"])
    return rows


def measure_size(n: int, encoder, texts: list[str], k: int, work: str | None,
                 efs) -> tuple[list, list]:
    """One library size: the latency/recall row, and the ef sweep rows (HNSW sizes only)."""
    from clipcore.library import Library
    from clipcore.search import Searcher

    identity = encoder.identity
    data_dir = vector_library(n, encoder.dim, encoder.spec, base=work)
    t0 = time.perf_counter()
    with Library.open(data_dir) as library:
        searcher = Searcher(library, encoder)
        searcher.search("a photo of a beach", k=k)   # loads the index
        first = time.perf_counter() - t0
        for text in ("a photo", "a photo of a tree", "holiday pictures"):
            searcher.search(text, k=k)
        text_ms = latencies_ms(lambda t: searcher.search(t, k=k), texts)
        text_vectors = encoder.encode_texts(texts)
        encode_ms = latencies_ms(lambda t: encoder.encode_texts([t]), texts)
        ann_ms = latencies_ms(lambda v: library.nearest(v, identity, k), text_vectors)
        found = [[i for i, _ in library.nearest(v, identity, k)] for v in text_vectors]
        rows_ms = latencies_ms(library.images, found)
        ids, vectors = stored_vectors(library, identity)
        targets = np.random.default_rng(7).choice(ids, size=len(texts), replace=False)
        similar_ms = latencies_ms(lambda i: searcher.similar(int(i), k=k), targets)
        held_out = clustered_unit_vectors(len(texts), encoder.dim, draw=1)
        sets = {"held-out points": (held_out, exact_top10(ids, vectors, held_out)),
                "text queries": (text_vectors, exact_top10(ids, vectors, text_vectors))}
        del ids, vectors
        recalls = [recall_at_10(library, identity, q, exact) for q, exact in sets.values()]
        hnsw = n >= library.params.exact_below
    p = percentile
    row = [n, f"{first:.2f}", f"{p(text_ms, 50):.1f}", f"{p(text_ms, 95):.1f}",
           f"{p(encode_ms, 50):.1f}", f"{p(ann_ms, 50):.2f}", f"{p(rows_ms, 50):.2f}",
           f"{p(similar_ms, 50):.2f}", f"{p(similar_ms, 95):.2f}"] + [f"{r:.3f}" for r in recalls]
    sweep = [[n] + r for r in ef_sweep(data_dir, identity, sets, efs, k)] if hnsw else []
    return row, sweep


def main(argv: list[str] | None = None) -> str:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="preset, open_clip name or config")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=100, help="different queries (<= 100)")
    parser.add_argument("--k", type=int, default=20, help="results per query")
    parser.add_argument("--work-dir", default=None, help="scratch folder for the libraries")
    parser.add_argument("--efs", default="64,128,256,512",
                        help="HNSW ef values for the recall/latency sweep")
    args = parser.parse_args(argv)

    from clipcore.config import IndexParams
    from clipcore.encoder import Encoder

    encoder = Encoder.load(random_weight_spec(args.model, args.device))
    texts = query_texts(args.queries)
    efs = [int(e) for e in args.efs.split(",")]
    rows, sweeps = [], []
    for n in args.sizes.split(","):
        row, sweep = measure_size(int(n), encoder, texts, args.k, args.work_dir, efs)
        rows.append(row)
        sweeps += sweep

    params = IndexParams()
    report = Report("Query latency")
    report.emit(f"Model {args.model} ({Path(encoder.spec.name).stem}, random weights, {encoder.dim}-d, text prefix encoding "
                f"{'on' if encoder.text_prefix else 'off'}) on {encoder.device_description}; "
                f"{len(texts)} different queries, k={args.k}; HNSW M={params.M}, "
                f"ef_construction={params.ef_construction}, ef={params.ef}, exact search below "
                f"{params.exact_below:,} vectors. Times in ms unless noted.\n")
    report.table(["vectors", "open + first query (s)", "text p50", "text p95", "encode p50",
                  "ANN p50", "rows p50", "similar p50", "similar p95",
                  "recall@10 (held-out points)", "recall@10 (text queries)"], rows)
    if sweeps:
        report.emit("HNSW recall@10 and ANN latency by ef (same libraries, k as above):\n")
        report.table(["vectors", "ef", "recall@10 (held-out points)", "recall@10 (text queries)",
                      "ANN p50 (ms, text queries)"], sweeps)
    for row in rows:
        recall = min(float(row[9]), float(row[10]))
        report.target(f"recall@10 >= {RECALL} at {row[0]:,} vectors (both query sets)",
                      f"{recall:.3f}", recall >= RECALL)
    at_target = [r for r in rows if r[0] == TARGET_SIZE]
    if at_target:
        text_p50, similar_p50 = float(at_target[0][2]), float(at_target[0][7])
        report.target(f"text query p50 <= {TEXT_P50_MS:.0f} ms at 1M", f"{text_p50:.1f} ms",
                      text_p50 <= TEXT_P50_MS)
        report.target(f"find similar p50 <= {SIMILAR_P50_MS:.0f} ms at 1M",
                      f"{similar_p50:.2f} ms", similar_p50 <= SIMILAR_P50_MS)
    return report.text()


if __name__ == "__main__":
    main(sys.argv[1:])
