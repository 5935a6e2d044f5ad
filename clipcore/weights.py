"""Where model weights live and how they are read, without ever running pickled code.

Two sources of weights:

* an open_clip pretrained tag (``ViT-B-32-256`` / ``datacomp_s34b_b86k``): open_clip's registry
  names a Hugging Face hub repo (or a URL); the file sits in the HF hub cache
  (``huggingface_hub.constants.HF_HUB_CACHE``) or, for URL downloads, in ``~/.cache/clip``;
* a local checkpoint file: ``.safetensors`` (read with safetensors), or ``.pt`` / ``.pth`` /
  ``.bin``, read ONLY with ``torch.load(weights_only=True)``. A pickle that needs anything
  beyond tensors and plain containers is refused with :class:`UnsafeCheckpointError` before
  any of its code can run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import warnings
from pathlib import Path

import torch

from .errors import ClipcoreError, ModelNotFoundError, UnsafeCheckpointError, WeightsMissingError
from .hubcache import OFFLINE_WHY, cache_folder, hub_offline, hub_weight_names, missing_weights_error

__all__ = [
    "SAFETENSORS_SUFFIXES",
    "PICKLE_SUFFIXES",
    "hub_offline",
    "tag_cache_dir",
    "cached_tag_weights",
    "check_checkpoint",
    "load_checkpoint_into",
    "weights_missing_error",
    "missing_weights_error",
]

log = logging.getLogger(__name__)

SAFETENSORS_SUFFIXES = (".safetensors",)
PICKLE_SUFFIXES = (".pt", ".pth", ".bin")


def _tag_cfg(model: str, tag: str) -> dict:
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model, tag)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(model)
        known = ", ".join(tags) if tags else "none"
        raise ModelNotFoundError(
            f"Model {model} has no pretrained weights tagged '{tag}' (known tags: {known}); "
            "run `clipcore models` to see model names with their tags."
        )
    return cfg


def tag_cache_dir(model: str, tag: str) -> Path:
    """The folder where the weights of ``model`` / ``tag`` are kept once downloaded.

    Hub weights: the repo's folder in the HF hub cache
    (``$HF_HUB_CACHE/models--<org>--<repo>``); URL weights: ``~/.cache/clip`` (open_clip's
    ``download_pretrained_from_url``). Raises ModelNotFoundError for an unknown tag.
    """
    cfg = _tag_cfg(model, tag)
    if cfg.get("file"):
        return Path(cfg["file"]).parent
    if cfg.get("hf_hub"):
        return cache_folder(os.path.split(cfg["hf_hub"])[0])
    return Path("~/.cache/clip").expanduser()


def cached_tag_weights(model: str, tag: str) -> Path | None:
    """The weights file of ``model`` / ``tag`` if it is already on disk, else None.

    Looks only at local caches (``huggingface_hub.try_to_load_from_cache``, ``~/.cache/clip``);
    never touches the network. Raises ModelNotFoundError for an unknown tag.
    """
    from huggingface_hub import try_to_load_from_cache

    cfg = _tag_cfg(model, tag)
    if cfg.get("file"):
        found = Path(cfg["file"])
        return found if found.is_file() else None
    if cfg.get("hf_hub"):
        repo_id, filename = os.path.split(cfg["hf_hub"])
        for name in hub_weight_names(filename):
            hit = try_to_load_from_cache(repo_id, name)
            if isinstance(hit, str) and os.path.isfile(hit):
                return Path(hit)
        return None
    url_file = tag_cache_dir(model, tag) / os.path.basename(cfg.get("url", ""))
    return url_file if url_file.is_file() else None


def weights_missing_error(model: str, tag: str, cause: str = "", *,
                          label: str | None = None) -> WeightsMissingError:
    """The WeightsMissingError for tag weights that are neither on disk nor downloadable;
    ``label``: the model as the user named it (default "MODEL / TAG")."""
    why = OFFLINE_WHY if hub_offline() else (
        f"the download failed ({cause})" if cause else "the download failed")
    return missing_weights_error(label or f"{model} / {tag}", tag_cache_dir(model, tag), why)


def check_checkpoint(path: str | os.PathLike) -> Path:
    """Check that a local checkpoint exists, has a known format and is safe to load.

    ``.safetensors`` files hold only tensors and are safe by construction (the header is
    parsed here so a broken file fails now). ``.pt`` / ``.pth`` / ``.bin`` files are unpickled
    with ``torch.load(weights_only=True, mmap=True)``: torch's restricted unpickler, which
    refuses every global outside its tensor allow-list before calling it, so the file's code
    never runs (a refused global -> UnsafeCheckpointError, any other refusal -> the file is
    not a weights file); ``mmap`` keeps this pass from reading the tensor data itself.

    Returns the resolved path. Raises WeightsMissingError (no such file), UnsafeCheckpointError
    (the pickle needs code), ModelNotFoundError (unknown suffix or unreadable file).
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise WeightsMissingError(
            f"The checkpoint file {p} does not exist; check the path given with --checkpoint.")
    suffix = p.suffix.lower()
    if suffix in SAFETENSORS_SUFFIXES:
        from safetensors import safe_open

        try:
            with safe_open(str(p), framework="pt"):
                pass
        except Exception as exc:  # safetensors raises its own error types
            raise ModelNotFoundError(
                f"The checkpoint {p} is not a readable safetensors file ({exc}); "
                "re-download or re-export it.") from None
    elif suffix in PICKLE_SUFFIXES:
        try:
            with _torch_warnings_logged(p):
                torch.load(p, map_location="cpu", weights_only=True, mmap=_is_zip(p))
        except pickle.UnpicklingError as exc:
            if "global" not in str(exc).lower():  # e.g. "Unsupported operand": not a torch file
                raise ModelNotFoundError(
                    f"The checkpoint {p} is not a PyTorch weights file clipdesk can read (it was "
                    "refused unread); re-download it or export it as .safetensors.") from None
            raise UnsafeCheckpointError(
                f"The checkpoint {p} contains pickled code, which clipdesk never runs; "
                "convert it to .safetensors in a trusted environment and load that instead."
            ) from exc
        except Exception as exc:
            raise ModelNotFoundError(
                f"The checkpoint {p} could not be read ({type(exc).__name__}: {exc}); "
                "it may be damaged or not a PyTorch weights file.") from None
    else:
        raise ModelNotFoundError(
            f"The checkpoint {p} has an unsupported file type '{p.suffix}'; "
            "use a .safetensors, .pt, .pth or .bin file.")
    return p.resolve()


