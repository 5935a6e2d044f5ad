"""The plan of an index run after its scan: the files to embed, and the changes that need
no embedding (clipcore.indexer step 2): folders that are offline keep their photos, new files
that are a deleted photo come back (tombstones) and new files that are a vanished one are a
move (same size and content hash: the row keeps its id and vectors).
"""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass, field

from . import offline, scanner
from .catalog import Changes, ImageStatus, IndexedImage, KnownImage, MovedImage
from .library import Library
from .progress import IndexSummary

__all__ = ["Plan", "Work", "find_moves", "keep_offline", "restore"]

log = logging.getLogger("clipcore.indexer")


@dataclass
class Work:
    """A file to decode and embed."""

    entry: scanner.FileEntry
    folder_id: int
    image_id: int | None       # the existing row (changed / missing vector), None if new


@dataclass
class Plan:
    """What one index run does: ``work`` to embed, ``changes`` to commit at once."""

    work: list[Work] = field(default_factory=list)
    changes: Changes = field(default_factory=Changes)
    complete: bool = True      # False when cancelled during the scan


def keep_offline(plan: Plan, gone: dict[str, KnownImage], scan: offline.ScannedFolder,
                  summary: IndexSummary) -> None:
    """The folders of one scan that are offline (clipcore.offline.verdicts) keep their photos:
    the vanished ones are taken out of ``gone``, new files there are not indexed."""
    updates, away = offline.verdicts(scan, sorted(p for p in gone if offline.inside(p, scan.path)))
    plan.changes.volumes.extend(updates)
    for folder, reason in away.items():
        kept = [gone.pop(p) for p in list(gone) if offline.inside(p, folder)]
        plan.work = [w for w in plan.work if not offline.inside(w.entry.path, folder)]
        summary.offline[folder] = reason
        summary.kept_offline += len(scan.known) if scan.reason else len(kept)
        log.warning("%s is offline (%s); its photos stay in the library and searchable until "
                    "it is back or until you remove it from the library.", folder, reason)


def restore(library: Library, plan: Plan, identity: str, summary: IndexSummary) -> None:
    """New files whose content hash has a tombstone (a photo deleted in the last
    ``tombstone_days``, catalog.tombstones) get that vector back instead of being embedded.
    Only new files of a size some tombstone has are hashed."""
    model_id = library.catalog.model_id(identity)
    if model_id is None:
        return
    sizes = library.catalog.tombstone_sizes(model_id)
    if not sizes:
        return
    still_new = []
    for w in plan.work:
        found = digest = None
        if w.image_id is None and w.entry.size in sizes:
            try:
                digest = scanner.content_hash(w.entry.path)
                found = library.catalog.tombstone(digest, model_id)
            except OSError:
                pass
        if found is None:
            still_new.append(w)
            continue
        plan.changes.indexed.append(IndexedImage(
            w.entry.path, w.folder_id, w.entry.size, w.entry.mtime_ns, found.vector, digest,
            found.width, found.height, found.date_taken, found.date_source))
        summary.restored += 1
    plan.work = still_new


def find_moves(plan: Plan, gone: dict[str, KnownImage], summary: IndexSummary) -> None:
    """A new file with the size and content hash of a vanished one is that file, moved:
    it keeps its row (id, vectors). Only new files whose size matches are hashed."""
    by_size: dict[int, list[tuple[str, KnownImage]]] = collections.defaultdict(list)
    for path, row in gone.items():
        if row.status == ImageStatus.OK and row.content_hash:
            by_size[row.size].append((path, row))
    if not by_size:
        return
    still_new = []
    for w in plan.work:
        candidates = (by_size.get(w.entry.size) if w.image_id is None else None) or []
        match = None
        if candidates:
            try:
                digest = scanner.content_hash(w.entry.path)
            except OSError:
                digest = None
            match = next((c for c in candidates if c[1].content_hash == digest), None)
        if match is None:
            still_new.append(w)
            continue
        candidates.remove(match)
        old_path, old = match
        del gone[old_path]
        plan.changes.moved.append(MovedImage(old.id, w.entry.path, w.folder_id,
                                             w.entry.size, w.entry.mtime_ns))
        summary.moved += 1
    plan.work = still_new
