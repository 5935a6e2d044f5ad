"""Visual groups: cluster the library's embeddings and name each cluster by zero-shot labels.

Clustering: k-means on the L2-normalised embeddings (spherical in effect: on unit vectors the
squared Euclidean distance is 2 - 2 cos), with k chosen by the mean silhouette (cosine) over a
coarse geometric grid of k in [2, ``max_groups``] refined to every k around the best. Small
libraries use scikit-learn's KMeans on everything; larger ones fit MiniBatchKMeans on a random
sample of ``FIT_SAMPLE`` photos and assign every photo to its nearest centre (one matrix
product), so 100,000 photos take seconds, not minutes. Measured on 24 classes of drawn shapes
with the shapes model (tests/clipcore/test_groups.py, benchmarks/explore.py): the silhouette
picks k = 24, purity 0.94 / inverse purity 0.94; HDBSCAN (min_cluster_size 3) reached 0.95 /
0.94 but needs its own size parameter, leaves photos as noise, and on 512-d vectors has no fast
neighbour tree (brute force, O(N^2)): too slow for 100,000 photos in 60 s. Hence k-means.

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

__all__ = ["MAX_GROUPS", "Group", "cluster", "groups_from", "make_groups", "name_groups"]

MAX_GROUPS = 80          # the most groups offered (a list a person can scan)
MIN_PER_GROUP = 6        # at most N / MIN_PER_GROUP groups
FIT_SAMPLE = 10_000      # photos k-means is fitted on (all of them below this)
SILHOUETTE_SAMPLE = 2_000
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
    grid = np.unique(np.round(np.geomspace(2, k_max, num=min(12, k_max - 1))).astype(int))
    return [int(k) for k in grid if 2 <= k <= k_max]


def _fit(sample: np.ndarray, k: int, seed: int):
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if len(sample) <= 5_000:
        return KMeans(k, n_init=4, random_state=seed).fit(sample)   # cheap at this size
    return MiniBatchKMeans(k, n_init=1, random_state=seed, batch_size=2048,
                           max_no_improvement=5).fit(sample)


def _assign(vectors: np.ndarray, centres: np.ndarray, cancel) -> np.ndarray:
    out = np.empty(len(vectors), np.int64)
    for start in range(0, len(vectors), _ASSIGN_BLOCK):
        check_cancel(cancel)
        out[start:start + _ASSIGN_BLOCK] = np.argmax(vectors[start:start + _ASSIGN_BLOCK] @ centres.T, axis=1)
    return out


def cluster(vectors: np.ndarray, k: int | None = None, *, max_groups: int = MAX_GROUPS,
            seed: int = 0, cancel=None, progress: Progress | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """Cluster ``vectors`` (N, D) float32 L2-normalised.

    ``k``: the number of groups, or None to choose it by silhouette (see the module docstring)
    among 2..min(``max_groups``, N // 6). Returns (labels (N,) int64 in [0, k), centres (k, D)
    float32 L2-normalised). Fewer than 2 photos (or N < 12 with k None): one group. Raises
    jobs.Cancelled.
    """
    from sklearn.metrics import silhouette_score

    n = len(vectors)
    k_max = min(max_groups, n // MIN_PER_GROUP)
    if k is None and k_max < 2 or n < 2:
        centre = vectors.mean(axis=0, keepdims=True) if n else np.zeros((1, vectors.shape[1]), np.float32)
        return np.zeros(n, np.int64), _unit(centre)
    rng = np.random.default_rng(seed)
    sample = vectors if n <= FIT_SAMPLE else vectors[np.sort(rng.choice(n, FIT_SAMPLE, replace=False))]
    if k is None:
        sil_rows = rng.choice(len(sample), min(len(sample), SILHOUETTE_SAMPLE), replace=False)
        scores: dict[int, tuple[float, Any]] = {}

        def trial(kk: int) -> None:
            check_cancel(cancel)
            model = _fit(sample, kk, seed)
            labels = model.labels_[sil_rows]
            ok = len(np.unique(labels)) > 1
            scores[kk] = (silhouette_score(sample[sil_rows], labels, metric="cosine") if ok else -1.0, model)
            report(progress, len(scores), len(scores) + 4, "choosing the number of groups")

        grid = _candidates(k_max)
        for kk in grid:
            trial(kk)
        best = max(scores, key=lambda kk: scores[kk][0])
        i = grid.index(best)
        lo, hi = grid[max(0, i - 1)], grid[min(len(grid) - 1, i + 1)]
        for kk in range(lo + 1, hi):
            if kk not in scores:
                trial(kk)
        k = max(scores, key=lambda kk: scores[kk][0])
        model = scores[k][1]
    else:
        k = max(1, min(int(k), n))
        model = _fit(sample, k, seed)
    centres = _unit(np.asarray(model.cluster_centers_, np.float32))
    labels = _assign(vectors, centres, cancel)
    return labels, centres


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