@contextlib.contextmanager
def _torch_warnings_logged(path: Path):
    """torch's loader warns about legacy checkpoints on the user's terminal ("Detected pickle
    protocol 4 in the checkpoint ...", "TypedStorage is deprecated", with a line of torch's
    source): nothing the user can act on once the file loads. Such warnings go to the debug log."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        log.debug("Loading %s: %s: %s", path, w.category.__name__, w.message)


def _is_zip(path: Path) -> bool:
    """True for torch's zip format (torch.save since 1.6): only that format can be mmapped."""
    with open(path, "rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def load_checkpoint_into(model: torch.nn.Module, path: str | os.PathLike) -> None:
    """Load a local checkpoint into an open_clip ``model`` (strict: every key must match).

    Safety first (:func:`check_checkpoint`), then ``open_clip.load_checkpoint`` with
    ``weights_only=True``, which converts third-party layouts (OpenAI, timm, big_vision) and
    resizes position embeddings exactly as open_clip does for its own pretrained weights.
    Raises what check_checkpoint raises, or ClipcoreError when the weights do not fit the model.
    """
    import open_clip

    p = check_checkpoint(path)
    # open_clip picks the reader by the name's suffix: pass the name given, not the resolved one
    # (a hub cache file is a symlink to a blob without a suffix).
    given = Path(path).expanduser()
    try:
        with _torch_warnings_logged(given):
            open_clip.load_checkpoint(model, str(given), strict=True, weights_only=True,
                                      device="cpu")
    except (RuntimeError, KeyError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClipcoreError(
            f"The checkpoint {p.name} does not fit this model ({first_line[:200]}); "
            "pass the model config or name it was trained with.") from None
