"""Taking results elsewhere: copy the photos to a folder, write the list as CSV.

Copies never move or change an original: each file is copied into a new file created
exclusively (``open(..., "xb")``), so an existing file in the destination is never
overwritten; a name already taken gets a suffix ("beach.jpg" -> "beach (2).jpg", as file
managers do). Modification times are kept (``shutil.copystat``).
"""

from __future__ import annotations

import csv
import os
import shutil
from dataclasses import dataclass
from typing import Callable, Iterable, TextIO

from .errors import ClipcoreError, DiskFullError

__all__ = ["CSV_HEADER", "CopyResult", "copy_files", "write_csv"]

CSV_HEADER = ("path", "score", "date_taken", "id")
_CHUNK = 1 << 20


@dataclass
class CopyResult:
    """``copied``: (source, destination) pairs in order; ``failed``: (source, one-line reason);
    ``cancelled``: True when ``cancel`` stopped it (files copied so far stay)."""

    copied: list[tuple[str, str]]
    failed: list[tuple[str, str]]
    cancelled: bool = False


def copy_files(paths: Iterable[str], dest: str | os.PathLike, *, cancel=None,
               progress: Callable[[int, int, str], None] | None = None) -> CopyResult:
    """Copy ``paths`` into the folder ``dest`` (created if missing); never moves, never
    overwrites (a clash gets " (2)", " (3)", ... before the extension).

    ``cancel``: a threading.Event checked before each file. ``progress(done, total, path)``
    is called after each file. A file that cannot be read is listed in ``failed`` and the rest
    go on. Raises ClipcoreError when ``dest`` cannot be created or is not a folder,
    DiskFullError when the destination disk fills (the partial copy is removed).
    """
    paths = list(paths)
    dest = os.path.abspath(os.path.expanduser(os.fspath(dest)))
    try:
        os.makedirs(dest, exist_ok=True)
    except OSError as exc:
        raise ClipcoreError(f"Cannot create the folder {dest} ({exc.strerror or exc}); "
                            "choose another folder.") from exc
    result = CopyResult([], [])
    for done, src in enumerate(paths, 1):
        if cancel is not None and cancel.is_set():
            result.cancelled = True
            break
        try:
            result.copied.append((src, _copy_one(src, dest)))
        except OSError as exc:
            if exc.errno == 28:   # ENOSPC
                raise DiskFullError(f"The disk of {dest} is full after {len(result.copied)} "
                                    "photos; free some space and copy the rest.") from exc
            result.failed.append((src, (exc.strerror or str(exc)).lower()))
        if progress is not None:
            progress(done, len(paths), src)
    return result


def _copy_one(src: str, dest: str) -> str:
    stem, ext = os.path.splitext(os.path.basename(src))
    n = 1
    while True:
        target = os.path.join(dest, f"{stem}{ext}" if n == 1 else f"{stem} ({n}){ext}")
        try:
            out = open(target, "xb")
        except FileExistsError:
            n += 1
            continue
        break
    try:
        with out, open(src, "rb") as fin:
            shutil.copyfileobj(fin, out, _CHUNK)
        shutil.copystat(src, target)
    except BaseException:
        os.unlink(target)
        raise
    return target


def write_csv(hits, stream: TextIO) -> None:
    """Write hits (objects with path, score, date_taken, id) as CSV with the header
    ``path,score,date_taken,id``; score with 4 decimals, an unknown date empty."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for h in hits:
        writer.writerow((h.path, f"{h.score:.4f}", h.date_taken or "", h.id))
