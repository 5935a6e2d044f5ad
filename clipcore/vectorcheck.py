"""What a usable stored embedding looks like, checked wherever vectors enter or leave the catalog.

An embedding is (D,) float32 with every value finite and an L2 norm of 1 (the encoder
normalises). Damaged bytes in a stored vector (a flipped bit, a hand edit, a bad disk page that
SQLite's own checks pass) almost never keep that: a NaN, an infinity or a norm far from 1
follows, and such a vector would otherwise score 1.000 (or NaN) against every query.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NORM_TOLERANCE", "bad_rows", "vector_ok"]

#: Largest allowed |1 - L2 norm| of a stored embedding. float32 normalisation leaves errors
#: near 1e-7; fp16 / bf16 encoders near 1e-3 / 4e-3 before the final float32 normalise, which
#: brings them back to ~1e-7, so 1e-3 only rejects vectors that were never normalised or were
#: damaged afterwards.
NORM_TOLERANCE = 1e-3


def bad_rows(vectors: np.ndarray) -> np.ndarray:
    """Boolean mask (N,) of the rows of ``vectors`` (N, D) that are not usable embeddings:
    any non-finite value, or an L2 norm more than NORM_TOLERANCE away from 1."""
    v = np.asarray(vectors, dtype=np.float32)
    if v.ndim == 1:
        v = v.reshape(1, -1)
    finite = np.isfinite(v).all(axis=1)
    with np.errstate(over="ignore", invalid="ignore"):
        norms = np.sqrt(np.einsum("ij,ij->i", v.astype(np.float64), v.astype(np.float64)))
    return ~finite | ~(np.abs(norms - 1.0) <= NORM_TOLERANCE)


def vector_ok(vector: np.ndarray) -> bool:
    """True when ``vector`` (D,) is a usable embedding (see :func:`bad_rows`)."""
    return not bool(bad_rows(vector)[0])
