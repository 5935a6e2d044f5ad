"""Search quality of the small shapes model, through clipcore's own Encoder.

    HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.shapes_quality [--per-class 20] [--model shapes]

Draws a fresh held-out set (tools/shapes.py, seed and size chosen by flags), embeds it with
clipcore.encoder.Encoder and prints precision@1/5/10 of text queries "a <colour> <shape>" and of
image queries (each image against all the others), per class and averaged, precision@10 of
colour-only and shape-only queries, zero-shot accuracy, and the training record stored in the
weights' safetensors metadata (training time, steps, seed, command).
"""

from __future__ import annotations

import argparse
import time

from safetensors import safe_open

from clipcore.encoder import Encoder
from clipcore.presets import resolve_model_spec
from tools.train_shapes import heldout_metrics

KEYS = ("text_p@1", "text_p@5", "text_p@10", "image_p@1", "image_p@5", "image_p@10")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="shapes", help="preset name or open_clip config JSON")
    parser.add_argument("--checkpoint", default=None, help="weights file (default: the preset's)")
    parser.add_argument("--per-class", type=int, default=20, help="held-out images per class")
    parser.add_argument("--max-side", type=int, default=1024, help="largest image side, px")
    parser.add_argument("--seed", type=int, default=4242)
    args = parser.parse_args(argv)

    spec = resolve_model_spec(args.model, checkpoint=args.checkpoint, device="cpu")
    encoder = Encoder.load(spec)
    start = time.monotonic()
    m = heldout_metrics(encoder.encode_images, encoder.encode_texts, seed=args.seed,
                        per_class=args.per_class, max_side=args.max_side)
    seconds = time.monotonic() - start

    print(f"model {spec.identity()} on {encoder.device_description}; "
          f"{args.per_class} images per class, sides 32-{args.max_side} px, seed {args.seed}")
    print(f"{'class':<16}" + "".join(f"{k:>11}" for k in KEYS))
    for name, row in m["per_class"].items():
        print(f"{name:<16}" + "".join(f"{row[k]:>11.3f}" for k in KEYS))
    print(f"{'mean':<16}" + "".join(f"{m[k]:>11.3f}" for k in KEYS))
    print(f"colour-only p@10 {m['colour_p@10']:.3f}   shape-only p@10 {m['shape_p@10']:.3f}   "
          f"zero-shot accuracy {m['zero_shot']:.3f}   (drawing + encoding took {seconds:.0f} s)")
    if spec.checkpoint and spec.checkpoint.endswith(".safetensors"):
        with safe_open(spec.checkpoint, framework="pt") as f:
            meta = f.metadata() or {}
        if "training_seconds" in meta:
            print(f"training: {float(meta['training_seconds']) / 60:.1f} min, {meta['steps']} steps of "
                  f"{meta['batch_size']}, seed {meta['seed']}, {meta['threads']} threads; "
                  f"command: {meta['command']}")


if __name__ == "__main__":
    main()
