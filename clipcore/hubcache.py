"""The Hugging Face hub cache as clipcore uses it, without importing torch or open_clip: the
file names open_clip looks for in a hub repo, the cache folder of a repo, whether downloads are
switched off, and the error for weights that are not on this computer. Shared by the weights
loader (clipcore.weights), the downloader (clipcore.download) and the check a preset makes
before the model loads (clipcore.presets.fetch_preset_weights)."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import WeightsMissingError

__all__ = ["SAFE_WEIGHTS_NAME", "WEIGHTS_NAME", "OFFLINE_WHY", "hub_weight_names", "hub_offline",
           "cache_folder", "missing_weights_error"]

#: open_clip's weight file names in a hub repo (``open_clip.constants.HF_SAFE_WEIGHTS_NAME``,
#: ``HF_WEIGHTS_NAME``; the tests check they still agree), here so that nothing in this module
#: imports open_clip (and torch) to name a file.
SAFE_WEIGHTS_NAME = "open_clip_model.safetensors"
WEIGHTS_NAME = "open_clip_pytorch_model.bin"
#: Why nothing was downloaded when :func:`hub_offline` says so (the end of the user's message).
OFFLINE_WHY = "downloads are switched off (HF_HUB_OFFLINE=1)"


def hub_weight_names(filename: str) -> list[str]:
    """File names open_clip tries in a hub repo, best first (``download_pretrained_from_hf``):
    the ``.safetensors`` twin of a pickle first."""
    if not filename:
        return [SAFE_WEIGHTS_NAME, WEIGHTS_NAME]
    if filename.endswith((".bin", ".pth")):
        return [filename[:-4] + ".safetensors", filename]
    return [filename]


def hub_offline() -> bool:
    """True when downloads from the Hugging Face hub are switched off (``HF_HUB_OFFLINE=1``)."""
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE", "")
    return bool(constants.HF_HUB_OFFLINE) or flag.strip().upper() in {"1", "ON", "YES", "TRUE"}


def missing_weights_error(what: str, folder: Path, why: str) -> WeightsMissingError:
    """WeightsMissingError for the weights of ``what`` (the model as users name it), expected
    in ``folder``, not fetched because ``why``; the message says what to do on the command
    line (the app words it its own way from the error's attributes)."""
    return WeightsMissingError(
        f"The weights of {what} are not on this computer and {why}. Copy the folder "
        f"{folder.name} from a computer with internet where clipdesk has downloaded them into "
        f"{folder.parent}{os.sep}, or pass a weights file with --checkpoint FILE, or try the "
        "bundled demo model with --model shapes (it only knows coloured shapes).",
        model=what, folder=folder, why=why)


def cache_folder(repo_id: str) -> Path:
    """The hub cache folder of a repo (``$HF_HUB_CACHE/models--ORG--NAME``)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE) / ("models--" + repo_id.replace("/", "--"))
