"""Whole-file SHA-256 of model files (checkpoints, model configs), cached so it stays cheap.

A model's identity keys its vectors in the catalog, so it must change whenever any byte of its
weights changes: a fine-tune of the last layers leaves the first megabytes of a checkpoint
as they were (issue 15). Hashing a 600 MB checkpoint takes a second or two, so the digest is
cached by the file's (real path, size, mtime_ns, ctime_ns, inode, device): in memory for the
process and in ``<cache dir>/file-hashes.json`` across runs. Any change to the file -- a
rewrite, a copy over it, a rename onto it, even one that restores the mtime -- changes the
inode or the ctime, and the file is hashed again. A file that changes while it is hashed is
hashed but not cached.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading

__all__ = ["CACHE_NAME", "file_sha256"]

CACHE_NAME = "file-hashes.json"
MAX_ENTRIES = 256            # the disk cache keeps the most recent ones
_CHUNK = 1 << 20

_lock = threading.Lock()
_memory: dict[str, str] = {}
_disk: dict[str, str] | None = None     # loaded on first use


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (64 hex chars) of the whole file at ``path``, from the cache when the file's
    (real path, size, mtime, ctime, inode, device) are unchanged. Raises OSError when the file
    cannot be read."""
    real = os.path.realpath(os.fspath(path))
    key = _key(real, os.stat(real))
    with _lock:
        hit = _memory.get(key) or _load_disk().get(key)
    if hit:
        _memory[key] = hit
        return hit
    h = hashlib.sha256()
    with open(real, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
        after = _key(real, os.fstat(fh.fileno()))
    digest = h.hexdigest()
    if after == key:
        with _lock:
            _memory[key] = digest
            _store(key, digest)
    return digest


def _key(real: str, st: os.stat_result) -> str:
    return f"{real}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}|{st.st_ino}|{st.st_dev}"


def _cache_path():
    from .config import resolve_cache_dir
    from .errors import ClipcoreError

    try:
        return resolve_cache_dir() / CACHE_NAME
    except (ClipcoreError, OSError):
        return None


def _load_disk() -> dict[str, str]:
    global _disk
    if _disk is None:
        _disk = {}
        path = _cache_path()
        with contextlib.suppress(OSError, ValueError, TypeError):
            if path is not None:
                data = json.loads(path.read_text(encoding="utf-8"))
                _disk = {str(k): str(v) for k, v in data.items() if len(str(v)) == 64}
    return _disk


def _store(key: str, digest: str) -> None:
    """Add to the disk cache (atomic replace); a cache that cannot be written is no error."""
    disk = _load_disk()
    disk.pop(key, None)
    disk[key] = digest
    while len(disk) > MAX_ENTRIES:
        disk.pop(next(iter(disk)))
    path = _cache_path()
    if path is None:
        return
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(disk), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
