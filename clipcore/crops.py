"""Every part of a photo: square crops of wide and tall photos, and their vector-index labels.

open_clip's usual preprocess ("shortest" resize mode) keeps the centre square of a photo: a
person at the edge of a 3:1 panorama, or at the top of a tall phone screenshot, never reaches
the model. A photo whose long side is more than :data:`ASPECT_LIMIT` times its short side
therefore gets, besides its whole-image vector, one vector per square crop (side = the short
side) from a row of crops that covers the whole photo, neighbours overlapping by at least
:data:`MIN_OVERLAP` of a side, so anything up to a quarter of the short side lies whole inside
one crop. The number of views is odd, so one sits exactly in the middle; when the model centre-
crops, that middle square is what the whole-image vector already saw, and it is not encoded
again. At most :data:`MAX_VIEWS` views: past 7:1 the crops no longer overlap, and past 9:1
they leave gaps.

Crops come from the decode the indexer already made (no second decode; the decode keeps the
short side >= the model's input size). Searches see a photo's crops in the vector index: its
best-scoring vector counts, and it is returned once. Everything else (find similar, duplicates,
groups, map, tags) uses the whole-image vector only.

Vector-index labels: a whole-image vector is labelled with its image id, crop ``part`` p >= 1
with ``image id + (p << PART_SHIFT)`` (image ids stay far below 2**40).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["ASPECT_LIMIT", "MIN_OVERLAP", "MAX_VIEWS", "PART_SHIFT", "crop_boxes", "crop_inputs",
           "crop_labels", "image_ids", "is_whole", "best_per_image", "needs_crops"]

ASPECT_LIMIT = 1.4      # issue 14: "photos whose aspect ratio is beyond 1.4:1"
MIN_OVERLAP = 0.25      # of a crop's side, between neighbouring views
MAX_VIEWS = 9           # crops + the middle view, at most
PART_SHIFT = 40
_IMAGE_MASK = (1 << PART_SHIFT) - 1


def crop_boxes(width: int, height: int, skip_middle: bool = True
               ) -> list[tuple[int, int, int, int]]:
    """Square crop boxes (left, upper, right, lower) in pixels of a ``width`` x ``height``
    image, in order along its long side; [] when the aspect ratio is within ASPECT_LIMIT.
    ``skip_middle``: leave out the middle view (the model's centre crop already sees it)."""
    long, short = max(width, height), min(width, height)
    if short <= 0 or not needs_crops(width, height):
        return []
    views = 1 + (long / short - 1) / (1 - MIN_OVERLAP)
    n = min(MAX_VIEWS, 2 * math.ceil((views - 1) / 2) + 1)      # odd, >= views
    step = (long - short) / (n - 1)
    boxes = []
    for i in range(n):
        if skip_middle and i == n // 2:
            continue
        a = int(round(i * step))
        boxes.append((a, 0, a + short, short) if width >= height else (0, a, short, a + short))
    return boxes


def crop_inputs(image, model: Any, full_size: tuple[int, int] | None = None,
                skip_middle: bool | None = None) -> list:
    """The model inputs of ``image``'s crops (``model.preprocess`` of each crop box, see
    :func:`crop_boxes`). ``full_size``: the photo's full-resolution (width, height) when
    ``image`` is a reduced decode of it; the boxes are chosen on it (the catalog's pixel size,
    so the decision matches :func:`needs_crops`) and scaled onto ``image``. ``skip_middle``
    defaults to whether the model centre-crops (its preprocess resize mode is "shortest").
    [] for an image that needs none."""
    if skip_middle is None:
        cfg = getattr(model, "preprocess_cfg", None) or {}
        skip_middle = cfg.get("resize_mode", "shortest") == "shortest"
    width, height = full_size or image.size
    scale = image.width / width if width else 1.0
    return [model.preprocess(image.crop(tuple(int(round(v * scale)) for v in box)))
            for box in crop_boxes(width, height, skip_middle)]


def needs_crops(width: int | None, height: int | None) -> bool:
    """Whether a photo of that full-resolution size gets crop vectors (ASPECT_LIMIT)."""
    return bool(width and height and max(width, height) > ASPECT_LIMIT * min(width, height))


def crop_labels(image_ids: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """Vector-index labels (n,) int64 of crops ``parts`` (n,) (>= 1) of ``image_ids`` (n,)."""
    return np.asarray(image_ids, np.int64) + (np.asarray(parts, np.int64) << PART_SHIFT)


def image_ids(labels: np.ndarray) -> np.ndarray:
    """The image id (n,) int64 of each vector-index label."""
    return np.asarray(labels, np.int64) & _IMAGE_MASK


def is_whole(labels: np.ndarray) -> np.ndarray:
    """Boolean (n,): which labels are whole-image vectors (not crops)."""
    return (np.asarray(labels, np.int64) >> PART_SHIFT) == 0


def best_per_image(labels: np.ndarray, scores: np.ndarray, k: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(labels, scores) best first -> (image ids, scores) best first, each image once (its
    best score), at most ``k``."""
    ids = image_ids(labels)
    _, first = np.unique(ids, return_index=True)
    first = np.sort(first)[:k]
    return ids[first], np.asarray(scores)[first]


class AllowedPhotos:
    """A filter of vector-index labels by image id (``label in allowed`` looks at the image
    id of the label), for hnswlib's filtered search: ``ids``, a set of image ids."""

    def __init__(self, ids: set[int]):
        self.ids = ids

    def __contains__(self, label: int) -> bool:
        return (label & _IMAGE_MASK) in self.ids

    def __len__(self) -> int:
        return len(self.ids)
