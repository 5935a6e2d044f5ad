"""How the catalog stores paths: their file-system bytes, so any file name round-trips."""

from __future__ import annotations

import os

__all__ = ["fs_key", "fs_path", "path_range"]


def fs_key(path: str | os.PathLike | bytes) -> bytes:
    """The catalog's form of a path: its file-system bytes (lossless for non-UTF-8 names)."""
    return os.fsencode(path)


def fs_path(blob: bytes) -> str:
    """Inverse of :func:`fs_key`: a ``str`` path, surrogate-escaped where not decodable."""
    return os.fsdecode(bytes(blob))


def path_range(folder: str) -> tuple[bytes, bytes]:
    """[lo, hi) BLOB range of the catalog paths strictly inside the absolute path ``folder``."""
    lo = fs_key(folder.rstrip(os.sep) + os.sep)
    return lo, lo[:-1] + bytes([lo[-1] + 1])
