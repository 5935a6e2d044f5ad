"""Configuration dataclasses and where clipcore keeps its files.

Data directory (catalog + vector index cache), in order of precedence:
``--data-dir`` / an explicit argument, the ``CLIPDESK_DATA_DIR`` environment variable, then
``platformdirs.user_data_dir("clipdesk")``. The thumbnail cache lives in
``CLIPDESK_CACHE_DIR`` or ``platformdirs.user_cache_dir("clipdesk")``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

__all__ = [
    "APP_NAME",
    "ModelSpec",
    "IndexParams",
    "resolve_data_dir",
    "resolve_cache_dir",
    "resources_dir",
    "identity_label",
]

APP_NAME = "clipdesk"
DATA_DIR_ENV = "CLIPDESK_DATA_DIR"
CACHE_DIR_ENV = "CLIPDESK_CACHE_DIR"


def resources_dir() -> Path:
    """The project's ``resources/`` folder (presets, icons, the small trained model)."""
    return Path(__file__).resolve().parent.parent / "resources"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Return the data directory (created if missing): argument, then env var, then platformdirs."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV) or platformdirs.user_data_dir(APP_NAME)
    return _make_dir(Path(chosen).expanduser().resolve(), "data folder",
                     "--data-dir or CLIPDESK_DATA_DIR")


