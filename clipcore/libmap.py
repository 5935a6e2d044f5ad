"""A map of the library: a 2-D layout of every photo's embedding, and its rendering to a PNG.

Layout: PCA (scikit-learn, exact, instant) is the first layout and the one for small libraries
(fewer than :data:`UMAP_FROM` photos, where UMAP's neighbour graph is too thin to help); UMAP
(umap-learn, 15 neighbours, cosine distances) is the map proper. Before UMAP the vectors are
reduced to :data:`UMAP_INPUT_DIMS` PCA components (fitted on at most :data:`PCA_SAMPLE`
photos, applied to all in blocks), the usual recipe for big inputs (umap-learn's docs).
UMAP is fitted on at most :data:`UMAP_SAMPLE` photos, with their cosine distances computed here
by one matrix product and given as ``metric="precomputed"``; every other photo is placed by the
fitted model's ``transform`` (its distances to the fitted photos, :data:`PLACE_BLOCK` photos at
a time; cancel is checked between blocks), as new photos are later (:meth:`MapModel.place`).

Where the numbers come from (100,000 synthetic 512-d vectors, this project's 2-core machine,
benchmarks/explore.py): fitting UMAP on 5,000 photos with ``metric="cosine"`` took ~65 CPU s of
numba compiling for NN-descent in every new process, and its ``transform`` computed distances
with a numba function called once per pair from scikit-learn (110 CPU s per 8,192 photos);
with precomputed distances the fit is ~4 CPU s of work plus ~25 CPU s of numba compiling once
per process, and ``transform`` ~0.65 CPU s per 1,024 photos. :data:`UMAP_EPOCHS` 200 (instead
of 500 for small inputs) also sets transform's epochs (a third of it). PCA fitted on 10,000
photos instead of all of them: ~100 MB of float64 temporaries instead of ~420 MB.
Coordinates are scaled into [0, 1] x [0, 1].

New photos are placed with the fitted model's transform: a :class:`MapModel` keeps the fitted
reducer (UMAP: PCA + distances to the fitted photos + ``transform``; PCA: the projection) with
the photos' coordinates; when the reducer is not at hand (a map read back from the cache) a new
photo goes to the similarity-weighted mean position of its 10 nearest mapped photos, which is
how UMAP's own transform starts (umap_.py, ``init_graph_transform``), without a full refit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import warnings

import numpy as np

from .jobs import Progress, check_cancel, report

__all__ = ["UMAP_FROM", "MapModel", "fit_layout", "render_png"]

UMAP_FROM = 200            # photos; fewer: PCA only
UMAP_INPUT_DIMS = 50       # PCA components fed to UMAP
UMAP_SAMPLE = 4_000        # photos UMAP is fitted on; the others are placed by its transform
PCA_SAMPLE = 10_000        # photos the PCA before UMAP is fitted on
UMAP_EPOCHS = 200
PLACE_BLOCK = 1_024        # photos per UMAP transform call (~0.65 CPU s)
_PLACE_BLOCK = 4_096
PLACE_NEIGHBOURS = 10


@dataclass
class MapModel:
    """A fitted layout: ``ids`` (N,) int64, ``coords`` (N, 2) float32 in [0, 1], ``method``
    ("pca" | "umap"); ``lo``/``span`` undo the scaling; ``reducer`` (not saved) transforms
    new vectors; ``vectors`` (N, D) float32 the embeddings it was fitted on (for placement)."""

    ids: np.ndarray
    coords: np.ndarray
    method: str
    lo: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float32))
    span: np.ndarray = field(default_factory=lambda: np.ones(2, np.float32))
    reducer: Any = None
    vectors: np.ndarray | None = None

    def place(self, new_ids: np.ndarray, new_vectors: np.ndarray) -> MapModel:
        """Add photos (ids (M,), vectors (M, D) L2-normalised) without refitting: the reducer's
        transform when there is one, else the weighted mean of their nearest mapped photos.
        Returns a new MapModel holding old and new photos."""
        if not len(new_ids):
            return self
        new_vectors = np.asarray(new_vectors, np.float32)
        if self.reducer is not None:
            raw = np.asarray(self.reducer.transform(new_vectors), np.float32)
            xy = (raw - self.lo) / self.span
        else:
            xy = self._near(new_vectors)
        return MapModel(np.concatenate([self.ids, new_ids]),
                        np.concatenate([self.coords, np.clip(xy, 0, 1).astype(np.float32)]),
                        self.method, self.lo, self.span, self.reducer,
                        None if self.vectors is None else np.concatenate([self.vectors, new_vectors]))


    def _near(self, new_vectors: np.ndarray, cancel=None) -> np.ndarray:
        """(M, 2): the similarity-weighted mean position of each row's nearest mapped photos,
        in blocks (4096 x N similarities at a time)."""
        assert self.vectors is not None, "placing needs the mapped photos' vectors"
        out = np.empty((len(new_vectors), 2), np.float32)
        k = min(PLACE_NEIGHBOURS, len(self.vectors))
        for start in range(0, len(new_vectors), _PLACE_BLOCK):
            check_cancel(cancel)
            sims = new_vectors[start:start + _PLACE_BLOCK] @ self.vectors.T
            nb = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            w = np.maximum(np.take_along_axis(sims, nb, axis=1), 1e-3)
            out[start:start + _PLACE_BLOCK] = ((self.coords[nb] * w[..., None]).sum(axis=1)
                                               / w.sum(axis=1, keepdims=True))
        return out


class _Pipeline:
    """PCA, unit length, cosine distances to the photos UMAP was fitted on, UMAP's transform:
    what MapModel.reducer needs. ``fitted`` (n, UMAP_INPUT_DIMS) float32 unit rows."""

    def __init__(self, pca, umap, fitted: np.ndarray):
        self.pca, self.umap, self.fitted = pca, umap, fitted

    def reduce(self, x: np.ndarray) -> np.ndarray:
        return _unit(np.asarray(self.pca.transform(np.asarray(x, np.float32)), np.float32))

    def transform(self, x: np.ndarray, cancel=None, progress: Progress | None = None) -> np.ndarray:
        """(M, D) vectors -> (M, 2) UMAP coordinates, :data:`PLACE_BLOCK` rows per call."""
        out = np.empty((len(x), 2), np.float32)
        for start in range(0, len(x), PLACE_BLOCK):
            check_cancel(cancel)
            report(progress, start, len(x), "placing the other photos")
            distances = _distances(self.reduce(x[start:start + PLACE_BLOCK]), self.fitted)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")       # "transforming with precomputed metric"
                out[start:start + PLACE_BLOCK] = self.umap.transform(distances)
        return out


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine distances (len(a), len(b)) float32 >= 0 between unit rows."""
    return np.maximum(1.0 - a @ b.T, 0.0, dtype=np.float32)


