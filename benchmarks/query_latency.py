"""Query latency: warm text queries and "find similar" end to end, and ANN recall@10.

For each library size (synthetic clustered unit vectors stored under the default model's
identity, see ``benchmarks.vector_library``), after opening the library and a few warm-up
queries:

* text query: ``Searcher.search`` (parse, tokenise, encode, ANN search, fetch the rows) over
  100 different queries, p50 / p95, and its parts measured alone: ``Encoder.encode_texts``,
  ``Library.nearest``, ``Library.images``;
* "find similar": ``Searcher.similar(image_id)`` (stored vector, no encoding), p50 / p95;
* recall@10 of ``Library.nearest`` against exact search (numpy over the stored vectors), for
  100 held-out points around the same cluster centres, 100 off-manifold points (3x the
  spread) and the 100 text queries' embeddings; and recall/latency for a few HNSW ``ef``.

Run: ``python -m benchmarks.query_latency [--sizes 10000,100000,1000000]``.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import Report, base_parser, percentile
from benchmarks.models import random_weight_spec
from benchmarks.synthetic import clustered_unit_vectors
from benchmarks.vector_library import stored_vectors, vector_library
from clipcore.config import IndexParams

TEXT_P50_MS = 20.0      # targets at 1M vectors (issue 14)
SIMILAR_P50_MS = 2.0
FIRST_S = 1.0           # open + first results
TEXT_RECALL = 0.995     # off-manifold points, searched as text
TEXT_ANN_MS = 5.0
RECALL = 0.98
TARGET_SIZE = 1_000_000
BUSY_SIZE = 100_000     # --busy: text query p50 with one core taken
BUSY_TEXT_P50_MS = 150.0

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


def recall_at_10(library, identity: str, queries: np.ndarray, exact: list[set[int]],
                 text: bool = False) -> float:
    """Mean |Library.nearest top-10 ∩ exact top-10| / 10 over the rows of ``queries``
    (``text``: searched as text queries, with the wider beam)."""
    hits = sum(len(truth & {i for i, _ in library.nearest(q, identity, 10, text=text)})
               for q, truth in zip(queries, exact))
    return hits / (10 * len(queries))


def ef_sweep(data_dir, identity: str, sets: dict, efs, k: int) -> list[list]:
    """recall@10 per query set and ANN p50 (ms, last set) for each HNSW ``ef``, by opening
    the same library with ``IndexParams(ef=...)`` (a fixed ef: no growth with the size)."""
    import dataclasses

    from clipcore.config import IndexParams
    from clipcore.library import Library

    rows = []
    for ef in efs:
        params = dataclasses.replace(IndexParams(ef=ef), ef_step=1 << 62,
                                     load_in_background_above=1 << 62)
        with Library.open(data_dir, params) as library:
            recalls = [recall_at_10(library, identity, q, exact) for q, exact in sets.values()]
            last = list(sets.values())[-1][0]
            ann = percentile(latencies_ms(lambda v: library.nearest(v, identity, k), last), 50)
        rows.append([ef] + [f"{r:.3f}" for r in recalls] + [f"{ann:.2f}"])
    return rows


def evict(data_dir: Path) -> None:
    """Drop the library's files from the OS page cache (posix_fadvise DONTNEED, these files
    only), so the next open reads them from storage as after a reboot."""
    for path in data_dir.iterdir():
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def open_first(data_dir: Path, encoder, k: int) -> dict:
    """A fresh Library: seconds to the first text query's results, to the first "find
    similar" results, and until the HNSW index has loaded (in the background)."""
    from clipcore.library import Library
    from clipcore.search import Searcher

    out = {}
    t0 = time.perf_counter()
    with Library.open(data_dir) as library:
        searcher = Searcher(library, lambda: encoder)
        first = searcher.search("a photo of a beach", k=k)
        out["first"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        searcher.similar(first[-1].id, k=k)
        out["first similar"] = time.perf_counter() - t1
        out["answered from file"] = library.ann.loading(encoder.identity)
        library.ann.wait_loaded(encoder.identity)
        out["loaded"] = time.perf_counter() - t0
    return out


def measure_size(n: int, encoder, texts: list[str], k: int, work: str | None,
                 efs, cheap: bool) -> dict:
    """One library size: latencies (ms lists), recall@10 per query set, ef sweep rows."""
    from clipcore.library import Library
    from clipcore.search import Searcher

    identity, dim = encoder.identity, encoder.dim
    data_dir = vector_library(n, dim, encoder.spec, base=work, cheap=cheap)
    out: dict = open_first(data_dir, encoder, k)
    out["n"] = n
    if n >= 200_000:
        evict(data_dir)
        out["cold"] = open_first(data_dir, encoder, k)
    with Library.open(data_dir) as library:
        searcher = Searcher(library, lambda: encoder)
        searcher.search("a photo of a beach", k=k)
        library.ann.wait_loaded(identity)
        for text in ("a photo", "a photo of a tree", "holiday pictures"):
            searcher.search(text, k=k)
        ids, vectors = stored_vectors(library, identity)
        targets = [int(i) for i in np.random.default_rng(7).choice(ids, len(texts), replace=False)]
        out["text"] = latencies_ms(lambda t: searcher.search(t, k=k), texts)
        out["repeated"] = latencies_ms(lambda t: searcher.search(t, k=k), texts)   # remembered
        out["similar"] = latencies_ms(lambda i: searcher.similar(i, k=k), targets)
        others = [" ".join(t.split(" ")[::-1]) for t in texts]    # same tokens, not remembered
        text_vectors = encoder.encode_texts(texts)
        out["encode"] = latencies_ms(lambda t: encoder.encode_texts([t]), others)
        out["ann"] = latencies_ms(lambda v: library.nearest(v, identity, k, text=True),
                                  text_vectors)
        out["ann image"] = latencies_ms(lambda v: library.nearest(v, identity, k),
                                        vectors[:: max(1, len(vectors) // 100)][:100])
        found = [[i for i, _ in library.nearest(v, identity, k)] for v in text_vectors]
        out["rows"] = latencies_ms(library.images, found)
        queries = {"held-out points": clustered_unit_vectors(len(texts), dim, draw=1),
                   "off-manifold points": clustered_unit_vectors(len(texts), dim, spread=2.0,
                                                                 draw=2),
                   "random-model text": text_vectors}
        sets = {name: (q, exact_top10(ids, vectors, q)) for name, q in queries.items()}
        off = sets["off-manifold points"][0]
        out["ann off"] = latencies_ms(lambda v: library.nearest(v, identity, k, text=True), off)
        del ids, vectors
        out["recall"] = {name: recall_at_10(library, identity, q, exact)
                         for name, (q, exact) in sets.items()}
        out["recall text"] = {name: recall_at_10(library, identity, q, exact, text=True)
                              for name, (q, exact) in sets.items()}
        hnsw = n >= library.params.exact_below
    out["sweep"] = [[n] + r for r in ef_sweep(data_dir, identity, sets, efs, k)] if hnsw else []
    return out


def busy_core():
    """A process that keeps one core busy (as an index run does) until it is killed."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def main(argv: list[str] | None = None) -> str:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="preset, open_clip name or config")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=100, help="different queries (<= 100)")
    parser.add_argument("--k", type=int, default=20, help="results per query")
    parser.add_argument("--work-dir", default=None, help="scratch folder for the libraries")
    parser.add_argument("--efs", default="64,128,256,512,1024",
                        help="HNSW ef values for the recall/latency sweep")
    parser.add_argument("--busy", action="store_true",
                        help="another process keeps one core busy meanwhile (as indexing does)")
    parser.add_argument("--cheap-graph", action="store_true",
                        help="build new libraries with HNSW M=16, ef_construction=64 (faster "
                             "to build; recall below the defaults')")
    args = parser.parse_args(argv)

    from clipcore.encoder import Encoder

    encoder = Encoder.load(random_weight_spec(args.model, args.device))
    encoder.warm_up()
    texts = query_texts(args.queries)
    efs = [int(e) for e in args.efs.split(",")]
    busy = busy_core() if args.busy else None
    try:
        results = [measure_size(int(n), encoder, texts, args.k, args.work_dir, efs,
                                args.cheap_graph) for n in args.sizes.split(",")]
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()

    params, p = IndexParams(), percentile
    report = Report("Query latency" + (" while another process keeps a core busy"
                                       if args.busy else ""))
    graph = "M=16, ef_construction=64 (--cheap-graph)" if args.cheap_graph else \
        f"M={params.M}, ef_construction={params.ef_construction}"
    report.emit(f"Model {args.model} ({Path(encoder.spec.name).stem}, random weights, "
                f"{encoder.dim}-d, text prefix encoding {'on' if encoder.text_prefix else 'off'}) "
                f"on {encoder.device_description} (a query: 1 thread); {len(texts)} different "
                f"queries, k={args.k}; HNSW {graph}; ef {params.ef} per started "
                f"{params.ef_step:,} vectors for image queries, {params.text_ef} per started "
                f"{params.text_ef_step:,} for text queries; exact search below "
                f"{params.exact_below:,} vectors; indexes over "
                f"{params.load_in_background_above:,} vectors load in the background (searches "
                "answered exactly from the file meanwhile). Times in ms unless noted.\n")
    report.table(["vectors", "open + first text query (s)", "then first similar (s)",
                  "HNSW loaded after (s)", "the same, file not cached (s)"],
                 [[r["n"], f"{r['first']:.2f}" + (" (file)" if r["answered from file"] else ""),
                   f"{r['first similar']:.2f}", f"{r['loaded']:.2f}",
                   (f"{r['cold']['first']:.2f} / {r['cold']['loaded']:.2f}"
                    if "cold" in r else "-")] for r in results])
    report.table(["vectors", "text p50", "text p95", "repeated text p50", "encode p50",
                  "ANN p50 text", "ANN p50 image", "rows p50", "similar p50", "similar p95"],
                 [[r["n"], f"{p(r['text'], 50):.1f}", f"{p(r['text'], 95):.1f}",
                   f"{p(r['repeated'], 50):.1f}", f"{p(r['encode'], 50):.1f}",
                   f"{p(r['ann'], 50):.2f}", f"{p(r['ann image'], 50):.2f}",
                   f"{p(r['rows'], 50):.2f}", f"{p(r['similar'], 50):.2f}",
                   f"{p(r['similar'], 95):.2f}"] for r in results])
    names = list(results[0]["recall"])
    report.emit("recall@10 of `Library.nearest` against exact search, per query set, searched "
                "as image queries / as text queries (the wider beam): held-out "
                "points around the library's cluster centres; off-manifold points (3x the "
                "spread: cosine ~0.45 to their centre, like a text query near its photos); the "
                "random-weight model's text embeddings (unrelated to the synthetic vectors: no "
                "neighbourhood structure, a worst case a trained model does not produce).\n")
    report.table(["vectors"] + names,
                 [[r["n"]] + [f"{r['recall'][name]:.3f} / {r['recall text'][name]:.3f}"
                              for name in names] for r in results])
    sweeps = [row for r in results for row in r["sweep"]]
    if sweeps:
        report.emit("HNSW recall@10 and ANN latency by ef (the same libraries):\n")
        report.table(["vectors", "ef"] + names + ["ANN p50 (ms, random-model text)"], sweeps)
    for r in results:
        recall = min(r["recall"][name] for name in names[:1])
        report.target(f"recall@10 >= {RECALL} at {r['n']:,} vectors ({names[0]}, image beam)",
                      f"{recall:.3f}", recall >= RECALL)
    for r in results:
        if args.busy and r["n"] == BUSY_SIZE:
            text_p50 = p(r["text"], 50)
            report.target(f"text query p50 <= {BUSY_TEXT_P50_MS:.0f} ms at {BUSY_SIZE:,} with "
                          "a core busy", f"{text_p50:.1f} ms", text_p50 <= BUSY_TEXT_P50_MS)
        if r["n"] != TARGET_SIZE:
            continue
        report.target(f"first results <= {FIRST_S:.0f} s after opening 1M (file cached)",
                      f"{r['first']:.2f} s", r["first"] <= FIRST_S)
        off, ann = r["recall text"]["off-manifold points"], p(r["ann off"], 50)
        report.target(f"off-manifold recall@10 >= {TEXT_RECALL} with ANN p50 <= "
                      f"{TEXT_ANN_MS:.0f} ms at 1M (text beam)", f"{off:.3f}, {ann:.2f} ms",
                      off >= TEXT_RECALL and ann <= TEXT_ANN_MS)
        if not args.busy:
            text_p50, similar_p50 = p(r["text"], 50), p(r["similar"], 50)
            report.target(f"text query p50 <= {TEXT_P50_MS:.0f} ms at 1M", f"{text_p50:.1f} ms",
                          text_p50 <= TEXT_P50_MS)
            report.target(f"find similar p50 <= {SIMILAR_P50_MS:.0f} ms at 1M",
                          f"{similar_p50:.2f} ms", similar_p50 <= SIMILAR_P50_MS)
    return report.text()


if __name__ == "__main__":
    main(sys.argv[1:])
