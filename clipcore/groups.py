"""Visual groups: cluster the library's embeddings and name each cluster by zero-shot labels.

Clustering: k-means on the L2-normalised embeddings (spherical in effect: on unit vectors the
squared Euclidean distance is 2 - 2 cos), with k chosen by the mean silhouette (cosine, on at
most ``SILHOUETTE_SAMPLE`` photos) in [2, ``max_groups``]: a geometric grid of
``COARSE_STEPS`` ks, then around the best one a bisection (the geometric midpoints to its
scored neighbours) until at most 4 untried ks lie between them, which are all tried. Each
candidate is scikit-learn's KMeans fitted on every photo of a small library, or on a random
sample of ``SEARCH_SAMPLE`` photos of a bigger one; there the chosen k's centres are then
refined by spherical Lloyd rounds over every photo (assign by cosine, move each centre to its
members' normalised mean; at most ``REFINE_ROUNDS``, until under 0.1% of photos move).

Where the numbers come from: at 100,000 synthetic 512-d vectors (benchmarks/explore.py) the
earlier search (12 grid ks + every k around the best, MiniBatchKMeans on 10,000 photos, float32)
took 324 CPU s; 11 of the 12 CPU s of one k = 80 fit were scikit-learn's k-means++ computing
float32 distances in small float64-upcast chunks, hence float64 input and a 4,000-photo sample
(50 photos per group at k = 80): the search now takes ~15 fits and 28 CPU s in all (see
benchmarks/RESULTS.md). Measured on 24 classes of drawn shapes with the shapes model
(tests/clipcore/test_groups.py): the silhouette picks k = 24, purity and inverse purity >= 0.9.
HDBSCAN (min_cluster_size 3) reached 0.95 / 0.94 there but needs its own size parameter,
leaves photos as noise, and on 512-d vectors has no fast neighbour tree (brute force,
O(N^2)): too slow for 100,000 photos in 60 s. Hence k-means.

Naming: each group's centre is compared (cosine) with the text embeddings of a vocabulary of
everyday labels (vocabulary.py, cached per model); the best label names the group, with " (2)",
" (3)" ... when several groups get the same label. The cover photo is the member closest to
the centre; members are listed closest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .jobs import Progress, check_cancel, report

__all__ = ["MAX_GROUPS", "SEARCH_SAMPLE", "Group", "cluster", "groups_from", "make_groups", "name_groups"]

MAX_GROUPS = 80          # the most groups offered (a list a person can scan)
MIN_PER_GROUP = 6        # at most N / MIN_PER_GROUP groups
SEARCH_SAMPLE = 4_000    # photos each candidate k is fitted on (all of them below this)
SILHOUETTE_SAMPLE = 2_000
COARSE_STEPS = 8         # geometric grid of k before the refinement
REFINE_ROUNDS = 4         # spherical Lloyd rounds over every photo for the chosen k (at most)
_ASSIGN_BLOCK = 8_192


@dataclass
class Group:
    """One visual group: ``name`` (a vocabulary label), ``ids`` (catalog image ids, closest to
    the centre first; ``ids[0]`` is the cover), ``score`` (cosine of the name's text embedding
    with the group centre), ``closeness`` (cosine of each member with the centre, in the
    order of ``ids``)."""

    name: str
    ids: list[int]
    score: float
    closeness: list[float] = field(default_factory=list)


def _candidates(k_max: int) -> list[int]:
    grid = np.unique(np.round(np.geomspace(2, k_max, num=min(COARSE_STEPS, k_max - 1))).astype(int))
    return [int(k) for k in grid if 2 <= k <= k_max]


def _next_ks(scored: dict[int, float]) -> list[int]:
    """The ks to try next around the best scored one: every k between its scored neighbours
    when there are at most 4 of them, else the two geometric midpoints (a bisection)."""
    ks = sorted(scored)
    i = max(range(len(ks)), key=lambda j: (scored[ks[j]], -ks[j]))
    lo, hi = ks[max(0, i - 1)], ks[min(len(ks) - 1, i + 1)]
    between = [k for k in range(lo + 1, hi) if k not in scored]
    if len(between) <= 4:
        return between
    best = ks[i]
    mids = {int(round(np.sqrt(best * lo))), int(round(np.sqrt(best * hi)))}
    return sorted(k for k in mids if lo < k < hi and k not in scored) or between[:1]


def _fit(sample: np.ndarray, k: int, seed: int):
    from sklearn.cluster import KMeans

    # float64: scikit-learn's k-means++ computes float32 distances in small float64-upcast
    # chunks, ~10x slower than one float64 product (measured: 11 of 12 CPU s of a k = 80 fit)
    return KMeans(k, n_init=4 if len(sample) <= 2_000 else 1, random_state=seed,
                  max_iter=100).fit(np.asarray(sample, np.float64))


def _assign(vectors: np.ndarray, centres: np.ndarray, cancel,
            sums: np.ndarray | None = None) -> np.ndarray:
    """Nearest centre (by cosine) of every row, in blocks -> (N,) int64; adds each row to its
    centre's row of ``sums`` (k, D) when given."""
    out = np.empty(len(vectors), np.int64)
    for start in range(0, len(vectors), _ASSIGN_BLOCK):
        check_cancel(cancel)
        block = vectors[start:start + _ASSIGN_BLOCK]
        out[start:start + len(block)] = labels = np.argmax(block @ centres.T, axis=1)
        if sums is not None:            # sorted by group, one reduceat (O(block x D))
            order = np.argsort(labels, kind="stable")
            counts = np.bincount(labels, minlength=len(centres))
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            sums[counts > 0] += np.add.reduceat(block[order], starts[counts > 0], axis=0)
    return out


