"""Which models the benchmarks run, built with random weights (no download, same speed).

A name is a preset (``clipcore.presets``), an open_clip model name, or an open_clip config
``.json`` path (the tests' tiny model). Random weights run at the speed of trained ones, so
the speed benchmarks never need the network.
"""

from __future__ import annotations

import logging
from pathlib import Path

from benchmarks.synthetic import work_dir
from clipcore.config import ModelSpec


def preset_names() -> list[str]:
    """Every preset name, in presets.json order."""
    from clipcore.presets import load_presets

    return list(load_presets())


def random_weight_spec(name: str, device: str = "auto") -> ModelSpec:
    """A ModelSpec for ``name`` (preset, open_clip name or config path) with random weights.

    clipcore loads random weights only from a config file, so an open_clip name is written
    out as its registered config (``open_clip.get_model_config``) under the scratch folder.
    Raises ModelNotFoundError for an unknown name.
    """
    import json

    import open_clip

    from clipcore.errors import ModelNotFoundError
    from clipcore.presets import load_presets

    preset = None if name.endswith(".json") else load_presets().get(name)
    model = preset.spec(device).name if preset else name
    if not model.endswith(".json"):
        config = open_clip.get_model_config(model)
        if config is None:
            raise ModelNotFoundError(f"Unknown model '{model}'.")
        path = work_dir() / "configs" / f"{model}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(config))
        model = str(path)
    return ModelSpec(name=model, device=device, preset=preset.name if preset else None)


def open_clip_model(spec: ModelSpec, device, dtype):
    """The same architecture built with plain ``open_clip.create_model`` (eval mode)."""
    import open_clip

    from clipcore.encoder import read_model_config

    model_cfg, _ = read_model_config(spec.name)
    name = Path(spec.name).stem
    if open_clip.get_model_config(name) == model_cfg:
        logging.disable(logging.WARNING)   # "No pretrained weights loaded": intended
        try:
            model = open_clip.create_model(name, pretrained=None)
        finally:
            logging.disable(logging.NOTSET)
    else:   # not a registered model (the tiny test config): the same config as a CLIP
        model = open_clip.CLIP(**model_cfg)
    return model.to(device=device, dtype=dtype).eval()