def _scale(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, hi = raw.min(axis=0), raw.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    return ((raw - lo) / span).astype(np.float32), lo.astype(np.float32), span.astype(np.float32)


def fit_layout(ids: np.ndarray, vectors: np.ndarray, method: str = "auto", *, seed: int = 0,
               cancel=None, progress: Progress | None = None) -> MapModel:
    """Lay out ``vectors`` (N, D) float32 L2-normalised of photos ``ids`` (N,) in 2-D.

    ``method``: "pca", "umap", or "auto" (UMAP from :data:`UMAP_FROM` photos, else PCA).
    Cancel is checked between the stages and between blocks of :data:`PLACE_BLOCK` photos
    placed by UMAP's transform; UMAP's fit on its sample (at most :data:`UMAP_SAMPLE` photos,
    seconds, plus numba's compiling the first time in a process) cannot be interrupted, so a
    cancel then waits for it. Raises jobs.Cancelled.
    """
    from sklearn.decomposition import PCA

    vectors = np.asarray(vectors, np.float32)
    n = len(vectors)
    if n == 0:
        return MapModel(np.empty(0, np.int64), np.empty((0, 2), np.float32), "pca")
    if n < 3:
        coords = np.full((n, 2), 0.5, np.float32)
        coords[:, 0] = np.linspace(0.25, 0.75, n) if n > 1 else 0.5
        return MapModel(np.asarray(ids, np.int64), coords, "pca", vectors=vectors)
    use_umap = method == "umap" or (method == "auto" and n >= UMAP_FROM)
    report(progress, 0, 3, "pca")
    dims = min(UMAP_INPUT_DIMS if use_umap else 2, n, vectors.shape[1])
    pca = PCA(dims, random_state=seed, svd_solver="randomized" if n > 2000 else "auto")
    if n <= PCA_SAMPLE:
        reduced = pca.fit_transform(vectors).astype(np.float32)
    else:    # fitted on a sample, applied in blocks (no (N, D) float64 copy)
        pca.fit(vectors[np.sort(np.random.default_rng(seed + 1).choice(n, PCA_SAMPLE, replace=False))])
        reduced = np.concatenate([np.asarray(pca.transform(vectors[s:s + _PLACE_BLOCK]), np.float32)
                                  for s in range(0, n, _PLACE_BLOCK)])
    check_cancel(cancel)
    if not use_umap:
        coords, lo, span = _scale(reduced[:, :2])
        return MapModel(np.asarray(ids, np.int64), coords, "pca", lo, span, pca, vectors)
    report(progress, 1, 3, "umap")
    with warnings.catch_warnings():   # imported late: numba compiles on first use (once)
        warnings.simplefilter("ignore", ImportWarning)   # "Tensorflow not installed"
        import umap

    ids = np.asarray(ids, np.int64)
    rng = np.random.default_rng(seed)
    fit_rows = np.arange(n) if n <= UMAP_SAMPLE else np.sort(rng.choice(n, UMAP_SAMPLE, replace=False))
    fitted = _unit(reduced[fit_rows])
    square = _distances(fitted, fitted)
    np.fill_diagonal(square, 0.0)
    reducer = umap.UMAP(n_neighbors=min(15, len(fit_rows) - 1), min_dist=0.1,
                        metric="precomputed", n_epochs=UMAP_EPOCHS, random_state=seed,
                        n_jobs=1, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # precomputed: no inverse_transform; n_jobs with a seed
        raw = np.asarray(reducer.fit_transform(square), np.float32)
    del square
    check_cancel(cancel)
    coords, lo, span = _scale(raw)
    pipeline = _Pipeline(pca, reducer, fitted)
    if len(fit_rows) == n:
        report(progress, 3, 3, "umap")
        return MapModel(ids, coords, "umap", lo, span, pipeline, vectors)
    report(progress, 2, 3, "placing the other photos")
    rest = np.setdiff1d(np.arange(n), fit_rows, assume_unique=True)
    xy = (pipeline.transform(vectors[rest], cancel, progress) - lo) / span
    report(progress, 3, 3, "umap")
    return MapModel(np.concatenate([ids[fit_rows], ids[rest]]),
                    np.concatenate([coords, np.clip(xy, 0, 1).astype(np.float32)]),
                    "umap", lo, span, pipeline, None)


def render_png(coords: np.ndarray, out, *, size: int = 2048, colours: np.ndarray | None = None,
               thumbnails: list | None = None, thumb_px: int = 48) -> None:
    """Draw the map to a PNG file ``out``: a ``size`` x ``size`` px dark canvas with one dot per
    photo (``colours`` (N,) int group numbers pick the dot colour), or the photos' thumbnails
    (``thumbnails``: N PIL images or None) where given. Raises OSError when ``out`` cannot be
    written."""
    from PIL import Image, ImageDraw

    canvas = Image.new("RGB", (size, size), (24, 24, 28))
    pen = ImageDraw.Draw(canvas)
    margin = thumb_px if thumbnails else 8
    xy = np.round(margin + np.asarray(coords, np.float64) * (size - 2 * margin)).astype(int)
    palette = _palette(int(colours.max()) + 1 if colours is not None and len(colours) else 1)
    radius = max(1, min(4, int(size / max(64, np.sqrt(len(xy)) * 8))))
    for i, (x, y) in enumerate(xy.tolist()):
        thumb = thumbnails[i] if thumbnails else None
        if thumb is not None:
            t = thumb.copy()
            t.thumbnail((thumb_px, thumb_px))
            canvas.paste(t, (x - t.width // 2, y - t.height // 2))
        else:
            c = palette[int(colours[i])] if colours is not None else palette[0]
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=c)
    canvas.save(out, format="PNG")


def _palette(n: int) -> list[tuple[int, int, int]]:
    import colorsys

    out = []
    for i in range(max(1, n)):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.65, 0.95)
        out.append((int(255 * r), int(255 * g), int(255 * b)))
    return out
