"""Drives that come and go: is a library folder (or a part of one on another drive) offline?

An unplugged drive, an unmounted NAS share or a sleeping network folder must never cost the
user the photos indexed there: the indexer asks this module before it removes anything, and an
*offline* folder keeps all its catalog rows and vectors (they stay searchable) until the user
removes the folder (``clipcore remove``, the app's Remove). No SQL here; the catalog stores the
:class:`~clipcore.catalog.volumes.Volume` rows.

A *volume* is a library folder, or a folder inside one whose device (``st_dev``) differs from
its parent's (a mount point, or a symlink to another drive), as the scanner reports them. A
volume is offline when, at scan time, it is

- missing (``"folder not found"``), a symlink whose target is missing (``"link target
  missing"``), not a folder, unreadable (``"permission denied"``), or any other I/O error;
- found, but none of the photos the catalog holds for it are there, and either it holds no
  photos at all (``"empty: drive not mounted?"``: an unmounted drive leaves an empty mount
  point) or its device changed (``"another drive is mounted here"``).

A drive re-plugged under a new device number is simply online again: its known photos are found.
A folder the user deleted inside a library folder on the same drive is not a volume: its photos
are removed (and kept as tombstones, so they come back without being embedded again).
"""

from __future__ import annotations

import bisect
import os
import stat
from dataclasses import dataclass, field

from .catalog.volumes import Volume, VolumeUpdate

__all__ = ["Volume", "VolumeUpdate", "ScannedFolder", "verdicts", "reachability", "judge",
           "device_of", "inside", "MISSING", "DANGLING",
           "UNREADABLE", "NOT_A_FOLDER", "EMPTY", "OTHER_DEVICE"]

MISSING = "folder not found"
DANGLING = "link target missing"
UNREADABLE = "permission denied"
NOT_A_FOLDER = "not a folder"
EMPTY = "empty: drive not mounted?"
OTHER_DEVICE = "another drive is mounted here"


def device_of(path: str) -> int | None:
    """st_dev of ``path`` (symlinks followed), or None when it cannot be stat'ed."""
    try:
        return os.stat(path).st_dev
    except OSError:
        return None


def reachability(path: str) -> str | None:
    """None when ``path`` is a folder that can be listed, else the offline reason.
    Costs one stat and the first entry of one listing; never raises."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return DANGLING if os.path.islink(path) else MISSING
    except PermissionError:
        return UNREADABLE
    except OSError as exc:
        return f"I/O error: {exc.strerror or exc}"
    if not stat.S_ISDIR(st.st_mode):
        return NOT_A_FOLDER
    try:
        with os.scandir(path) as it:
            next(it, None)
    except FileNotFoundError:
        return MISSING
    except PermissionError:
        return UNREADABLE
    except OSError as exc:
        return f"I/O error: {exc.strerror or exc}"
    return None


def judge(known: int, known_found: int, photos_found: int, dev_now: int | None,
          dev_before: int | None) -> str | None:
    """After a scan of a reachable volume: None (online: the scan's removals can be trusted)
    or the offline reason. ``known``: photos the catalog held for it before the scan;
    ``known_found``: how many of them the scan found at their path; ``photos_found``: image files
    the scan found in all; ``dev_now`` / ``dev_before``: its st_dev now / when last seen."""
    if known == 0 or known_found > 0:
        return None
    if photos_found == 0:
        return EMPTY
    if dev_before is not None and dev_now is not None and dev_now != dev_before:
        return OTHER_DEVICE
    return None


def inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` itself or lies below it (both absolute, normalised)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


@dataclass
class ScannedFolder:
    """What one scan of a library folder (or a folder inside one) saw, for :func:`verdicts`.
    Paths absolute; ``known`` / ``found`` sorted."""

    folder_id: int
    path: str
    volumes: dict[str, Volume]                        # the catalog's volumes inside ``path``
    known: list[str]                                  # catalog paths before the scan
    found: list[str] = field(default_factory=list)    # image files the scan found
    devices: dict[str, int] = field(default_factory=dict)   # scanner: where devices change
    reason: str | None = None                         # unreachable: not scanned at all
    is_folder: bool = True                            # the library folder itself


def verdicts(scan: ScannedFolder, gone: list[str]) -> tuple[list[VolumeUpdate], dict[str, str]]:
    """Judge the volumes of one scan. ``gone``: sorted catalog paths under ``scan.path`` that
    the scan did not find (moves already paired). Returns the volume updates to record and
    {offline folder: reason}: the photos under those folders must be kept, not removed.

    Order: the scanned folder itself; then drives mounted inside it, deepest first; then any
    folder that is now completely empty while every photo the catalog held under it is gone
    (an unmounted drive leaves an empty mount point), which becomes a volume of its own."""
    root, fid = scan.path, scan.folder_id
    updates: list[VolumeUpdate] = []
    away: dict[str, str] = {}
    gone = list(gone)

    def keep(folder: str, reason: str) -> None:
        gone[:] = [p for p in gone if not inside(p, folder)]
        updates.append(VolumeUpdate(folder, fid, None, reason))
        away[folder] = reason

    before = scan.volumes.get(root)
    reason = scan.reason or judge(len(scan.known), len(scan.known) - len(gone), len(scan.found),
                                  scan.devices.get(root), before.dev if before else None)
    if reason is not None:
        keep(root, reason)
        return updates, away
    if scan.is_folder or root in scan.volumes:
        updates.append(VolumeUpdate(root, fid, scan.devices.get(root), None))
    for path in sorted((p for p in scan.volumes if p != root), key=len, reverse=True):
        if any(inside(p, path) for p in gone):
            known = _count_under(scan.known, path)
            reason = reachability(path) or judge(
                known, known - _count_under(gone, path), _count_under(scan.found, path),
                scan.devices.get(path) or device_of(path), scan.volumes[path].dev)
            if reason is not None:
                keep(path, reason)
                continue
        if path in scan.devices:
            updates.append(VolumeUpdate(path, fid, scan.devices[path], None))
    for path, dev in scan.devices.items():
        if path != root and path not in scan.volumes:
            updates.append(VolumeUpdate(path, fid, dev, None))
    checked: set[str] = set()
    for p in list(gone):
        if away and any(inside(p, f) for f in away):
            continue
        folder = os.path.dirname(p)
        while folder != root and inside(folder, root) and not os.path.lexists(folder):
            folder = os.path.dirname(folder)
        if folder == root or folder in checked or not inside(folder, root):
            continue
        checked.add(folder)
        if reachability(folder) is None and _is_empty(folder):
            keep(folder, EMPTY)
    return updates, away


def _count_under(sorted_paths: list[str], folder: str) -> int:
    lo = folder.rstrip(os.sep) + os.sep
    return bisect.bisect_left(sorted_paths, lo + "\U0010ffff") - bisect.bisect_left(sorted_paths, lo)


def _is_empty(folder: str) -> bool:
    try:
        with os.scandir(folder) as it:
            return next(it, None) is None
    except OSError:
        return False
