"""Synthetic inputs for the benchmarks: camera-size JPEGs, trees of tiny photos, clustered vectors.

Everything is written under a temporary folder (``--work-dir``, default
``$TMPDIR/clipdesk-bench``) and reused by later runs with the same parameters; nothing here is
ever committed.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np


def work_dir(path: str | os.PathLike | None = None) -> Path:
    """The benchmarks' scratch folder (created if missing)."""
    base = Path(path) if path else Path(tempfile.gettempdir()) / "clipdesk-bench"
    base.mkdir(parents=True, exist_ok=True)
    return base


def photo_array(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """(height, width, 3) uint8 image that compresses like a photo: smooth colour regions
    (random 1/100-scale colours, bicubic upsampled), a brightness gradient and sensor-like noise.
    At 4000x3000, JPEG quality 90 gives about 3.3 MB, like a 12 MP phone photo."""
    from PIL import Image

    low = rng.integers(0, 256, (max(2, height // 100), max(2, width // 100), 3), dtype=np.uint8)
    img = np.asarray(Image.fromarray(low).resize((width, height), Image.BICUBIC), np.int16)
    img += (np.linspace(-30, 30, height, dtype=np.float32)[:, None, None]
            + np.linspace(-30, 30, width, dtype=np.float32)[None, :, None]).astype(np.int16)
    img += rng.integers(-10, 11, (height, width, 1), dtype=np.int16)
    return np.clip(img, 0, 255).astype(np.uint8)


def camera_jpegs(count: int, width: int = 4000, height: int = 3000, quality: int = 90,
                 base: Path | None = None) -> Path:
    """A folder of ``count`` JPEGs of width x height px (made once, reused)."""
    from PIL import Image

    folder = work_dir(base) / f"jpeg-{width}x{height}-q{quality}-{count}"
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        path = folder / f"IMG_{i:04d}.jpg"
        if not path.exists():
            tmp = path.with_suffix(".part")
            Image.fromarray(photo_array(rng, width, height)).save(tmp, "JPEG", quality=quality)
            tmp.replace(path)
    return folder


def tiny_photo_tree(count: int, per_folder: int = 1000, base: Path | None = None) -> Path:
    """A tree of ``count`` distinct 16x16 JPEGs (about 700 bytes each), ``per_folder`` per
    sub-folder, like a big library of small files (made once, reused)."""
    from PIL import Image

    root = work_dir(base) / f"tiny-tree-{count}"
    done = root / ".complete"
    if done.exists():
        return root
    rng = np.random.default_rng(1)
    for i in range(count):
        folder = root / f"{i // per_folder:04d}"
        if i % per_folder == 0:
            folder.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(buf, "JPEG")
        (folder / f"p{i:07d}.jpg").write_bytes(buf.getvalue())
    done.touch()
    return root


def clustered_unit_vectors(n: int, dim: int, clusters: int = 1000, spread: float = 0.6,
                           seed: int = 0, draw: int = 0, chunk: int = 100_000) -> np.ndarray:
    """(n, dim) float32, L2-normalised: points scattered around ``clusters`` random centres.

    ``spread`` is the noise norm relative to the centre (0.6: cosine to the centre about 0.86,
    between points of one cluster about 0.74, between clusters about 0), a shape like
    photo embeddings, where near-duplicates and themes form groups. The centres depend on
    ``seed`` only; another ``draw`` gives new points around the same centres (held-out
    queries). Made in chunks so peak memory stays near the result's n * dim * 4 bytes.
    """
    centres = np.random.default_rng(seed).standard_normal((clusters, dim), dtype=np.float32)
    rng = np.random.default_rng([seed, draw])
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        noise = rng.standard_normal((stop - start, dim), dtype=np.float32)
        noise *= spread / np.sqrt(dim)
        block = centres[rng.integers(0, clusters, stop - start)] + noise
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:stop] = block
    return out