def _make_dir(path: Path, what: str, how: str) -> Path:
    """Create ``path`` (and its parents); a file in the way or no permission -> CatalogError
    with one sentence naming the path and how to choose another (``how``)."""
    from .errors import CatalogError

    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise CatalogError(f"The {what} {path} is a file, not a folder; choose a folder "
                           f"with {how}.") from None
    except NotADirectoryError:
        raise CatalogError(f"The {what} {path} cannot be made: part of its path is a file; "
                           f"choose a folder with {how}.") from None
    except OSError as exc:
        raise CatalogError(f"The {what} {path} cannot be made ({exc.strerror or exc}); choose "
                           f"another folder with {how}.") from None
    return path


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Return the cache directory for thumbnails (created if missing)."""
    chosen = cache_dir or os.environ.get(CACHE_DIR_ENV) or platformdirs.user_cache_dir(APP_NAME)
    return _make_dir(Path(chosen).expanduser().resolve(), "cache folder", "CLIPDESK_CACHE_DIR")


def _file_fingerprint(path: str) -> str:
    """Fingerprint of a model file: the first 16 hex chars of the SHA-256 of the whole file
    (clipcore.filehash: cached by path, size, mtime, ctime and inode, so a file already seen
    costs one stat). A file that cannot be read is named by its resolved path instead."""
    from .filehash import file_sha256

    try:
        return file_sha256(path)[:16]
    except OSError:
        return hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ModelSpec:
    """What model to load.

    ``name`` is an open_clip model name (``"ViT-B-32-256"``) or a path to an open_clip
    model-config JSON file. ``pretrained`` is an open_clip pretrained tag
    (``"datacomp_s34b_b86k"``) or None. ``checkpoint`` is a local weights file
    (``.safetensors``, or ``.pt``/``.bin`` loaded with ``weights_only=True``) or None.
    ``device`` is ``"auto" | "cpu" | "cuda" | "cuda:N" | "mps"``; ``precision`` is
    ``"auto" | "fp32" | "fp16" | "bf16"``. ``preset`` records the preset name it came from.
    """

    name: str
    pretrained: str | None = None
    checkpoint: str | None = None
    device: str = "auto"
    precision: str = "auto"
    preset: str | None = None

    @property
    def is_config_file(self) -> bool:
        return self.name.endswith(".json")

    @property
    def has_weights(self) -> bool:
        """False for a bare config JSON: the model gets seeded random weights."""
        return bool(self.pretrained or self.checkpoint) or not self.is_config_file

    def identity(self) -> str:
        """A stable string naming the weights; vectors in the catalog are keyed by it.

        Computed without loading the model. Two specs with the same identity produce the same
        embeddings (device and precision are not part of it): a config file or checkpoint is
        named by the SHA-256 of its whole content (``config:<stem>:<16 hex>``,
        ``ckpt:<file name>:<16 hex>``), so weights that differ in any byte -- a fine-tune of
        the last layers included -- get their own vectors.
        """
        if self.is_config_file:
            model = f"config:{Path(self.name).stem}:{_file_fingerprint(self.name)}"
        else:
            model = self.name
        if self.checkpoint:
            weights = f"ckpt:{Path(self.checkpoint).name}:{_file_fingerprint(self.checkpoint)}"
        elif self.pretrained:
            weights = self.pretrained
        else:
            weights = "random-seed0" if self.is_config_file else "default"
        return f"{model}|{weights}"

    @property
    def label(self) -> str:
        """The model as users name it: the preset (``"shapes"``), else the model and its weights
        (``"ViT-B-32 / laion2b_s34b_b79k"``, ``"my-clip.json / my.safetensors"``)."""
        if self.preset:
            return self.preset
        model = Path(self.name).name if self.is_config_file else self.name
        weights = self.pretrained or (Path(self.checkpoint).name if self.checkpoint else None)
        return f"{model} / {weights}" if weights else model

    @property
    def full_label(self) -> str:
        """The preset with what it stands for: "default (ViT-B-32-256 / datacomp_s34b_b86k)"."""
        plain = ModelSpec(self.name, self.pretrained, self.checkpoint).label
        if not self.has_weights:
            plain += " / random weights"
        return f"{self.preset} ({plain})" if self.preset else plain


def identity_label(identity: str | None) -> str:
    """A model identity (:meth:`ModelSpec.identity`) as users name it: the model and weights
    without fingerprints (``"config:shapes-clip:ab12|ckpt:shapes-clip.safetensors:cd34"`` ->
    ``"shapes-clip / shapes-clip.safetensors"``). For messages only; never parsed back."""
    if not identity:
        return "(none)"
    model, _, weights = identity.partition("|")
    if model.startswith("config:"):
        model = model.split(":")[1]
    if weights.startswith("ckpt:"):
        weights = weights.split(":")[1]
    elif weights == "random-seed0":
        weights = "random weights"
    return f"{model} / {weights}" if weights and weights != "default" else model


@dataclass(frozen=True)
class IndexParams:
    """hnswlib parameters (inner product space on L2-normalised vectors).

    ``M`` and ``ef_construction`` follow hnswlib's recommended ranges (ALGO_PARAMS.md: M 12-48,
    ef_construction large enough that recall saturates); ``ef`` is the query-time beam width,
    at least ``k``. ``exact_below``: with fewer live vectors than this, search is an exact
    matrix product, which is both faster and exact. The values are chosen so recall@10 against
    exact search is >= 0.98 (tests/clipcore/test_ann.py checks it; benchmarks/storage.py
    measured 0.999 at 20,000 clustered 512-d vectors). ``exact_below``: the measured crossover
    at D=512, one thread, is 3,000-5,000 vectors (exact 0.18 ms vs HNSW 0.22 ms at 3,000;
    0.42 vs 0.21 ms at 5,000), so small libraries get exact answers at no cost.
    ``ef_step``: the beam widens with the library (:meth:`ef_for`): at 1M vectors, ef=128 gave
    recall@10 0.854 for queries off the photo clusters (like text queries) and ef=512 gave
    0.989 at ~3 ms, while queries on the clusters (an image's own vector, "find similar") had
    0.996 at ef=128 and 0.997 at ef=256 (benchmarks/RESULTS.md, query latency). So image
    queries grow by ``ef`` per ``ef_step`` vectors (1M -> 256) and text queries, which sit
    far from every photo (the modality gap), start at ``text_ef`` and grow by it per
    ``text_ef_step`` vectors (1M -> 1,024).
    ``load_in_background_above``: a saved index of more vectors is loaded by a thread while
    its file answers exactly (clipcore.ann_loading); hnswlib read 1M 512-d vectors in ~10 s.
    ``load_after_idle_s``: that thread starts its work (the whole-file check, then hnswlib's
    load, which holds Python's GIL throughout) only once no search has run for this many
    seconds, so the first searches after opening are answered from the file at once instead
    of waiting for hnswlib (issue 14, item 3).
    """

    M: int = 32
    ef_construction: int = 200
    ef: int = 128
    exact_below: int = 4_000
    ef_step: int = 500_000
    text_ef: int = 256
    text_ef_step: int = 250_000
    load_in_background_above: int = 200_000
    load_after_idle_s: float = 2.0

    def ef_for(self, live: int, k: int, text: bool = False) -> int:
        """Query-time ef for an index of ``live`` vectors and ``k`` results, >= k: for an
        image query ``ef`` per started ``ef_step`` vectors; for a text query (``text``)
        ``text_ef`` per started ``text_ef_step`` vectors."""
        base, step = (self.text_ef, self.text_ef_step) if text else (self.ef, self.ef_step)
        steps = max(1, -(-live // step))
        return max(base * steps, k)
