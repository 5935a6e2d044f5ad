"""CONTRACT STUB (owned by the storage helper): the indexing pipeline as a generator."""
from __future__ import annotations
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator


@dataclass
class IndexSummary:
    new: int = 0
    changed: int = 0
    moved: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)   # reason -> count
    seconds: float = 0.0
    images_per_second: float = 0.0
    cancelled: bool = False


@dataclass
class ProgressEvent:
    phase: str                 # "scan" | "load-model" | "encode" | "commit" | "done"
    done: int                  # images processed in this run so far
    total: int                 # images to process in this run (known after scan)
    rate: float                # images / second (encode phase)
    eta_seconds: float | None
    current: str | None        # path being processed
    summary: IndexSummary | None = None   # set on the final "done" event


def index_folders(library, folders: Iterable[str], spec, *,
                  encoder=None, cancel=None, batch_size: int | None = None,
                  workers: int | None = None, thumbnails=None) -> Iterator[ProgressEvent]:
    """Scan folders (adding them to the library), embed new/changed images, keep moved ones,
    remove deleted ones; commit every few hundred images or seconds. ``encoder`` is an Encoder or
    None (loaded lazily from ``spec`` only if there is work). ``cancel`` is a threading.Event
    checked between batches. ``thumbnails`` is an optional callable(path, PIL image) fed from the
    same decode. The last event has phase "done" and a summary."""
    raise NotImplementedError
