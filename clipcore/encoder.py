"""The model layer: an open_clip model, its own preprocess and tokenizer, ready for batches.

:meth:`Encoder.load` accepts every kind of :class:`~clipcore.config.ModelSpec`:

* an open_clip model name + pretrained tag (weights from the HF hub cache, downloaded when
  allowed; ``HF_HUB_OFFLINE=1`` and not cached -> :class:`WeightsMissingError`, at once);
* an open_clip model name + a local checkpoint (``.safetensors``, or ``.pt``/``.bin`` read with
  ``weights_only=True``; see :mod:`clipcore.weights`);
* an open_clip model-config JSON file, flat (``{"embed_dim", "vision_cfg", "text_cfg",
  "preprocess_cfg"?}``) or in the hub layout (``{"model_cfg", "preprocess_cfg"}``), with a
  checkpoint or without one. Without weights the model is initialised under
  ``torch.manual_seed(0)``, so every run of the same config gives the same model, and
  ``Encoder.random_weights`` is True.

The image preprocess is always the model's own (``model.visual.preprocess_cfg`` through
``open_clip.image_transform_v2``): size, resize mode ("shortest" crop, "longest" pad, "squash"),
interpolation, mean and std, so what the indexer feeds the model equals what open_clip would.

Outputs are (N, D) float32 numpy arrays, rows L2-normalised, equal to open_clip's own
``encode_image`` / ``encode_text`` followed by normalisation.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .config import ModelSpec
from .devices import autocast_dtype, configure_cpu, describe_device, pick_device
from .errors import ClipcoreError, ModelNotFoundError
from .download import HUB_SCHEMA, fetch, hub_files
from .query_texts import QUERY_TEXTS, QueryTexts, cpu_threads, query_threads
from .text_prefix import encode_text_prefix, prefix_text_ok
from .weights import cached_tag_weights, hub_offline, load_checkpoint_into, weights_missing_error

__all__ = ["Encoder", "pick_device", "describe_device", "read_model_config"]

# ---------------------------------------------------------------------------------------------
# Building the model


class _OpenClipLogging:
    """Stands in for the ``logging`` module inside open_clip's own modules.

    open_clip 3.x logs through the module-level functions (``logging.warning(...)``): records
    on the root logger, and ``logging.basicConfig()`` on first use, which adds a stderr handler
    to the root logger; from then on every warning that propagates to the root (clipcore's
    too) prints twice. Here its messages go to the named logger ``open_clip.<module>``, as a
    library's should (and newer open_clip does); every other attribute is the real module.
    """

    _LOG_CALLS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical",
                            "log"})

    def __init__(self, name: str):
        self._logger = logging.getLogger(name)

    def __getattr__(self, attr: str):
        return getattr(self._logger if attr in self._LOG_CALLS else logging, attr)


_quiet_lock = threading.Lock()
_quiet_users = [0, logging.NOTSET]   # model builds in progress, the level to restore after them


@contextlib.contextmanager
def _quiet_open_clip():
    """Hide open_clip's info/warning log lines while a model is built: the ``open_clip``
    logger's level is ERROR for the duration (what matters to the user, random weights or
    missing files, clipcore reports itself). The root logger is neither filtered nor given a
    handler. Thread-safe: two models may load at once (the app's active and pending model)."""
    import open_clip  # noqa: F401 -- loads open_clip's modules, so their logging can be routed

    logger = logging.getLogger("open_clip")
    with _quiet_lock:
        for name, module in list(sys.modules.items()):
            if name.partition(".")[0] == "open_clip" and getattr(module, "logging", None) is logging:
                setattr(module, "logging", _OpenClipLogging(name))  # noqa: B010 -- a module
        if _quiet_users[0] == 0:
            _quiet_users[1] = logger.level
            logger.setLevel(logging.ERROR)
        _quiet_users[0] += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_users[0] -= 1
            if _quiet_users[0] == 0:
                logger.setLevel(_quiet_users[1])


def read_model_config(path: str | os.PathLike) -> tuple[dict, dict]:
    """Read an open_clip model-config JSON file -> ``(model_cfg, preprocess_cfg)``.

    Accepts the flat layout of open_clip's ``model_configs/*.json`` (optionally with a
    ``"preprocess_cfg"`` key) and the hub layout ``{"model_cfg": ..., "preprocess_cfg": ...}``.
    ``preprocess_cfg`` keys are open_clip's ``PreprocessCfg`` fields (size, mean, std,
    interpolation, resize_mode, fill_color). Raises ModelNotFoundError for a missing or
    malformed file.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise ModelNotFoundError(f"The model config file {p} does not exist; check the path, or "
                                 "run `clipcore models` to see preset and model names.")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelNotFoundError(f"The model config {p} is not valid JSON ({exc}); "
                                 "fix or replace the file.") from None
    if not isinstance(data, dict):
        data = {}
    model_cfg = dict(data.get("model_cfg", data))
    preprocess_cfg = dict(data.get("preprocess_cfg") or model_cfg.pop("preprocess_cfg", None) or {})
    model_cfg.pop("preprocess_cfg", None)
    missing = [k for k in ("embed_dim", "vision_cfg", "text_cfg") if k not in model_cfg]
    if missing:
        raise ModelNotFoundError(f"The model config {p} is not an open_clip model config "
                                 f"(missing {', '.join(missing)}); use a file like open_clip's "
                                 "model_configs/*.json.")
    return model_cfg, preprocess_cfg


def _unknown_model(name: str) -> ModelNotFoundError:
    import open_clip

    close = difflib.get_close_matches(name, open_clip.list_models(), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return ModelNotFoundError(f"Unknown model '{name}'{hint}; run `clipcore models` to see the "
                              "presets and open_clip model names you can use.")


def _build_from_config(spec: ModelSpec, progress=None, cancel=None):
    """Model + tokenizer from a config JSON; weights from spec.checkpoint or seeded random."""
    import open_clip

    model_cfg, preprocess_cfg = read_model_config(spec.name)
    if spec.pretrained and not spec.checkpoint:
        raise ModelNotFoundError(f"Pretrained tags like '{spec.pretrained}' only apply to open_clip "
                                 "model names; give the weights of a config file with "
                                 "`--checkpoint PATH`.")
    # open_clip reads a config + preprocess pair from a folder ('local-dir:' schema); a private
    # temporary folder avoids registering anything in open_clip's global model registry.
    with tempfile.TemporaryDirectory(prefix="clipdesk-model-") as tmp:
        Path(tmp, "open_clip_config.json").write_text(
            json.dumps({"model_cfg": model_cfg, "preprocess_cfg": preprocess_cfg}), encoding="utf-8")
        try:
            model = open_clip.create_model(f"local-dir:{tmp}", pretrained_text=False)
            tokenizer = open_clip.get_tokenizer(f"local-dir:{tmp}")
        except (TypeError, KeyError, ValueError, AssertionError) as exc:
            raise ModelNotFoundError(f"The model config {spec.name} does not describe a model "
                                     f"open_clip can build ({type(exc).__name__}: {exc}); "
                                     "fix the file.") from None
    if spec.checkpoint:
        load_checkpoint_into(model, spec.checkpoint)
    return model, tokenizer, int(model_cfg["embed_dim"])


def _build_named(spec: ModelSpec, progress=None, cancel=None):
    """Model + tokenizer for an open_clip model name with a pretrained tag or a checkpoint."""
    import open_clip
    from open_clip.transform import merge_preprocess_dict

    name, tag = spec.name, spec.pretrained
    model_cfg = open_clip.get_model_config(name)
    if model_cfg is None:
        raise _unknown_model(name)
    if spec.checkpoint:
        # The checkpoint's preprocessing follows its tag when one is named (mean/std, resize mode).
        tag_cfg = open_clip.get_pretrained_cfg(name, tag) if tag else {}
        model = open_clip.create_model(name, pretrained_text=False,
                                       force_preprocess_cfg=merge_preprocess_dict({}, tag_cfg))
        load_checkpoint_into(model, spec.checkpoint)
        return model, open_clip.get_tokenizer(name), int(model_cfg["embed_dim"])
    if not tag:
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(name)) or "none"
        raise ModelNotFoundError(f"No weights given for {name}; name a pretrained tag (known: "
                                 f"{tags}) or pass a weights file with `--checkpoint PATH`.")
    cached = cached_tag_weights(name, tag)  # also rejects an unknown tag
    if cached is None:
        if hub_offline():
            raise weights_missing_error(name, tag, label=spec.full_label)
        files = hub_files(spec)
        if files:
            cached = fetch(files, spec.full_label, progress=progress, cancel=cancel)[0]
    try:
        if cached is not None:   # the tag's own preprocessing, its weights from the local file
            tag_cfg = open_clip.get_pretrained_cfg(name, tag)
            model = open_clip.create_model(
                name, pretrained=str(cached), force_preprocess_cfg=merge_preprocess_dict({}, tag_cfg))
        else:                    # weights at a plain URL: open_clip downloads them
            model = open_clip.create_model(name, pretrained=tag)
        tokenizer = open_clip.get_tokenizer(name)
    except (OSError, RuntimeError, ValueError) as exc:
        # Download failures surface as RuntimeError / OSError (URL weights, HF tokenizer files).
        raise weights_missing_error(name, tag, str(exc).splitlines()[0][:200],
                                    label=spec.full_label) from None
    return model, tokenizer, int(model_cfg["embed_dim"])


def _build_hub(spec: ModelSpec, progress=None, cancel=None):
    """An ``hf-hub:ORG/REPO`` model (open_clip's hub layout: config + weights), fetched into
    the hub cache when missing, then built like a local config file with its checkpoint."""
    config, weights = fetch(hub_files(spec), spec.full_label, progress=progress, cancel=cancel)
    return _build_from_config(ModelSpec(str(config), checkpoint=str(weights), device=spec.device,
                                        precision=spec.precision))


def _reparameterize(model: torch.nn.Module) -> bool:
    """Fuse re-parameterisable blocks (MobileOne / FastViT in MobileCLIP) for inference.

    MobileCLIP's authors require ``reparameterize_model`` before inference (apple/ml-mobileclip
    README); timm ships the same walk as ``timm.utils.reparameterize_model``. It must run after
    the weights are loaded and in eval mode (it folds BatchNorm statistics into convolutions).
    Returns True when the model had such blocks.
    """
    if not any(hasattr(m, "reparameterize") for m in model.modules()):
        return False
    from timm.utils import reparameterize_model

    reparameterize_model(model, inplace=True)
    return True


def _has_conv_tower(model: torch.nn.Module) -> bool:
    """True for convolutional image towers (timm FastViT / ConvNeXt / ResNet), not ViTs."""
    visual = getattr(model, "visual", None)
    if visual is None:
        return False
    convs = [m for m in visual.modules() if isinstance(m, torch.nn.Conv2d)]
    return sum(1 for m in convs if m.kernel_size != m.stride) >= 4


class Encoder:
    """An open_clip model + its own preprocess + tokenizer, ready for batched inference.

    Attributes: ``spec`` (ModelSpec), ``identity`` (str, == spec.identity()), ``device``
    (torch.device), ``dtype`` (compute dtype: float16 under autocast on CUDA, else float32),
    ``dim`` (int, embedding size D), ``image_size`` (int, model input side in pixels),
    ``random_weights`` (bool: a config without weights, seeded random init),
    ``device_description`` (str, e.g. "CPU, 2 threads" or "GPU: NVIDIA H100 (CUDA)"),
    ``batch_size`` (images per forward pass), ``reparameterized`` (MobileOne-style blocks
    fused), ``text_prefix`` (exact short-prefix text encoding in use),
    ``channels_last`` (conv tower run in channels-last memory format).

    Create with :meth:`load`. Encoding runs in eval mode under ``torch.inference_mode``.
    """

    def __init__(self, spec: ModelSpec, model, tokenizer, device: torch.device,
                 dtype: torch.dtype, dim: int, random_weights: bool, batch_size: int | None = None):
        import open_clip
        from open_clip.transform import PreprocessCfg, image_transform_v2

        self.spec, self.identity, self.model = spec, spec.identity(), model
        self.tokenizer, self.device, self.dtype = tokenizer, device, dtype
        self.dim = dim
        self.random_weights = random_weights
        self.preprocess_cfg = dict(open_clip.get_model_preprocess_cfg(model))
        size = self.preprocess_cfg["size"]
        self.image_size = int(max(size) if isinstance(size, (tuple, list)) else size)
        self._transform = image_transform_v2(PreprocessCfg(**self.preprocess_cfg), is_train=False)
        self.device_description = describe_device(device)
        # CPU: 16 per pass measured fastest for ViT towers on 2 cores (17.5 vs 15.8 img/s at 32;
        # benchmarks/RESULTS.md, encoder ceiling); small batches also commit progress sooner.
        self.batch_size = batch_size or (16 if device.type == "cpu" else 128)
        self.reparameterized = False
        self.text_prefix = prefix_text_ok(model)
        self.channels_last = False
        self.cpu_threads = torch.get_num_threads()     # for batches; a query: 1 or 2
        self._queries = QueryTexts(self._encode_query)

    @classmethod
    def load(cls, spec: ModelSpec, batch_size: int | None = None, *, progress=None,
             cancel=None) -> "Encoder":
        """Load the model described by ``spec`` onto its device, ready for inference.

        Weights missing from the hub cache are downloaded first (:mod:`clipcore.download`):
        ``progress(DownloadProgress)`` hears how it goes, ``cancel`` (threading.Event) stops it
        (DownloadCancelled; the next load resumes).

        Raises ModelNotFoundError (unknown name, tag or config file), WeightsMissingError
        (weights neither on disk nor downloadable; the message says where it looked),
        UnsafeCheckpointError (a pickle that carries code), ClipcoreError (unavailable device,
        unknown precision, checkpoint that does not fit, missing optional package).
        """
        device = pick_device(spec.device)
        dtype = autocast_dtype(spec.precision, device)
        if device.type == "cpu":
            configure_cpu()
        try:
            # Seeded and forked, so random init is reproducible and the caller's RNG untouched.
            with torch.random.fork_rng(devices=[]), _quiet_open_clip():
                torch.manual_seed(0)
                build = (_build_from_config if spec.is_config_file else
                         _build_hub if spec.name.startswith(HUB_SCHEMA) else _build_named)
                model, tokenizer, dim = build(spec, progress, cancel)
        except ImportError as exc:
            package = exc.name or str(exc)
            raise ClipcoreError(f"Model {spec.preset or spec.name} needs the Python package "
                                f"'{package}', which is not installed; install it with "
                                f"`pip install {package}`.") from None
        model.eval()
        encoder = cls(spec, model, tokenizer, device, dtype, dim,
                      random_weights=not spec.has_weights, batch_size=batch_size)
        encoder.reparameterized = _reparameterize(model)
        model.to(device)
        if _has_conv_tower(model):
            model.visual.to(memory_format=torch.channels_last)
            encoder.channels_last = True
        return encoder

    # -- images ---------------------------------------------------------------------------------

    def preprocess(self, image) -> torch.Tensor:
        """PIL image (any mode) -> (3, S, S) float32 tensor, S = ``image_size``, using the model's
        own preprocess config. Stateless and thread-safe: the indexer calls it in decode workers."""
        return self._transform(image)

    def encode_images(self, images) -> np.ndarray:
        """Sequence of PIL images, or a (N, 3, S, S) float tensor of preprocessed images ->
        (N, D) float32, rows L2-normalised. Runs in batches of ``batch_size``."""
        if isinstance(images, torch.Tensor):
            if images.ndim != 4 or images.shape[1] != 3:
                raise ValueError(f"expected a (N, 3, S, S) tensor, got shape {tuple(images.shape)}")
            batches = (images[i:i + self.batch_size] for i in range(0, len(images), self.batch_size))
        else:
            images = list(images)
            batches = (torch.stack([self.preprocess(im) for im in images[i:i + self.batch_size]])
                       for i in range(0, len(images), self.batch_size))
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        return self._run(self.model.encode_image,
                         (b.contiguous(memory_format=memory_format) for b in batches))

    # -- text -----------------------------------------------------------------------------------

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """Sequence of N strings -> (N, context_length) int64 token ids (the model's tokenizer)."""
        return self.tokenizer(list(texts))

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Sequence of strings -> (N, D) float32, rows L2-normalised. A query (<= QUERY_TEXTS
        texts) runs on 1-2 CPU threads, recent ones remembered (:mod:`clipcore.query_texts`)."""
        texts = list(texts)
        return (self._queries.encode(texts) if 0 < len(texts) <= QUERY_TEXTS
                else self._encode_texts(texts))

    def warm_up(self) -> None:
        """One short text through the text tower, so the first query does not pay torch's
        first-call costs; the app calls it after loading a model, off the GUI thread."""
        self._queries.warm_up()

    def _encode_query(self, texts: list[str]) -> np.ndarray:
        return self._encode_texts(texts, min(query_threads(), self.cpu_threads))

    def _encode_texts(self, texts: list[str], threads: int | None = None) -> np.ndarray:
        encode = ((lambda t: encode_text_prefix(self.model, t)) if self.text_prefix
                  else self.model.encode_text)
        step = self.batch_size
        return self._run(encode, (self.tokenize(texts[i:i + step])
                                  for i in range(0, len(texts), step)), threads)

    # -- shared ---------------------------------------------------------------------------------

    def _autocast(self):
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def _to_device(self, batch: torch.Tensor) -> torch.Tensor:
        if self.device.type == "cuda":
            # Pinned host memory lets the copy run asynchronously with the previous batch.
            return batch.pin_memory().to(self.device, non_blocking=True)
        return batch.to(self.device)

    def _run(self, forward, batches, threads: int | None = None) -> np.ndarray:
        """Every batch on ``threads`` CPU threads (default ``cpu_threads``; see query_texts)."""
        outputs = []
        with (torch.inference_mode(), self._autocast(),
              cpu_threads(self.device, threads or self.cpu_threads)):
            for batch in batches:
                features = forward(self._to_device(batch))
                outputs.append(F.normalize(features.float(), dim=-1))
        if not outputs:
            return np.zeros((0, self.dim), dtype=np.float32)
        return torch.cat(outputs).cpu().numpy().astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"Encoder({self.identity!r}, dim={self.dim}, {self.device_description})"
