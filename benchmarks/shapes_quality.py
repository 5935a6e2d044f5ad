"""Search quality of the small shapes model, through clipcore's own Encoder, on two renderers.

    HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.shapes_quality [--per-class 20] [--model shapes]

Draws a fresh held-out set from each renderer: the training renderer (tools/shapes.py, other
seeds than training) and the independent evaluation renderer (tools/shapes_eval.py: different
drawing code, colours, fills, outlines, busy backgrounds, occlusion, small shapes, JPEG
artefacts; never used in training). Embeds them with clipcore.encoder.Encoder and prints, per
renderer, precision@1/5/10 of text queries "a <colour> <shape>" and of image queries (each image
against all the others of that renderer), per class and averaged, precision@10 of colour-only
and shape-only queries and zero-shot accuracy; for the evaluation renderer also image-query
precision@10 by drawing property and which shapes the wrong neighbours have. Then the training
record stored in the weights' safetensors metadata (training wall and CPU time, load average,
steps, seed, command) and the issue's targets.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

import numpy as np
from safetensors import safe_open

from benchmarks.common import Report
from clipcore.encoder import Encoder
from clipcore.presets import resolve_model_spec
from tools.shapes import SHAPES
from tools.shapes_metrics import heldout_metrics

KEYS = ("text_p@1", "text_p@5", "text_p@10", "image_p@1", "image_p@5", "image_p@10")
TARGET_TEXT, TARGET_IMAGE, TARGET_MINUTES = 0.97, 0.95, 20.0


def breakdown(report: Report, m: dict) -> None:
    """Image-query precision@10 of the evaluation set by drawing property, and shape confusions."""
    p = m["image_p@10_per_image"]
    records = m["records"]
    groups = {
        "small shape (32-64 px)": [r.small for r in records],
        "occluded 10-35%": [r.occluded > 0 for r in records],
        "outline": [r.outline for r in records],
        "JPEG q25-90": [r.quality is not None for r in records],
        "blurred": [r.blur > 0 for r in records],
        "sensor noise": [r.noise > 0 for r in records],
        "pixelated": [r.pixelated > 1 for r in records],
        **{f"background {b}": [r.background == b for r in records]
           for b in sorted({r.background for r in records})},
        **{f"fill {f}": [r.fill == f for r in records] for f in sorted({r.fill for r in records})},
    }
    rows = []
    for name, mask in groups.items():
        mask = np.array(mask)
        rows.append((name, int(mask.sum()), float(p[mask].mean()) if mask.any() else float("nan"),
                     float(p[~mask].mean()) if (~mask).any() else float("nan")))
    report.emit("Image-query precision@10 on the evaluation renderer by drawing property:\n")
    report.table(("property", "images", "p@10 with", "p@10 without"), rows)


def shape_confusion(report: Report, img: np.ndarray, labels: list[str]) -> None:
    """Among the top-10 neighbours of each image query that are not its class: their shapes."""
    shapes = np.array([label.split()[1] for label in labels])
    sim = img @ img.T
    np.fill_diagonal(sim, -np.inf)
    top = np.argsort(-sim, axis=1, kind="stable")[:, :10]
    wrong: Counter = Counter()
    for q, row in enumerate(top):
        for j in row:
            if labels[j] != labels[q]:
                wrong[(shapes[q], shapes[j] if shapes[j] != shapes[q] else "(same shape, other colour)")] += 1
    report.emit("Wrong top-10 neighbours of image queries (evaluation renderer), by query shape:\n")
    columns = [*SHAPES, "(same shape, other colour)"]
    report.table(("query shape", *columns), [(s, *(wrong[(s, c)] for c in columns)) for s in SHAPES])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="shapes", help="preset name or open_clip config JSON")
    parser.add_argument("--checkpoint", default=None, help="weights file (default: the preset's)")
    parser.add_argument("--per-class", type=int, default=20, help="held-out images per class")
    parser.add_argument("--max-side", type=int, default=1024, help="largest image side, px (training renderer)")
    parser.add_argument("--seed", type=int, default=4242)
    args = parser.parse_args(argv)

    spec = resolve_model_spec(args.model, checkpoint=args.checkpoint, device="cpu")
    encoder = Encoder.load(spec)
    report = Report("Shapes model quality")
    report.emit(f"model {spec.identity()} on {encoder.device_description}; {args.per_class} images "
                f"per class from each renderer, seed {args.seed}\n")
    results = {}
    for renderer, title in (("train", f"training renderer (tools/shapes.py), sides 32-{args.max_side} px"),
                            ("eval", "evaluation renderer (tools/shapes_eval.py), sides 32-1024 px")):
        start = time.monotonic()
        captured = {}

        def encode_images(images, captured=captured):
            captured["img"] = encoder.encode_images(images)
            return captured["img"]

        m = heldout_metrics(encode_images, encoder.encode_texts, seed=args.seed,
                            per_class=args.per_class, max_side=args.max_side, renderer=renderer)
        seconds = time.monotonic() - start
        results[renderer] = m
        report.emit(f"### {title}\n")
        report.table(("class", *KEYS), [(name, *(row[k] for k in KEYS)) for name, row in m["per_class"].items()]
                     + [("**mean**", *(m[k] for k in KEYS))])
        report.emit(f"colour-only p@10 {m['colour_p@10']:.3f}; shape-only p@10 {m['shape_p@10']:.3f}; "
                    f"zero-shot accuracy {m['zero_shot']:.3f} (drawing + encoding took {seconds:.0f} s)\n")
        if renderer == "eval":
            breakdown(report, m)
            labels = [f"{r.colour} {r.shape}" for r in m["records"]]
            shape_confusion(report, captured["img"], labels)

    minutes = None
    if spec.checkpoint and spec.checkpoint.endswith(".safetensors"):
        with safe_open(spec.checkpoint, framework="pt") as f:
            meta = f.metadata() or {}
        if "training_seconds" in meta:
            minutes = float(meta["training_seconds"]) / 60
            line = (f"training: {minutes:.1f} min wall, {meta['steps']} steps of {meta['batch_size']}, "
                    f"seed {meta['seed']}, {meta['threads']} threads; command: `{meta['command']}`")
            if "cpu_seconds" in meta:
                cpu = json.loads(meta["cpu_seconds"])
                minutes = float(meta["idle_estimate_seconds"]) / 60
                line += (f"; CPU time: trainer {cpu['trainer']:.0f} s, drawing worker {cpu['worker']:.0f} s; "
                         f"load average {meta['load_average']}; idle 2-core estimate {minutes:.1f} min "
                         f"({meta['idle_estimate']})")
            report.emit(line + "\n")

    ev = results["eval"]
    report.target("text precision@10 on the evaluation renderer >= 0.97", f"{ev['text_p@10']:.3f}",
                  ev["text_p@10"] >= TARGET_TEXT)
    report.target("image precision@10 on the evaluation renderer >= 0.95", f"{ev['image_p@10']:.3f}",
                  ev["image_p@10"] >= TARGET_IMAGE)
    if minutes is not None:
        report.target("training <= 20 min on an idle 2-core machine", f"{minutes:.1f} min",
                      minutes <= TARGET_MINUTES)


if __name__ == "__main__":
    main()
