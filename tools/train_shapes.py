"""Train the small shapes CLIP model shipped in resources/models/ (CPU, deterministic).

    HF_HUB_OFFLINE=1 .venv/bin/python -m tools.train_shapes            # the shipped model
    HF_HUB_OFFLINE=1 .venv/bin/python -m tools.train_shapes --steps 100 --out /tmp/pilot

The architecture and preprocessing come from the open_clip model-config JSON
(resources/models/shapes-clip.json): an open_clip ModifiedResNet image tower, a small causal
text transformer over open_clip's own tokenizer (SimpleTokenizer, 49408 tokens) and a
``preprocess_cfg`` with ``resize_mode: "longest"`` (the whole image is scaled to fit and padded,
so a shape near the edge of a wide or tall image is never cropped away). Training uses exactly
that inference preprocessing (open_clip.image_transform_v2 on the config's PreprocessCfg).

Every step draws a fresh batch of images (tools/shapes.py) and captions from templates over
colour+shape, colour only and shape only, and minimises open_clip's contrastive loss
(open_clip.loss.ClipLoss) with AdamW and a warmup + cosine learning-rate schedule. Given a seed
and a thread count, a run is deterministic: the data come from one numpy Generator (drawn by a
single DataLoader worker, in order), torch is seeded and set to deterministic algorithms, and the
run length is a fixed number of steps. Torch uses one thread by default: on a shared, busy
2-core machine two OpenMP threads made each step ~10x slower (measured: 11 s vs 1 s per step),
and the worker drawing images uses the other core. Training images are at most 512 px on a side
(after the resize to the 64 px model input a 1024 px drawing looks the same, and costs 3x more
to draw); benchmarks/shapes_quality.py checks the full 32-1024 px range.
The weights are saved as float16 safetensors (open_clip's loader casts them to the model's
float32 parameters); the training time, command and held-out precision go into the file's
metadata.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import open_clip
import torch
from open_clip.transform import PreprocessCfg, image_transform_v2
from safetensors.torch import save_file

from clipcore.text_prefix import encode_text_prefix
from tools.shapes import BACKGROUNDS, CLASSES, COLOURS, SHAPES, random_drawing

MODELS_DIR = Path(__file__).resolve().parent.parent / "resources" / "models"
CONFIG = MODELS_DIR / "shapes-clip.json"
WEIGHTS = MODELS_DIR / "shapes-clip.safetensors"

# Caption templates; {a} is "a" or, before a vowel, "an" half of the time (users type both).
PAIR_TEMPLATES = ("{c} {s}", "{a} {c} {s}", "a photo of {a} {c} {s}", "a picture of {a} {c} {s}",
                  "an image of {a} {c} {s}", "the {c} {s}", "{c} {s} shape", "a drawing of {a} {c} {s}")
COLOUR_TEMPLATES = ("{c}", "something {c}", "{a} {c} shape", "a photo of something {c}",
                    "{c} thing", "{a} {c} object", "a picture of something {c}")
SHAPE_TEMPLATES = ("{s}", "{a} {s}", "a photo of {a} {s}", "a picture of {a} {s}",
                   "{a} {s} shape", "the {s}", "an image of {a} {s}")
CAPTION_MIX = (0.6, 0.2, 0.2)   # probability of a colour+shape, colour-only, shape-only caption


def caption(rng: np.random.Generator, colour: str, shape: str) -> str:
    """A random caption for an image of a ``colour`` ``shape`` (see the *_TEMPLATES)."""
    kind = rng.choice(3, p=CAPTION_MIX)
    templates = (PAIR_TEMPLATES, COLOUR_TEMPLATES, SHAPE_TEMPLATES)[kind]
    template = templates[int(rng.integers(len(templates)))]
    first = colour if kind in (0, 1) else shape
    article = "an" if first[0] in "aeiou" and rng.random() < 0.5 else "a"
    return template.format(a=article, c=colour, s=shape)


def load_config(path: str | Path = CONFIG) -> tuple[dict, PreprocessCfg]:
    """Read an open_clip model-config JSON -> (model kwargs for open_clip.model.CLIP, PreprocessCfg).

    The PreprocessCfg merges the config's ``preprocess_cfg`` over open_clip's defaults, with
    ``size`` = the image tower's ``image_size``, exactly as open_clip.create_model does.
    """
    cfg = json.loads(Path(path).read_text())
    pp = cfg.pop("preprocess_cfg", {})
    return cfg, PreprocessCfg(**{**pp, "size": cfg["vision_cfg"]["image_size"]})


def build_model(config: str | Path = CONFIG, weights: str | Path | None = None):
    """-> (open_clip CLIP model in eval mode, preprocess transform, tokenizer) on the CPU, float32.

    ``weights``: a .safetensors file loaded with open_clip.load_checkpoint (strict), or None for
    freshly initialised weights (seed torch first for a reproducible model).
    """
    model_cfg, pp = load_config(config)
    model = open_clip.model.CLIP(**model_cfg)
    if weights is not None:
        open_clip.load_checkpoint(model, str(weights), strict=True)
    open_clip.set_model_preprocess_cfg(model, asdict(pp))
    tokenizer = open_clip.tokenizer.SimpleTokenizer(context_length=model_cfg["text_cfg"]["context_length"])
    return model.eval(), image_transform_v2(pp, is_train=False), tokenizer


def precision_at_k(scores: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    """scores (Q, N) float, relevant (Q, N) bool -> (Q,) fraction of the top-k that is relevant."""
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(relevant, top, axis=1).mean(axis=1)


def heldout_metrics(encode_images: Callable[[list], np.ndarray],
                    encode_texts: Callable[[Sequence[str]], np.ndarray],
                    seed: int = 12345, per_class: int = 12, max_side: int = 512) -> dict:
    """Retrieval quality on a freshly drawn held-out set (``per_class`` images of each class).

    ``encode_images`` maps a list of PIL images and ``encode_texts`` a list of strings to (N, D)
    float32 L2-normalised embeddings (any encoder: the raw open_clip model, clipcore's Encoder).
    Returns precision@1/5/10 of text queries "a <colour> <shape>" (``text_p@k``) and of image
    queries (every image against all the others, ``image_p@k``), each averaged over the classes
    and, under ``per_class``, per class; precision@10 of colour-only queries "<colour>" counting
    images of that colour (``colour_p@10``) and of shape-only queries "a <shape>"
    (``shape_p@10``); zero-shot accuracy over the 24 captions (``zero_shot``).
    """
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for c, s in CLASSES:
        for n in range(per_class):
            image, _ = random_drawing(rng, c, s, BACKGROUNDS[n % len(BACKGROUNDS)], max_side=max_side)
            images.append(image)
            labels.append(f"{c} {s}")
    img = encode_images(images)
    labels = np.array(labels)
    names = np.array([f"{c} {s}" for c, s in CLASSES])

    text = encode_texts([f"a {name}" for name in names]) @ img.T
    sim = img @ img.T
    np.fill_diagonal(sim, -np.inf)
    per_query = {}
    for k in (1, 5, 10):
        per_query[f"text_p@{k}"] = precision_at_k(text, labels[None, :] == names[:, None], k)
        image_p = precision_at_k(sim, labels[:, None] == labels[None, :], k)
        per_query[f"image_p@{k}"] = image_p.reshape(len(names), per_class).mean(axis=1)
    out = {key: float(v.mean()) for key, v in per_query.items()}
    out["per_class"] = {name: {key: round(float(v[i]), 3) for key, v in per_query.items()}
                        for i, name in enumerate(names)}

    image_colour = np.array([label.split()[0] for label in labels])
    image_shape = np.array([label.split()[1] for label in labels])
    for key, queries, words, truth in (
            ("colour_p@10", list(COLOURS), list(COLOURS), image_colour),
            ("shape_p@10", [f"a {s}" for s in SHAPES], list(SHAPES), image_shape)):
        relevant = truth[None, :] == np.array(words)[:, None]
        out[key] = float(precision_at_k(encode_texts(queries) @ img.T, relevant, 10).mean())
    out["zero_shot"] = float((names[text.argmax(axis=0)] == labels).mean())
    return out


def encode_captions(model, tokens: torch.Tensor) -> torch.Tensor:
    """(B, L) int64 tokens -> (B, D) float32 L2-normalised, same as model.encode_text(normalize=True).

    Runs the text transformer only up to the longest caption in the batch (plus its end token),
    exactly: :func:`clipcore.text_prefix.encode_text_prefix`, the encoding the app uses for queries.
    """
    return torch.nn.functional.normalize(encode_text_prefix(model, tokens), dim=-1)


def model_encoders(model, preprocess, tokenizer):
    """(encode_images, encode_texts) callables over a raw open_clip model, for heldout_metrics."""
    @torch.inference_mode()
    def encode_images(images):
        x = torch.stack([preprocess(im) for im in images])
        return torch.cat([model.encode_image(b, normalize=True) for b in x.split(256)]).numpy()

    @torch.inference_mode()
    def encode_texts(texts):
        return model.encode_text(tokenizer(list(texts)), normalize=True).numpy()

    return encode_images, encode_texts


class DrawnBatches(torch.utils.data.IterableDataset):
    """Endless (images (B, 3, S, S) float32, tokens (B, L) int64) batches drawn from one seed."""

    def __init__(self, seed: int, batch_size: int, preprocess, tokenizer, max_side: int):
        self.seed, self.batch_size, self.max_side = seed, batch_size, max_side
        self.preprocess, self.tokenizer = preprocess, tokenizer

    def __iter__(self):
        rng = np.random.default_rng(self.seed)
        while True:
            images, captions = [], []
            for _ in range(self.batch_size):
                image, d = random_drawing(rng, max_side=self.max_side)
                images.append(self.preprocess(image))
                captions.append(caption(rng, d.colour, d.shape))
            yield torch.stack(images), self.tokenizer(captions)


def train(args) -> dict:
    """Train, save float16 safetensors + metadata to ``args.out``; returns the metadata dict."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    model, preprocess, tokenizer = build_model(args.config)
    model.train()

    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    warmup = max(1, args.steps // 20)

    def lr_factor(i: int) -> float:
        """Linear warmup over the first 5% of steps, then cosine decay to 0."""
        return min(1.0, (i + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(i, args.steps) / args.steps))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    loss_fn = open_clip.loss.ClipLoss()
    # One worker process draws the next batch while this one trains; one worker keeps the order.
    batches = torch.utils.data.DataLoader(
        DrawnBatches(args.seed, args.batch_size, preprocess, tokenizer, args.max_side),
        batch_size=None, num_workers=1, prefetch_factor=4, persistent_workers=False)

    start = time.monotonic()
    for step, (images, tokens) in enumerate(batches):
        if step == args.steps:
            break
        image_features = model.encode_image(images, normalize=True)
        loss = loss_fn(image_features, encode_captions(model, tokens), model.logit_scale.exp())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))   # as open_clip's training loop does
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step:5d}/{args.steps}  loss {loss.item():.4f}  "
                  f"lr {schedule.get_last_lr()[0]:.2e}  {time.monotonic() - start:.0f} s", flush=True)
    seconds = time.monotonic() - start

    model.eval()
    metrics = heldout_metrics(*model_encoders(model, preprocess, tokenizer))
    meta = {
        "training_seconds": f"{seconds:.1f}",
        "steps": str(args.steps), "batch_size": str(args.batch_size), "seed": str(args.seed),
        "threads": str(args.threads), "lr": str(args.lr),
        "command": "python -m tools.train_shapes " + " ".join(sys.argv[1:]),
        "torch": torch.__version__, "open_clip": open_clip.__version__,
        "heldout": json.dumps({k: round(v, 4) for k, v in metrics.items() if k != "per_class"}),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    partial = out.with_name(out.name + ".partial")
    save_file(state, str(partial), metadata=meta)
    os.replace(partial, out)   # atomic: the shipped weights are never half-written
    print(f"trained {args.steps} steps in {seconds:.0f} s; wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    print("held-out:", meta["heldout"])
    return meta


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(CONFIG), help="open_clip model-config JSON")
    parser.add_argument("--out", default=str(WEIGHTS), help="where to write the .safetensors weights")
    parser.add_argument("--steps", type=int, default=1200, help="optimizer steps (fixed, for determinism)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; results depend on it (more than 1 is ~10x slower on a busy CPU)")
    parser.add_argument("--max-side", type=int, default=512, help="largest drawn training image side, px")
    train(parser.parse_args(argv))


if __name__ == "__main__":
    main()