def _refine(vectors: np.ndarray, centres: np.ndarray, cancel) -> tuple[np.ndarray, np.ndarray]:
    """Spherical k-means (Lloyd) rounds over every row from ``centres``: assign, move each
    centre to its members' normalised mean; stops when under 0.1% of rows change group."""
    labels = None
    for _ in range(REFINE_ROUNDS):
        sums = np.zeros_like(centres)
        new = _assign(vectors, centres, cancel, sums)
        changed = len(vectors) if labels is None else int((new != labels).sum())
        labels = new
        if changed <= len(vectors) // 1000:
            break
        centres = np.where(np.any(sums, axis=1)[:, None], _unit(sums), centres)
    else:
        labels = _assign(vectors, centres, cancel)
    return labels, centres


def cluster(vectors: np.ndarray, k: int | None = None, *, max_groups: int = MAX_GROUPS,
            seed: int = 0, cancel=None, progress: Progress | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """Cluster ``vectors`` (N, D) float32 L2-normalised.

    ``k``: the number of groups, or None to choose it by silhouette (see the module docstring)
    among 2..min(``max_groups``, N // 6). Returns (labels (N,) int64 in [0, k), centres (k, D)
    float32 L2-normalised). Fewer than 2 photos (or N < 12 with k None): one group. Cancel is
    checked between candidate fits and between blocks of rows. Raises jobs.Cancelled.
    """
    from sklearn.metrics import silhouette_score

    n = len(vectors)
    k_max = min(max_groups, n // MIN_PER_GROUP)
    if k is None and k_max < 2 or n < 2:
        centre = vectors.mean(axis=0, keepdims=True) if n else np.zeros((1, vectors.shape[1]), np.float32)
        return np.zeros(n, np.int64), _unit(centre)
    rng = np.random.default_rng(seed)
    sample = vectors if n <= SEARCH_SAMPLE else vectors[np.sort(rng.choice(n, SEARCH_SAMPLE, replace=False))]
    if k is None:
        sil_rows = rng.choice(len(sample), min(len(sample), SILHOUETTE_SAMPLE), replace=False)
        scores: dict[int, float] = {}
        models: dict[int, Any] = {}
        todo = _candidates(k_max)
        while todo:
            for kk in todo:
                check_cancel(cancel)
                model = _fit(sample, kk, seed)
                labels = model.labels_[sil_rows]
                ok = len(np.unique(labels)) > 1
                scores[kk] = float(silhouette_score(sample[sil_rows], labels, metric="cosine")) if ok else -1.0
                models[kk] = model
                report(progress, len(scores), len(scores) + 4, "choosing the number of groups")
            todo = _next_ks(scores)
        k = max(scores, key=lambda kk: (scores[kk], -kk))
        model = models[k]
    else:
        k = max(1, min(int(k), n))
        check_cancel(cancel)
        model = _fit(sample, k, seed)
    centres = _unit(np.asarray(model.cluster_centers_, np.float32))
    if len(sample) < n:
        report(progress, 1, 1, "placing every photo in its group")
        return _refine(vectors, centres, cancel)
    return _assign(vectors, centres, cancel), centres


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def name_groups(centres: np.ndarray, label_vectors: np.ndarray, labels: list[str]
                ) -> list[tuple[str, float]]:
    """For each centre (k, D) the best label by cosine with ``label_vectors`` (V, D)
    L2-normalised text embeddings -> [(name, cosine)]; repeated names get " (2)", " (3)" ..."""
    sims = _unit(centres) @ np.asarray(label_vectors, np.float32).T
    best = np.argmax(sims, axis=1)
    seen: dict[str, int] = {}
    out = []
    for row, j in enumerate(best.tolist()):
        name = labels[j]
        seen[name] = seen.get(name, 0) + 1
        out.append((name if seen[name] == 1 else f"{name} ({seen[name]})", float(sims[row, j])))
    return out


def make_groups(ids: np.ndarray, vectors: np.ndarray, label_vectors: np.ndarray,
                labels: list[str], k: int | None = None, *, cancel=None,
                progress: Progress | None = None) -> list[Group]:
    """Cluster and name: ``ids`` (N,) int64 catalog ids of ``vectors`` (N, D) float32
    L2-normalised -> groups, largest first. Raises jobs.Cancelled."""
    assignment, centres = cluster(vectors, k, cancel=cancel, progress=progress)
    return groups_from(ids, vectors, assignment, centres, name_groups(centres, label_vectors, labels))


def groups_from(ids: np.ndarray, vectors: np.ndarray, assignment: np.ndarray,
                centres: np.ndarray, names: list[tuple[str, float]]) -> list[Group]:
    """Groups from a clustering: ``assignment`` (N,) int64 group of each row of ``vectors``
    (N, D) (catalog ``ids`` (N,)), ``centres`` (k, D) L2-normalised, ``names`` [(name,
    score)] per centre -> non-empty groups, largest first, members closest to the centre
    first."""
    groups = []
    for g in range(len(centres)):
        rows = np.flatnonzero(assignment == g)
        if not len(rows):
            continue
        closeness = vectors[rows] @ centres[g]
        rank = np.argsort(-closeness, kind="stable")
        groups.append(Group(names[g][0], [int(i) for i in ids[rows[rank]]], names[g][1],
                            [float(c) for c in closeness[rank]]))
    groups.sort(key=lambda gr: (-len(gr.ids), gr.name))
    return groups
