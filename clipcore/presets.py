"""CONTRACT STUB (owned by the encoder helper)."""
from __future__ import annotations
from dataclasses import dataclass
from .config import ModelSpec


@dataclass(frozen=True)
class Preset:
    name: str
    model: str              # open_clip name, or a config JSON path relative to resources/
    pretrained: str | None
    note: str
    checkpoint: str | None = None   # relative to resources/ or absolute


DEFAULT_PRESET = "default"


def load_presets() -> dict[str, Preset]:
    """Read resources/presets.json."""
    raise NotImplementedError


def resolve_model_spec(model: str | None = None, pretrained: str | None = None,
                       checkpoint: str | None = None, device: str = "auto",
                       precision: str = "auto") -> ModelSpec:
    """model may be None (-> default preset), a preset name, an open_clip name, or a config
    .json path. Raises ModelNotFoundError for an unknown name."""
    raise NotImplementedError


def weights_present(spec: ModelSpec) -> bool:
    """True when the weights are on disk (checkpoint file exists, or open_clip/HF cache has them)."""
    raise NotImplementedError
