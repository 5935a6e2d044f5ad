"""Synthetic embeddings for vector-index tests and benchmarks."""

from __future__ import annotations

import numpy as np


def clustered_unit_vectors(n: int, dim: int, clusters: int = 50, spread: float = 0.5,
                           seed: int = 0, centre_seed: int = 1234) -> np.ndarray:
    """(n, dim) float32, L2-normalised, drawn around ``clusters`` random unit centres (fixed by
    ``centre_seed``, so data and queries made with different ``seed`` share them) with
    isotropic noise of norm ~``spread`` (0.5 -> cosine ~0.8 to the centre, like photos of one
    subject). Photo embeddings cluster by subject, unlike uniform random vectors, which are
    hnswlib's worst case."""
    centres = np.random.default_rng(centre_seed).normal(size=(clusters, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    x = centres[rng.integers(0, clusters, n)] + rng.normal(scale=spread / np.sqrt(dim), size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
