"""What an indexing run reports: its phase, its progress events and its summary (the
indexer yields them; the CLI prints them, tests assert on them, the desktop worker turns them
into signals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

__all__ = ["Phase", "IndexSummary", "ProgressEvent"]


class Phase(str, Enum):
    """What an indexing run is doing (``ProgressEvent.phase``); compares equal to its value."""

    SCAN = "scan"               # walking the folders, diffing against the catalog
    LOAD_MODEL = "load-model"   # loading the encoder (only when there is work)
    ENCODE = "encode"           # decoding + embedding a batch
    COMMIT = "commit"           # a catalog transaction (+ vector index update) was written
    DONE = "done"               # the last event; it carries the summary

    def __str__(self) -> str:
        return self.value


@dataclass
class IndexSummary:
    new: int = 0
    restored: int = 0          # came back: vector reused from a tombstone, not embedded
    changed: int = 0
    moved: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)   # reason -> count
    ignored: dict[str, int] = field(default_factory=dict)   # other files: kind -> count
    offline: dict[str, str] = field(default_factory=dict)   # offline folder -> reason
    kept_offline: int = 0      # photos kept (not removed) because their folder is offline
    unreadable_folders: dict[str, str] = field(default_factory=dict)   # path -> reason
    seconds: float = 0.0
    images_per_second: float = 0.0
    cancelled: bool = False

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.skip_reasons[reason] = self.skip_reasons.get(reason, 0) + 1


@dataclass
class ProgressEvent:
    phase: Phase
    done: int                  # images processed in this run so far
    total: int                 # images to process in this run (known after scan)
    rate: float                # images / second (encode phase)
    eta_seconds: float | None
    current: str | None        # path being processed
    summary: IndexSummary | None = None   # set on the final "done" event
