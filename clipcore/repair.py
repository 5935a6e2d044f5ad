"""``clipcore repair``: rebuild a damaged catalog from what can still be read.

1. The writer lock is taken (nobody indexes meanwhile).
2. ``catalog.sqlite`` (with its -wal / -shm) is moved aside to ``catalog.damaged-<time>.sqlite``:
   it is never changed or deleted.
3. A new catalog is made and every readable row of the old one copied into it, row by row,
   past damaged pages (:mod:`clipcore.catalog.recover`).
4. Images that kept their row but lost their vector get it back from the vector-index file
   (``ann-<model>.hnsw``), when it holds one that passes the vector check.
5. What is still missing is found again by the next ``clipcore index`` (files by the scan,
   vectors by embedding the photos again).

If the new catalog cannot be made, the old file is put back where it was.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .catalog import CATALOG_FILE, Catalog, Salvage
from .errors import CatalogError
from .vectorcheck import bad_rows
from .writelock import WriterLock

__all__ = ["RepairReport", "repair_catalog"]

log = logging.getLogger(__name__)


@dataclass
class RepairReport:
    """``salvage``: rows kept / dropped per table; ``from_index``: vectors taken back from the
    vector-index files; ``aside``: where the damaged file now is."""
    salvage: Salvage
    from_index: int
    aside: Path


def repair_catalog(data_dir: str | os.PathLike, lock_timeout: float = 10.0) -> RepairReport:
    """Rebuild ``<data_dir>/catalog.sqlite`` (see the module docstring). Raises CatalogError
    (no catalog there, or the folder cannot be written), LibraryBusyError."""
    data_dir = Path(data_dir)
    path = data_dir / CATALOG_FILE
    if not path.exists() or path.stat().st_size == 0:
        raise CatalogError(f"There is no catalog to repair in {data_dir} (no {CATALOG_FILE} or "
                           "an empty one); restore it from a backup.")
    with WriterLock(data_dir, lock_timeout).hold():
        aside = data_dir / f"catalog.damaged-{time.strftime('%Y%m%d-%H%M%S')}.sqlite"
        moved = _move_aside(path, aside)
        try:
            catalog = Catalog(data_dir)
            try:
                salvage = catalog.salvage_from(aside)
                restored = _vectors_from_index(catalog, data_dir)
            finally:
                catalog.close()
        except BaseException:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    Path(str(path) + suffix).unlink()
            for src, dst in moved:
                os.replace(dst, src)
            raise
    return RepairReport(salvage, restored, aside)


def _move_aside(path: Path, aside: Path) -> list[tuple[Path, Path]]:
    moved: list[tuple[Path, Path]] = []
    for suffix in ("", "-wal", "-shm"):
        src, dst = Path(str(path) + suffix), Path(str(aside) + suffix)
        if src.exists():
            try:
                os.replace(src, dst)
            except OSError as exc:
                for back_src, back_dst in moved:
                    os.replace(back_dst, back_src)
                raise CatalogError(f"The catalog {path} cannot be moved aside ({exc.strerror}); "
                                   "give clipdesk write access to its folder.") from exc
            moved.append((src, dst))
    return moved


def _vectors_from_index(catalog: Catalog, data_dir: Path) -> int:
    """Put back, from ``ann-<model id>.hnsw``, the vectors of images that lost theirs."""
    import hnswlib

    restored = 0
    for model_id, dim in catalog.model_rows():
        index_file = data_dir / f"ann-{model_id}.hnsw"
        missing = catalog.images_without_vector(model_id)
        if not index_file.exists() or not len(missing) or _sidecar_dim(index_file) != dim:
            continue
        index = hnswlib.Index(space="ip", dim=dim)
        try:
            index.load_index(str(index_file))
            labels = np.intersect1d(np.asarray(index.get_ids_list(), np.int64), missing)
            ids, vectors = [], []
            for label in labels.tolist():
                with contextlib.suppress(RuntimeError):     # deleted or unreadable label
                    vectors.append(np.asarray(index.get_items([label])[0], np.float32))
                    ids.append(label)
        except (RuntimeError, ValueError, MemoryError) as exc:
            log.warning("The vector index file %s could not be read (%s); its vectors are "
                        "embedded again by the next index run.", index_file, exc)
            continue
        if not ids:
            continue
        vectors_arr = np.stack(vectors)
        good = ~bad_rows(vectors_arr)
        catalog.restore_vectors(model_id, np.asarray(ids, np.int64)[good], vectors_arr[good])
        restored += int(good.sum())
    return restored


def _sidecar_dim(index_file: Path) -> int | None:
    """The dimension the index file's JSON sidecar records (hnswlib trusts the caller's)."""
    import json

    try:
        return int(json.loads(index_file.with_suffix(".json").read_text())["dim"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
