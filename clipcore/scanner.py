"""CONTRACT STUB (owned by the imaging helper)."""
from __future__ import annotations
from dataclasses import dataclass
from typing import Iterable, Iterator


@dataclass(frozen=True)
class FileEntry:
    path: str        # absolute path (symlinks NOT resolved: the path the user sees)
    size: int        # bytes
    mtime_ns: int    # st_mtime_ns


@dataclass(frozen=True)
class ScanProblem:
    path: str
    reason: str      # "permission denied", "symlink loop", "broken symlink", "folder vanished", ...


def scan_folder(root: str, exclude: Iterable[str] = ()) -> Iterator[FileEntry | ScanProblem]:
    """Walk root recursively, yield image files (by extension) and problems. Follows symlinks
    safely (each real directory visited once, no loops), skips hidden dirs, never writes."""
    raise NotImplementedError


def content_hash(path: str) -> str:
    """Cheap content hash used to recognise moved/renamed files (hex str). Raises OSError."""
    raise NotImplementedError
