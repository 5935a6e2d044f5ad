"""Synthetic embeddings for vector-index tests and benchmarks."""

from __future__ import annotations

import numpy as np


def clustered_unit_vectors(n: int, dim: int, clusters: int = 50, spread: float = 0.35,
                           seed: int = 0) -> np.ndarray:
    """(n, dim) float32, L2-normalised, drawn around ``clusters`` random centres: photo
    embeddings cluster by subject, unlike uniform random vectors (hnswlib's worst case)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = centres[rng.integers(0, clusters, n)] + rng.normal(scale=spread / np.sqrt(dim), size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
