"""Which models the benchmarks run, built with random weights (no download, same speed).

A name is a preset (``clipcore.presets``), an open_clip model name, or an open_clip config
``.json`` path (the tests' tiny model). Random weights run at the speed of trained ones, so
the speed benchmarks never need the network.
"""

from __future__ import annotations

from pathlib import Path

from clipcore.config import ModelSpec, resources_dir


def model_names(names: list[str] | None) -> list[str]:
    """``names`` as given, or every preset name when None."""
    if names:
        return list(names)
    from clipcore.presets import load_presets

    return list(load_presets())


def default_model() -> str:
    """The default preset's name."""
    from clipcore.presets import DEFAULT_PRESET

    return DEFAULT_PRESET


def random_weight_spec(name: str, device: str = "auto") -> ModelSpec:
    """A ModelSpec for ``name`` (preset, open_clip name or config path) with no weights."""
    from clipcore.presets import load_presets

    preset = load_presets().get(name) if not name.endswith(".json") else None
    model = preset.model if preset else name
    if model.endswith(".json") and not Path(model).is_absolute():
        model = str(resources_dir() / model)
    return ModelSpec(name=model, pretrained=None, device=device,
                     preset=preset.name if preset else None)


def open_clip_model(spec: ModelSpec, device, dtype):
    """The same architecture built with plain ``open_clip.create_model`` (eval mode)."""
    import open_clip

    if spec.is_config_file:
        import json

        cfg = json.loads(Path(spec.name).read_text())
        model = open_clip.CLIP(**cfg)
    else:
        model = open_clip.create_model(spec.name, pretrained=None)
    return model.to(device=device, dtype=dtype).eval()
