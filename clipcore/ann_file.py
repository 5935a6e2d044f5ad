"""A saved hnswlib file read without hnswlib: cheap verification and exact search over its vectors.

Loading a 1M-vector index into hnswlib takes seconds (2.3 GB read, one allocation per element),
and ``hnswlib.Index.load_index`` holds Python's GIL all along. So a big index is first opened
here (:class:`IndexFile`): memory-mapped, checked cheaply (:func:`quick_check`: size, header,
and the CRC-32 of a sample of its 1 MiB blocks, which the sidecar lists), and its vectors are
searched exactly (one strided matrix-vector product over the mapping, no copy) while hnswlib
loads the file in the background after the whole-file check (see clipcore.ann_cache).

The file layout is hnswlib's ``HierarchicalNSW::saveIndex`` (hnswalg.h): a 96-byte header
(six size_t: offsetLevel0, max_elements, cur_element_count, size_data_per_element,
label_offset, offsetData; int maxlevel; uint32 enterpoint; size_t maxM, maxM0, M; double
mult; size_t ef_construction), then ``cur_element_count`` elements of
``size_data_per_element`` bytes (level-0 links, the vector as dim float32 at offsetData, the
label as size_t at label_offset), then the upper levels' links.
"""

from __future__ import annotations

import mmap
import random
import struct
import zlib
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["IndexFile", "BLOCK_BYTES", "checksums", "quick_check", "full_check"]

BLOCK_BYTES = 1 << 20     # the sidecar lists the CRC-32 of every block of this size
SAMPLED_BLOCKS = 16       # blocks checked on open (plus the first and the last): 16 MiB read
HEADER_BYTES = 96


class _Stale(Exception):
    """Raised by the checks; clipcore.ann turns it into StaleIndex (kept apart so this module
    does not import ann, which imports it)."""


def checksums(path: Path, stop: Callable[[], bool] | None = None
              ) -> tuple[int, int, list[int]]:
    """(size in bytes, CRC-32 of the whole file, CRC-32 of each BLOCK_BYTES block), one read;
    ``stop()`` True between blocks -> _Stale("loading was cancelled")."""
    whole, size, blocks = 0, 0, []
    with open(path, "rb") as fh:
        while chunk := fh.read(BLOCK_BYTES):
            if stop is not None and stop():
                raise _Stale("loading was cancelled")
            whole = zlib.crc32(chunk, whole)
            blocks.append(zlib.crc32(chunk))
            size += len(chunk)
    return size, whole, blocks


def quick_check(path: Path, info: dict) -> None:
    """Check ``path`` against its sidecar ``info`` without reading it all: the size, the
    header's dim and count, and the CRC-32 of the first, the last and SAMPLED_BLOCKS random
    blocks. Raises _Stale (-> StaleIndex) with the reason; needs ``info["blocks"]``."""
    blocks = info["blocks"]
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise _Stale("it is missing") from exc
    if size != info.get("bytes") or len(blocks) != -(-size // BLOCK_BYTES):
        raise _Stale("it is truncated or corrupt")
    picks = {0, len(blocks) - 1} | set(random.Random().sample(range(len(blocks)),
                                                               min(SAMPLED_BLOCKS, len(blocks))))
    with open(path, "rb") as fh:
        for i in sorted(picks):
            fh.seek(i * BLOCK_BYTES)
            if zlib.crc32(fh.read(BLOCK_BYTES)) != blocks[i]:
                raise _Stale("it is truncated or corrupt")


def full_check(path: Path, info: dict, stop: Callable[[], bool] | None = None) -> list[int]:
    """Read the whole file: size and CRC-32 as the sidecar says (else _Stale); returns the
    block CRCs (to add to a sidecar that lacks them). ``stop``: as for :func:`checksums`."""
    try:
        size, whole, blocks = checksums(path, stop)
    except FileNotFoundError as exc:
        raise _Stale("it is missing") from exc
    if (size, whole) != (info.get("bytes"), info.get("crc32")) or (
            "blocks" in info and blocks != info["blocks"]):
        raise _Stale("it is truncated or corrupt")
    return blocks


class IndexFile:
    """The vectors and labels of a saved hnswlib file (space "ip"), memory-mapped read-only.

    ``count`` elements of ``dim`` float32; labels are the catalog's image ids. Elements that
    hnswlib had marked deleted are included: callers re-score candidates against the catalog,
    which drops them. The mapping stays valid after the file is replaced (atomic rename).
    Raises _Stale when the header does not describe ``dim``-d vectors in a file of this size.
    """

    def __init__(self, path: Path, dim: int):
        with open(path, "rb") as fh:
            self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        if len(self._map) < HEADER_BYTES:
            raise _Stale("it is truncated or corrupt")
        level0, _, count, per_element, label_at, data_at = struct.unpack_from("<6Q", self._map)
        if (label_at - data_at) != 4 * dim or per_element % 4 or data_at % 4 or (
                HEADER_BYTES + level0 + count * per_element > len(self._map)):
            raise _Stale(f"its header does not describe {dim}-d vectors")
        start = HEADER_BYTES + level0
        self.count, self.dim = count, dim
        self.vectors = np.ndarray((count, dim), "<f4", buffer=self._map, offset=start + data_at,
                                  strides=(per_element, 4))
        self._labels = np.ndarray((count,), "<u8", buffer=self._map, offset=start + label_at,
                                  strides=(per_element,))
        self._all_labels: np.ndarray | None = None

    def scores(self, query: np.ndarray) -> np.ndarray:
        """(count,) float32 inner products of every stored vector with ``query`` (D,) float32:
        one BLAS matrix-vector product straight over the mapping (the row stride is a whole
        number of floats, so no copy)."""
        return self.vectors @ np.asarray(query, np.float32)

    def labels(self, rows: np.ndarray | None = None) -> np.ndarray:
        """int64 labels of ``rows`` (row numbers), or of every element (read once, kept)."""
        if rows is not None:
            return self._labels[rows].astype(np.int64)
        if self._all_labels is None:
            self._all_labels = self._labels.astype(np.int64)
        return self._all_labels

    def sample(self, n: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """(labels (n,), vectors (n, D)) of ``n`` elements spread over the file."""
        rows = np.unique(np.linspace(0, max(self.count - 1, 0), n).astype(np.int64))
        return self.labels(rows), np.array(self.vectors[rows], np.float32)
