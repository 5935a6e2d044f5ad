"""Libraries of synthetic vectors (10k to 1M images) for the query and memory benchmarks.

Built through the library's own write API: one ``Library.apply`` with every image, which
commits the catalog rows and then builds the HNSW index from the catalog on all cores (the
same path as a rebuild); ``close()`` saves it. The image rows name files that do not exist
(only search is measured). A built library is kept in the scratch folder and reused by later
runs with the same size, dimension and model identity; building 1M 512-d vectors with
M=32, ef_construction=200 takes long on a 2-core CPU, so it is built once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.synthetic import clustered_unit_vectors, work_dir


def vector_library(n: int, dim: int, spec, base: Path | None = None, cheap: bool = False
                   ) -> Path:
    """Data dir of a library holding ``n`` clustered unit vectors of ``dim`` for ``spec``
    (built on first use; progress goes to stderr). ``cheap``: its HNSW graph is built with
    M=16, ef_construction=64 (several times faster; lower recall), in a folder of its own."""
    from clipcore.config import IndexParams
    from clipcore.library import Changes, IndexedImage, Library

    tag = hashlib.sha256(spec.identity().encode()).hexdigest()[:8]
    root = work_dir(base) / (f"vectors-{n}-{dim}-{tag}" + ("-M16-efc64" if cheap else ""))
    data_dir, done = root / "data", root / ".complete"
    if done.exists():
        return data_dir
    photos = root / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(data_dir, ignore_errors=True)   # an interrupted earlier build
    print(f"building a library of {n:,} vectors ({dim}-d) in {root} ...", file=sys.stderr)
    t0 = time.perf_counter()
    vectors = clustered_unit_vectors(n, dim)
    params = IndexParams(M=16, ef_construction=64) if cheap else None
    with Library.open(data_dir, params) as library:
        folder = library.add_folder(str(photos))
        library.set_model_spec(spec)
        changes = Changes(indexed=[
            IndexedImage(path=os.path.join(photos, f"{i // 1000:04d}", f"IMG_{i:07d}.jpg"),
                         folder_id=folder.id, size=3_000_000, mtime_ns=1_600_000_000_000_000_000,
                         vector=vectors[i], width=4000, height=3000)
            for i in range(n)])
        library.apply(changes, spec, dim, save=True)
    done.touch()
    print(f"built in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return data_dir


def stored_vectors(library, identity: str) -> tuple[np.ndarray, np.ndarray]:
    """(ids (N,) int64, vectors (N, D) float32) exactly as the catalog holds them."""
    model_id = library.catalog.model_id(identity)
    chunks = list(library.catalog.iter_vectors(model_id))
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])
