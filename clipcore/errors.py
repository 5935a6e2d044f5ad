"""User-facing errors of clipcore.

Every error a user can cause (a bad file, a missing model, a full disk, a bad query, a busy
library) is a :class:`ClipcoreError` whose ``str()`` is one plain sentence saying what happened
and what to do. The CLI prints it and exits 1; the desktop app shows it in a message. Nothing
else should ever reach a user as a traceback.
"""

from __future__ import annotations

import os

import shutil
from pathlib import Path

__all__ = [
    "ClipcoreError",
    "ModelNotFoundError",
    "WeightsMissingError",
    "UnsafeCheckpointError",
    "CatalogError",
    "CatalogVersionError",
    "CatalogDamagedError",
    "LibraryBusyError",
    "DiskFullError",
    "QueryError",
    "ImageError",
    "NotIndexedError",
    "disk_full_error",
    "disk_nearly_full",
]

DISK_FULL_BYTES = 1 << 20   # less free space than this after an I/O error: call it a full disk


class ClipcoreError(Exception):
    """Base class: a problem the user can understand and act on. ``str(err)`` is the message."""


class ModelNotFoundError(ClipcoreError):
    """The model name, preset or config file is unknown."""


class WeightsMissingError(ModelNotFoundError):
    """The model is known but its weights are not on disk and cannot be downloaded.

    Besides the message (worded for the command line), it carries what another front end needs
    to say it in its own words: ``model`` (the model as users name it), ``folder`` (where the
    weights are expected: copying them there fixes it; None for a missing checkpoint file) and
    ``why`` (a short phrase: "this computer seems to be offline", "... answered HTTP 500")."""

    def __init__(self, message: str, *, model: str = "", folder: str | os.PathLike[str] | None = None,
                 why: str = "") -> None:
        super().__init__(message)
        self.model, self.folder, self.why = model, folder, why


class UnsafeCheckpointError(ClipcoreError):
    """A checkpoint could only be loaded by running pickled code; it was refused."""


class CatalogError(ClipcoreError):
    """The catalog (SQLite) cannot be opened or written."""


class CatalogVersionError(CatalogError):
    """The catalog was written by a newer clipdesk; it is refused and left untouched."""


class CatalogDamagedError(CatalogError):
    """The catalog file is damaged (SQLite reports corruption, or it is not a database); the
    message names ``clipcore repair``. Nothing was written to it."""


class LibraryBusyError(CatalogError):
    """Another process is writing to the same data directory."""


class DiskFullError(CatalogError):
    """The disk filled up while writing; the previous committed state is intact."""


class QueryError(ClipcoreError):
    """The query text cannot be parsed or is empty."""


class ImageError(ClipcoreError):
    """An image could not be read or decoded. ``reason`` is a short, stable, human phrase."""

    def __init__(self, reason: str, path: str | None = None):
        self.reason = reason
        self.path = path
        super().__init__(f"{path}: {reason}" if path else reason)


class NotIndexedError(ClipcoreError):
    """The library has no vectors yet for the requested model (run `clipcore index DIR`)."""


def disk_full_error(where: str) -> DiskFullError:
    """The one message for a full disk met while writing ``where`` (e.g. "the catalog")."""
    return DiskFullError(
        f"The disk is full (while writing {where}); nothing already indexed was lost. "
        "Free some disk space and try again."
    )


def disk_nearly_full(folder: Path) -> bool:
    """True when ``folder``'s file system has less than DISK_FULL_BYTES free (SQLite reports a
    full disk met while growing its -shm/-wal files as "disk I/O error"; hnswlib reports none)."""
    try:
        return shutil.disk_usage(folder).free < DISK_FULL_BYTES
    except OSError:
        return False
