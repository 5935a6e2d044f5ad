"""Named model presets (``resources/presets.json``) and turning a user's model choice into a spec.

``presets.json`` maps a preset name to ``{"model", "pretrained", "note", "checkpoint"?,
"hub"?}``: ``model`` is an open_clip model name or a config JSON path relative to
``resources/``; ``checkpoint`` (optional) is a weights file relative to ``resources/`` (or
absolute); ``hub`` (optional) is the tag's ``hf_hub`` entry of open_clip's pretrained registry
("ORG/REPO/" or "ORG/REPO/FILE"), so that a first run can find, or start downloading, the
weights before torch and open_clip are imported (:func:`fetch_preset_weights`; seconds on a
laptop). Every name / tag pair, and every ``hub``, is checked against the installed open_clip
registry by the tests.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .config import ModelSpec, resources_dir
from .errors import ModelNotFoundError

if TYPE_CHECKING:
    from .download import DownloadProgress

__all__ = ["Preset", "DEFAULT_PRESET", "load_presets", "resolve_model_spec", "weights_present",
           "fetch_preset_weights"]

DEFAULT_PRESET = "default"


def _resource_path(value: str) -> str:
    """A path from presets.json: absolute as given, else relative to ``resources/``."""
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else resources_dir() / path)


@dataclass(frozen=True)
class Preset:
    """One named model choice.

    ``model``: open_clip name, or a config JSON path relative to ``resources/``;
    ``pretrained``: open_clip pretrained tag or None; ``note``: one line for `clipcore models`
    and the settings dialog; ``checkpoint``: weights file relative to ``resources/`` or absolute;
    ``hub``: the tag's ``hf_hub`` entry in open_clip's registry, or None.
    """

    name: str
    model: str
    pretrained: str | None
    note: str
    checkpoint: str | None = None
    hub: str | None = None

    def spec(self, device: str = "auto", precision: str = "auto",
             checkpoint: str | None = None) -> ModelSpec:
        """The ModelSpec of this preset, paths resolved; ``checkpoint`` overrides the preset's."""
        model = _resource_path(self.model) if self.model.endswith(".json") else self.model
        weights = checkpoint or (_resource_path(self.checkpoint) if self.checkpoint else None)
        return ModelSpec(name=model, pretrained=self.pretrained, checkpoint=weights,
                         device=device, precision=precision, preset=self.name)


def load_presets(path: str | Path | None = None) -> dict[str, Preset]:
    """Read ``resources/presets.json`` (or ``path``) -> {name: Preset}, in file order.

    Raises ModelNotFoundError when the file is missing or malformed.
    """
    path = Path(path) if path else resources_dir() / "presets.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {name: Preset(name=name, model=entry["model"], pretrained=entry.get("pretrained"),
                             note=entry.get("note", ""), checkpoint=entry.get("checkpoint"),
                             hub=entry.get("hub"))
                for name, entry in raw.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelNotFoundError(f"The preset list {path} cannot be read ({exc}); "
                                 "reinstall clipdesk to restore it.") from None


def resolve_model_spec(model: str | None = None, pretrained: str | None = None,
                       checkpoint: str | None = None, device: str = "auto",
                       precision: str = "auto") -> ModelSpec:
    """Turn the user's choice into a ModelSpec.

    ``model`` may be None (-> the "default" preset), a preset name, an open_clip model name, a
    path to an open_clip config ``.json``, or an open_clip hub repo ``hf-hub:ORG/REPO``. For an
    open_clip name without ``pretrained`` or ``checkpoint``, the first tag open_clip lists for
    it is used, so the spec (and its catalog identity) always names its weights.
    ``checkpoint`` and ``pretrained`` override a preset's. Raises ModelNotFoundError for an
    unknown name or a missing config file. open_clip (slow to import) is imported only for a
    bare open_clip name, never for a preset or a config file.
    """
    checkpoint = str(Path(checkpoint).expanduser().resolve()) if checkpoint else None
    name = model or DEFAULT_PRESET
    presets = load_presets()
    if name in presets:
        preset = presets[name]
        spec = preset.spec(device, precision, checkpoint)
        if pretrained:
            spec = ModelSpec(spec.name, pretrained, spec.checkpoint, device, precision, preset.name)
        return spec
    if name.endswith(".json"):
        path = Path(name).expanduser()
        if not path.is_file():
            raise ModelNotFoundError(f"The model config file {path} does not exist; check the "
                                     "path, or run `clipcore models` to see the presets.")
        return ModelSpec(str(path.resolve()), pretrained, checkpoint, device, precision)
    if name.startswith("hf-hub:"):      # an open_clip hub repo: config + weights from there
        return ModelSpec(name, None, checkpoint, device, precision)
    import open_clip

    if name not in open_clip.list_models():
        raise ModelNotFoundError(f"Unknown model or preset '{name}'; run `clipcore models` to see "
                                 f"the presets ({', '.join(presets)}) and open_clip model names.")
    if not pretrained and not checkpoint:
        tags = open_clip.list_pretrained_tags_by_model(name)
        if not tags:
            raise ModelNotFoundError(f"open_clip has no pretrained weights for {name}; pass a "
                                     "weights file with `--checkpoint PATH`.")
        pretrained = tags[0]
    return ModelSpec(name, pretrained, checkpoint, device, precision)


def weights_present(spec: ModelSpec) -> bool:
    """True when the weights are on disk: the checkpoint file exists, the open_clip / HF cache
    holds the tag's weights, or the spec is a bare config (seeded random weights, nothing to
    fetch). Never touches the network; False for an unknown tag."""
    if spec.checkpoint:
        return Path(spec.checkpoint).expanduser().is_file()
    if spec.name.startswith("hf-hub:"):
        from .download import cached_path, hub_files

        return all(cached_path(f) is not None for f in hub_files(spec))
    if not spec.pretrained:
        return spec.is_config_file
    from .weights import cached_tag_weights

    try:
        return cached_tag_weights(spec.name, spec.pretrained) is not None
    except ModelNotFoundError:
        return False


def fetch_preset_weights(spec: ModelSpec, progress: Callable[[DownloadProgress], None] | None = None,
                         cancel: threading.Event | None = None) -> None:
    """Before torch and open_clip are imported (seconds): make sure a preset's hub weights are
    in the hub cache. Returns at once when they are, or when ``spec`` is not a preset with a
    ``hub`` entry (its weights are then found or fetched while the model loads); downloads them
    (``progress``, ``cancel`` as in :func:`clipcore.download.fetch`) when downloads are allowed.
    Raises WeightsMissingError, the same one the model's loading would raise, when they are
    missing and downloads are switched off or fail, and DownloadCancelled. Never imports torch.
    """
    preset = load_presets().get(spec.preset or "")
    if (preset is None or not preset.hub or spec.checkpoint or spec.pretrained != preset.pretrained
            or spec.name != preset.model):
        return
    from .download import cached_path, fetch, hub_file
    from .hubcache import OFFLINE_WHY, cache_folder, hub_offline, missing_weights_error

    file = hub_file(preset.hub)
    if cached_path(file) is not None:
        return
    if hub_offline():
        raise missing_weights_error(spec.full_label, cache_folder(file.repo_id), OFFLINE_WHY)
    fetch([file], spec.full_label, progress=progress, cancel=cancel)
