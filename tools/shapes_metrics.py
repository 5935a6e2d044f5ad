"""Retrieval quality of a shapes model on freshly drawn held-out sets, from either renderer.

``renderer="train"`` draws with tools/shapes.py (the training renderer), ``renderer="augmented"``
with tools/shapes_augment.py (the training renderer's harder family); ``renderer="eval"``
with tools/shapes_eval.py (independent drawing code, never used in training; imported only
when asked for). Used by tools/train_shapes.py (the held-out record in the weights' metadata),
benchmarks/shapes_quality.py and the tests.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from tools.shapes import BACKGROUNDS, CLASSES, COLOURS, SHAPES, random_drawing

__all__ = ["RENDERERS", "precision_at_k", "draw_heldout", "retrieval_metrics", "heldout_metrics"]

RENDERERS = ("train", "augmented", "eval")


def precision_at_k(scores: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    """scores (Q, N) float, relevant (Q, N) bool -> (Q,) fraction of the top-k that is relevant."""
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(relevant, top, axis=1).mean(axis=1)


def draw_heldout(renderer: str, seed: int, per_class: int, max_side: int = 1024) -> tuple[list, list, list]:
    """``per_class`` images of each of the 24 classes, class by class.

    Returns (PIL RGB images, labels "<colour> <shape>", the drawings' records: tools.shapes
    Drawing or tools.shapes_eval EvalDrawing). ``max_side`` (px) applies to the training
    renderers only (the evaluation renderer draws 32-1024 px). Raises ValueError for an unknown
    renderer.
    """
    rng = np.random.default_rng(seed)
    images, labels, records = [], [], []
    if renderer == "train":
        draw = lambda c, s, n: random_drawing(rng, c, s, BACKGROUNDS[n % len(BACKGROUNDS)],  # noqa: E731
                                              max_side=max_side)
    elif renderer == "augmented":
        from tools.shapes_augment import augmented_drawing
        draw = lambda c, s, n: augmented_drawing(rng, max_side, c, s)  # noqa: E731
    elif renderer == "eval":
        from tools.shapes_eval import eval_drawing
        draw = lambda c, s, n: eval_drawing(rng, c, s)  # noqa: E731
    else:
        raise ValueError(f"unknown renderer {renderer!r}; expected one of {RENDERERS}")
    for c, s in CLASSES:
        for n in range(per_class):
            image, record = draw(c, s, n)
            images.append(image)
            labels.append(f"{c} {s}")
            records.append(record)
    return images, labels, records


def retrieval_metrics(img: np.ndarray, labels: Sequence[str],
                      encode_texts: Callable[[Sequence[str]], np.ndarray]) -> dict:
    """Retrieval quality over embedded images ``img`` (N, D) float32 L2-normalised, class by
    class with the same number per class (as draw_heldout returns them).

    Returns precision@1/5/10 of text queries "a <colour> <shape>" (``text_p@k``) and of image
    queries (every image against all the others, ``image_p@k``), each averaged over the classes
    and, under ``per_class``, per class; ``image_p@10_per_image`` (N,) for break-downs;
    precision@10 of colour-only queries "<colour>" counting images of that colour
    (``colour_p@10``) and of shape-only queries "a <shape>" (``shape_p@10``); zero-shot accuracy
    over the 24 captions (``zero_shot``).
    """
    labels = np.array(labels)
    names = np.array([f"{c} {s}" for c, s in CLASSES])
    per_class = len(labels) // len(names)
    text = encode_texts([f"a {name}" for name in names]) @ img.T
    sim = img @ img.T
    np.fill_diagonal(sim, -np.inf)
    per_query, out = {}, {}
    for k in (1, 5, 10):
        per_query[f"text_p@{k}"] = precision_at_k(text, labels[None, :] == names[:, None], k)
        image_p = precision_at_k(sim, labels[:, None] == labels[None, :], k)
        per_query[f"image_p@{k}"] = image_p.reshape(len(names), per_class).mean(axis=1)
        if k == 10:
            out["image_p@10_per_image"] = image_p
    out.update({key: float(v.mean()) for key, v in per_query.items()})
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


def heldout_metrics(encode_images: Callable[[list], np.ndarray],
                    encode_texts: Callable[[Sequence[str]], np.ndarray],
                    seed: int = 12345, per_class: int = 12, max_side: int = 512,
                    renderer: str = "train") -> dict:
    """retrieval_metrics on a freshly drawn held-out set (draw_heldout(renderer, seed, per_class,
    max_side)). ``encode_images`` maps a list of PIL images and ``encode_texts`` a list of
    strings to (N, D) float32 L2-normalised embeddings (any encoder: the raw open_clip model,
    clipcore's Encoder). Adds ``records``: the drawings' records, in image order.
    """
    images, labels, records = draw_heldout(renderer, seed, per_class, max_side)
    out = retrieval_metrics(encode_images(images), labels, encode_texts)
    out["records"] = records
    return out
