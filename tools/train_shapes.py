"""Train the small shapes CLIP model shipped in resources/models/ (CPU, deterministic).

    HF_HUB_OFFLINE=1 .venv/bin/python -m tools.train_shapes            # the shipped model
    HF_HUB_OFFLINE=1 .venv/bin/python -m tools.train_shapes --steps 100 --out /tmp/pilot

The architecture and preprocessing come from the open_clip model-config JSON
(resources/models/shapes-clip.json): an open_clip ModifiedResNet image tower, a small causal
text transformer over open_clip's own tokenizer (SimpleTokenizer, 49408 tokens) and a
``preprocess_cfg`` with ``resize_mode: "longest"`` (the whole image is scaled to fit and padded,
so a shape near the edge of a wide or tall image is never cropped away). Training uses exactly
that inference preprocessing (open_clip.image_transform_v2 on the config's PreprocessCfg).

Every step draws a fresh batch of images and captions from templates over colour+shape, colour
only and shape only, and minimises a contrastive loss with AdamW and a warmup + cosine
learning-rate schedule. The defaults are the shipped model's recipe (2026-11-30, issue 14):
2000 steps of 96 drawings of at most 128 px, the first 20% plain tools/shapes.py drawings and
the rest ``--data augmented`` (tools/shapes_augment.py: outlines, fill patterns, busy
backgrounds, occluders, small shapes, blur, noise, JPEG), ``--balanced`` batches (each of the
24 classes equally often, so every image has same-class positives and same-colour,
other-shape negatives) and ``--loss label-average``: a caption is a positive of every image it
is true of, the loss is the mean of -log p over an image's true captions (UniCL's form), plus
a supervised contrastive term among the images. Measured on an idle 2-core machine: 14.1 min;
on the evaluation renderer text precision@10 1.000 and image precision@10 0.966 (the model
before, plain drawings with open_clip's ClipLoss, 1200 steps of 128: 0.888 and 0.711, 26.9
min). ``--loss label-aware`` (-log of the probability *mass* on the true captions) has a
shortcut: the colour-only captions of an image's colour are true whatever its shape, so colour
alone meets it (runs with it reached shape-only precision@10 0.40-0.43). ``--data plain --loss
clip --no-balanced --plain-first 0 --steps 1200 --batch-size 128 --max-side 512`` is the recipe
before. ``--report-every N`` prints held-out precision on a small tools/shapes_augment.py set
while training (it does not change the training). Recipes are chosen on held-out sets from the
training renderers (tools/shapes.py and tools/shapes_augment.py, both recorded in the weights'
metadata); models are judged on tools/shapes_eval.py, a renderer training never imports
(benchmarks/shapes_quality.py).
Given a seed, a thread count and a worker count, a run is deterministic: one DataLoader worker
draws from numpy Generator(seed) (several: one Generator each, batches taken in turn), torch is
seeded and set to deterministic algorithms, and the run length is a fixed number of steps.
Torch uses one thread by default: on a shared, busy 2-core machine two OpenMP threads made each
step ~10x slower (measured: 11 s vs 1 s per step), and the drawing worker uses the other core;
the image tower runs channels-last (~30% faster on the CPU; so a rerun is not bit-identical to
the shipped weights, trained before). Training images are at most 128 px on a side by default
(the model sees 64 px); benchmarks/shapes_quality.py checks the full 32-1024 px range.
The weights are saved as float16 safetensors (open_clip's loader casts them to the model's
float32 parameters); the training wall and CPU time, load average, command and held-out
precision go into the file's metadata.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import math
import os
import resource
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
import open_clip
import torch
from open_clip.transform import PreprocessCfg, image_transform_v2
from safetensors.torch import save_file

from clipcore.text_prefix import encode_text_prefix
from tools.shapes import CLASSES, COLOURS, SHAPES, random_drawing
from tools.shapes_augment import augmented_drawing
from tools.shapes_metrics import heldout_metrics

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
COLOUR_INDEX = {c: i for i, c in enumerate(COLOURS)}
SHAPE_INDEX = {s: i for i, s in enumerate(SHAPES)}


def labelled_caption(rng: np.random.Generator, colour: str, shape: str) -> tuple[str, str | None, str | None]:
    """A random caption for an image of a ``colour`` ``shape`` (see the *_TEMPLATES), with what
    it names: (caption, colour or None, shape or None)."""
    kind = rng.choice(3, p=CAPTION_MIX)
    templates = (PAIR_TEMPLATES, COLOUR_TEMPLATES, SHAPE_TEMPLATES)[kind]
    template = templates[int(rng.integers(len(templates)))]
    first = colour if kind in (0, 1) else shape
    article = "an" if first[0] in "aeiou" and rng.random() < 0.5 else "a"
    return (template.format(a=article, c=colour, s=shape), colour if kind in (0, 1) else None,
            shape if kind in (0, 2) else None)


def caption(rng: np.random.Generator, colour: str, shape: str) -> str:
    """A random caption for an image of a ``colour`` ``shape`` (see the *_TEMPLATES)."""
    return labelled_caption(rng, colour, shape)[0]


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
    """Endless batches of drawn images: (images (B, 3, S, S) float32, caption tokens (B, L)
    int64, labels (B, 4) int64: the image's colour and shape index, then the colour and shape
    index its caption names, -1 where it names none).

    ``data``: "plain" (tools/shapes.py random_drawing, the shipped model's data) or "augmented"
    (tools/shapes_augment.py). One DataLoader worker draws from numpy Generator(seed); with
    several, each draws from its own Generator((seed, worker id)) and the DataLoader takes
    batches from them in turn, so a seed and a worker count give the same batches in the same
    order on every run.
    """

    def __init__(self, seed: int, batch_size: int, preprocess, tokenizer, max_side: int,
                 data: str = "plain", workers: int = 1, balanced: bool = False, plain_batches: int = 0):
        self.seed, self.batch_size, self.max_side = seed, batch_size, max_side
        self.preprocess, self.tokenizer = preprocess, tokenizer
        self.draw = {"plain": random_drawing, "augmented": augmented_drawing}[data]
        self.workers, self.balanced, self.plain_batches = workers, balanced, plain_batches

    def classes(self, rng: np.random.Generator) -> list[tuple[str | None, str | None]]:
        """The (colour, shape) of each image of one batch: with ``balanced``, every class
        batch_size // 24 or one more times (classes for the remainder, and the order, shuffled),
        so each image has same-class positives and same-colour, other-shape negatives in its
        batch; otherwise (None, None): each drawing picks its own class at random."""
        if not self.balanced:
            return [(None, None)] * self.batch_size
        picks = np.concatenate([np.tile(np.arange(len(CLASSES)), self.batch_size // len(CLASSES)),
                                rng.permutation(len(CLASSES))[:self.batch_size % len(CLASSES)]])
        return [CLASSES[int(i)] for i in rng.permutation(picks)]

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker = info.id if info else 0
        seed = self.seed if self.workers <= 1 else [self.seed, worker]
        rng = np.random.default_rng(seed)
        for turn in itertools.count():
            # The DataLoader takes batches from the workers in turn: this is batch number `index`.
            index = turn * max(1, self.workers) + worker
            draw = random_drawing if index < self.plain_batches else self.draw
            images, captions, labels = [], [], []
            for colour, shape in self.classes(rng):
                image, d = draw(rng, max_side=self.max_side, colour=colour, shape=shape)
                images.append(self.preprocess(image))
                text, c, s = labelled_caption(rng, d.colour, d.shape)
                captions.append(text)
                labels.append((COLOUR_INDEX[d.colour], SHAPE_INDEX[d.shape],
                               COLOUR_INDEX.get(c, -1), SHAPE_INDEX.get(s, -1)))
            yield torch.stack(images), self.tokenizer(captions), torch.tensor(labels)


def label_aware_loss(image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor,
                     labels: torch.Tensor, image_weight: float = 0.5, image_temperature: float = 0.1,
                     average: bool = False):
    """Contrastive loss that knows which captions are true of which images.

    open_clip's ClipLoss takes caption i as the only match of image i, but a batch of 128 over
    24 classes holds ~5 images of each class and colour-only / shape-only captions that are
    true of many images: ClipLoss pushes every image away from those true captions. Here a
    caption is a positive of every image it describes (``labels`` (B, 4), see DrawnBatches):

    - image -> text and text -> image: -log of the softmax probability mass on the positives
      averaged both ways. That lets an image put all its mass on the colour-only captions of
      its colour, which are true whatever its shape: a shortcut that needs no shape (the
      500-step run above). With ``average`` it is instead the mean over the positives of
      -log p (the multi-positive loss of UniCL, Yang et al. 2022, and SupCon's "L_out"): an
      image must give each true caption its share, shape-only and colour+shape ones too;
    - plus ``image_weight`` x supervised contrastive loss among the images themselves (SupCon
      "L_out", Khosla et al. 2020, temperature ``image_temperature``): images of the same class
      pull together, others (a star and a triangle of one colour too) apart. That is what an
      image query ("find similar") ranks by.

    image_features, text_features: (B, D) float32 L2-normalised. Returns a scalar tensor.
    """
    colour, shape, caption_colour, caption_shape = labels.unbind(dim=1)
    positive = (((caption_colour[None, :] == -1) | (caption_colour[None, :] == colour[:, None]))
                & ((caption_shape[None, :] == -1) | (caption_shape[None, :] == shape[:, None])))
    logits = logit_scale * image_features @ text_features.T
    ninf = torch.finfo(logits.dtype).min

    def nce(scores, pos):
        if average:
            log_p = scores - torch.logsumexp(scores, dim=1, keepdim=True)
            return -(log_p.masked_fill(~pos, 0).sum(dim=1) / pos.sum(dim=1).clamp(min=1)).mean()
        return (torch.logsumexp(scores, dim=1) - torch.logsumexp(scores.masked_fill(~pos, ninf), dim=1)).mean()

    contrastive = 0.5 * (nce(logits, positive) + nce(logits.T, positive.T))
    same = (colour[:, None] == colour[None, :]) & (shape[:, None] == shape[None, :])
    eye = torch.eye(len(labels), dtype=torch.bool)
    sim = (image_features @ image_features.T / image_temperature).masked_fill(eye, ninf)
    log_p = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    same = same & ~eye
    count = same.sum(dim=1)
    has = count > 0
    supcon = -(log_p.masked_fill(~same, 0).sum(dim=1)[has] / count[has]).mean()
    return contrastive + image_weight * supcon


def report_progress(model, preprocess, tokenizer, step: int, max_side: int) -> None:
    """Print held-out precision on a small fixed set from tools/shapes_augment.py (11 per class,
    seed 999), then put the model back in training mode. Uses no training randomness, so a run
    with reports trains exactly as one without (its CPU time counts as training)."""
    model.eval()
    m = heldout_metrics(*model_encoders(model, preprocess, tokenizer), seed=999, per_class=11,
                        max_side=max_side, renderer="augmented")
    model.train()
    print(f"step {step + 1:5d} held-out (augmented, 11/class): " + "  ".join(
        f"{k} {m[k]:.3f}" for k in ("text_p@10", "image_p@10", "colour_p@10", "shape_p@10")), flush=True)


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def train(args) -> dict:
    """Train, save float16 safetensors + metadata to ``args.out``; returns the metadata dict.

    Records in the metadata the wall time of the training loop (``training_seconds``), the CPU
    time (user + sys, from resource.getrusage) of this process and of the drawing workers, the
    load average before and after, and ``idle_estimate_seconds``: the wall time the same work
    needs on an idle 2-core machine, max(this process's CPU time, all CPU time / 2) (the
    trainer runs on one thread and cannot go faster than its own CPU time; all processes
    together cannot go faster than two cores). On a busy machine CPU time itself grows a little
    (shared caches, frequency), so the estimate errs long.
    """
    load_before = os.getloadavg()
    cpu_self, cpu_children = _cpu_seconds(resource.RUSAGE_SELF), _cpu_seconds(resource.RUSAGE_CHILDREN)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    model, preprocess, tokenizer = build_model(args.config)
    model.train()
    model.visual.to(memory_format=torch.channels_last)   # ~30% faster convolutions on the CPU

    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    warmup = max(1, args.steps // 20)

    def lr_factor(i: int) -> float:
        """Linear warmup over the first 5% of steps, then cosine decay to 0."""
        return min(1.0, (i + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(i, args.steps) / args.steps))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    clip_loss = open_clip.loss.ClipLoss()
    # Worker processes draw the next batches while this one trains, taken from them in turn.
    batches = iter(torch.utils.data.DataLoader(
        DrawnBatches(args.seed, args.batch_size, preprocess, tokenizer, args.max_side, args.data,
                     args.workers, args.balanced, round(args.plain_first * args.steps)),
        batch_size=None, num_workers=args.workers, prefetch_factor=4, persistent_workers=False))

    start = time.monotonic()
    for step in range(args.steps):
        images, tokens, labels = next(batches)
        image_features = model.encode_image(images.contiguous(memory_format=torch.channels_last),
                                            normalize=True)
        text_features = encode_captions(model, tokens)
        if args.loss == "clip":
            loss = clip_loss(image_features, text_features, model.logit_scale.exp())
        else:
            loss = label_aware_loss(image_features, text_features, model.logit_scale.exp(),
                                    labels, image_weight=args.image_weight,
                                    average=args.loss == "label-average")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))   # as open_clip's training loop does
        if args.report_every and (step + 1) % args.report_every == 0 and step < args.steps - 1:
            report_progress(model, preprocess, tokenizer, step, args.max_side)
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step:5d}/{args.steps}  loss {loss.item():.4f}  "
                  f"lr {schedule.get_last_lr()[0]:.2e}  {time.monotonic() - start:.0f} s", flush=True)
    seconds = time.monotonic() - start
    trainer_cpu = _cpu_seconds(resource.RUSAGE_SELF) - cpu_self
    del batches        # shuts the workers down and waits for them: their CPU time is counted
    gc.collect()
    worker_cpu = _cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_children
    load_after = os.getloadavg()
    idle_estimate = max(trainer_cpu, (trainer_cpu + worker_cpu) / 2)

    model.eval()
    model.visual.to(memory_format=torch.contiguous_format)
    encoders = model_encoders(model, preprocess, tokenizer)
    metrics = heldout_metrics(*encoders)
    augmented = heldout_metrics(*encoders, renderer="augmented", max_side=args.max_side)
    meta = {
        "training_seconds": f"{seconds:.1f}",
        "cpu_seconds": json.dumps({"trainer": round(trainer_cpu, 1), "worker": round(worker_cpu, 1)}),
        "idle_estimate_seconds": f"{idle_estimate:.1f}",
        "idle_estimate": "max(trainer CPU, all CPU / 2) on 2 cores",
        "load_average": f"{load_before[0]:.2f} before, {load_after[0]:.2f} after (1-min; "
                        f"15-min {load_before[2]:.2f} / {load_after[2]:.2f})",
        "steps": str(args.steps), "batch_size": str(args.batch_size), "seed": str(args.seed),
        "threads": str(args.threads), "workers": str(args.workers), "lr": str(args.lr),
        "image_weight": str(args.image_weight), "max_side": str(args.max_side),
        "data": args.data, "loss": args.loss,
        "command": "python -m tools.train_shapes " + " ".join(sys.argv[1:]),
        "torch": torch.__version__, "open_clip": open_clip.__version__,
        "balanced": str(args.balanced), "plain_first": str(args.plain_first),
        "heldout": json.dumps({k: round(v, 4) for k, v in metrics.items() if isinstance(v, float)}),
        "heldout_augmented": json.dumps({k: round(v, 4) for k, v in augmented.items()
                                         if isinstance(v, float)}),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    partial = out.with_name(out.name + ".partial")
    save_file(state, str(partial), metadata=meta)
    os.replace(partial, out)   # atomic: the shipped weights are never half-written
    print(f"trained {args.steps} steps in {seconds:.0f} s wall; CPU {trainer_cpu:.0f} s trainer + "
          f"{worker_cpu:.0f} s workers; idle 2-core estimate {idle_estimate:.0f} s; load {meta['load_average']}; "
          f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    print("held-out (tools/shapes.py):", meta["heldout"])
    print("held-out (tools/shapes_augment.py):", meta["heldout_augmented"])
    return meta


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(CONFIG), help="open_clip model-config JSON")
    parser.add_argument("--out", default=str(WEIGHTS), help="where to write the .safetensors weights")
    parser.add_argument("--steps", type=int, default=2000, help="optimizer steps (fixed, for determinism)")
    parser.add_argument("--batch-size", type=int, default=96)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; results depend on it (more than 1 is ~10x slower on a busy CPU)")
    parser.add_argument("--max-side", type=int, default=128, help="largest drawn training image side, px")
    parser.add_argument("--workers", type=int, default=1, help="drawing worker processes (results depend on it)")
    parser.add_argument("--data", choices=("plain", "augmented"), default="augmented",
                        help="plain: tools/shapes.py; augmented: tools/shapes_augment.py (the shipped model)")
    parser.add_argument("--loss", choices=("clip", "label-aware", "label-average"), default="label-average",
                        help="clip: open_clip's ClipLoss; label-aware: label_aware_loss; "
                             "label-average: label_aware_loss(average=True) (the shipped model)")
    parser.add_argument("--balanced", action=argparse.BooleanOptionalAction, default=True,
                        help="every batch holds each of the 24 classes equally often")
    parser.add_argument("--plain-first", type=float, default=0.2,
                        help="fraction of the steps (the first ones) drawn plain before --data (a curriculum)")
    parser.add_argument("--report-every", type=int, default=0,
                        help="print held-out precision every N steps (0: never); training is unchanged")
    parser.add_argument("--image-weight", type=float, default=0.5,
                        help="weight of the image-image supervised contrastive term")
    train(parser.parse_args(argv))


if __name__ == "__main__":
    main()
