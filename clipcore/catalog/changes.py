"""One indexing batch written in one transaction: new/changed images with their vectors,
skipped files, moves and removals (:meth:`ChangesTable.apply_changes`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..config import ModelSpec
from . import images as _images
from .base import Table
from .hashes import put_hashes
from .images import ImageStatus, delete_images, move_image
from .models import ModelRow, ensure_model
from .settings import has_model, write_model
from .state import bump_generation, current_generation
from .crops import crop_keys, delete_crops, put_crops
from .vectors import delete_image_vectors, put_vector
from .tombstones import bury, take_back
from .volumes import VolumeUpdate, put_volume

__all__ = ["Applied", "Changes", "ChangesTable", "IndexedImage", "MovedImage", "SkippedImage"]


@dataclass
class IndexedImage:
    """An embedded image to store: ``vector`` (D,) float32, L2-normalised."""
    path: str
    folder_id: int
    size: int
    mtime_ns: int
    vector: np.ndarray
    content_hash: str | None = None
    width: int | None = None
    height: int | None = None
    date_taken: str | None = None      # ISO 8601 (see clipcore.dates)
    date_source: str | None = None     # "exif" | "file"
    perceptual_hash: tuple[int, int] | None = None   # (pHash, dHash), see duplicates.py
    crops: np.ndarray | None = None    # (c, D) float32: square crops (clipcore/crops.py)


@dataclass
class SkippedImage:
    """A file that could not be indexed; retried once its size or mtime changes."""
    path: str
    folder_id: int
    size: int
    mtime_ns: int
    reason: str


@dataclass
class MovedImage:
    """A known image found at a new path (same content): keeps its id and vectors."""
    image_id: int
    path: str
    folder_id: int
    size: int
    mtime_ns: int


@dataclass
class Changes:
    """One catalog transaction's worth of changes (see :meth:`ChangesTable.apply_changes`)."""
    indexed: list[IndexedImage] = field(default_factory=list)
    skipped: list[SkippedImage] = field(default_factory=list)
    moved: list[MovedImage] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)    # image ids whose file is gone
    volumes: list[VolumeUpdate] = field(default_factory=list)   # online / offline verdicts

    def __len__(self) -> int:
        return (len(self.indexed) + len(self.skipped) + len(self.moved) + len(self.removed)
                + len(self.volumes))


_NO_PARTS = np.empty((0, 2), np.int64)


class Applied(NamedTuple):
    """What a committed :class:`Changes` did to the vectors (for the vector-index caches)."""
    generation: int          # of the transaction (not bumped when no vector changed)
    removed: np.ndarray      # (r,) int64 image ids that lost their vectors
    added: np.ndarray        # (a,) int64 image ids of ``changes.indexed``, same order
    model: ModelRow | None   # the model of the added vectors (None when nothing was indexed)
    removed_crops: np.ndarray = _NO_PARTS   # (r, 2) int64 (image id, part) of crops gone
    added_crops: np.ndarray = _NO_PARTS     # (c, 2) int64 (image id, part) of the crops of
                                            # ``changes.indexed``, in their order


class ChangesTable(Table):
    def apply_changes(self, changes: Changes, spec: ModelSpec | None = None,
                      dim: int | None = None) -> Applied:
        """Write ``changes`` in one transaction that bumps the generation. ``spec``/``dim``
        name the model of the ``changes.indexed`` vectors; a library without a model yet adopts
        it. Raises DiskFullError (nothing of this batch is kept), LibraryBusyError, CatalogError."""
        with self.transaction("the indexed images") as c:
            now_ns = time.time_ns()
            for v in changes.volumes:
                put_volume(c, v, now_ns)
            if len(changes) == len(changes.volumes):   # no vector changes: generation stays
                return Applied(current_generation(c), np.empty(0, np.int64),
                               np.empty(0, np.int64), None)
            generation = bump_generation(c)
            removed = [int(i) for i in changes.removed]
            gone_crops = [crop_keys(c, removed)]
            if removed:
                bury(c, removed, now_ns)     # their vectors stay findable by content hash
                delete_images(c, removed)
            for m in changes.moved:
                move_image(c, m.image_id, m.path, m.folder_id, m.size, m.mtime_ns)
            for s in changes.skipped:
                image_id = _images.upsert_image(c, s.path, s.folder_id, s.size, s.mtime_ns,
                                                ImageStatus.SKIPPED, reason=s.reason)
                if delete_image_vectors(c, image_id):
                    removed.append(image_id)
                    gone_crops.append(delete_crops(c, image_id))
            added: list[int] = []
            new_crops: list[tuple[int, int]] = []
            model: ModelRow | None = None
            if changes.indexed:
                if spec is None or dim is None:
                    raise ValueError("indexed images need the spec and dim of their model")
                model = row = ModelRow(ensure_model(c, spec, dim), spec.identity(), dim)
                if not has_model(c):
                    write_model(c, spec)    # a new library adopts the model of its first vectors
                for im in changes.indexed:
                    image_id = _images.upsert_image(
                        c, im.path, im.folder_id, im.size, im.mtime_ns, ImageStatus.OK,
                        content_hash=im.content_hash, width=im.width, height=im.height,
                        date_taken=im.date_taken, date_source=im.date_source)
                    put_vector(c, image_id, row.id, generation, im.vector)
                    dropped = put_crops(c, image_id, row.id, generation, im.crops)
                    gone_crops.append(np.stack([np.full(len(dropped), image_id), dropped], 1))
                    new_crops += [(image_id, p + 1) for p in range(
                        0 if im.crops is None else len(im.crops))]
                    put_hashes(c, image_id, im.perceptual_hash)
                    if im.content_hash:
                        take_back(c, im.content_hash, row.id)
                    added.append(image_id)
        return Applied(generation, np.asarray(removed, np.int64), np.asarray(added, np.int64),
                       model, np.concatenate(gone_crops).astype(np.int64),
                       np.asarray(new_crops, np.int64).reshape(-1, 2))
