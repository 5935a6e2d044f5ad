"""Presets name real open_clip weights, and a user's model choice resolves to the right spec."""

from __future__ import annotations

import json
from pathlib import Path

import open_clip
import pytest

from clipcore.config import ModelSpec, resources_dir
from clipcore.errors import ModelNotFoundError
from clipcore.presets import DEFAULT_PRESET, load_presets, resolve_model_spec, weights_present


def test_every_preset_names_a_model_and_tag_in_the_installed_open_clip():
    presets = load_presets()
    assert {"default", "fast", "accurate", "multilingual", "shapes"} <= set(presets)
    registry = set(open_clip.list_pretrained())
    for preset in presets.values():
        assert preset.note, preset.name
        if preset.model.endswith(".json"):
            assert preset.pretrained is None and preset.checkpoint, preset.name
        else:
            assert (preset.model, preset.pretrained) in registry, preset.name
            # the hub entry that lets a first run find the weights before torch is imported
            hub = open_clip.get_pretrained_cfg(preset.model, preset.pretrained).get("hf_hub")
            assert preset.hub == hub, preset.name


def test_the_hub_file_names_are_open_clips():
    from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

    from clipcore.hubcache import SAFE_WEIGHTS_NAME, WEIGHTS_NAME

    assert (SAFE_WEIGHTS_NAME, WEIGHTS_NAME) == (HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME)


def test_default_preset_is_what_rclip_uses():
    spec = resolve_model_spec()
    assert (spec.name, spec.pretrained, spec.preset) == (
        "ViT-B-32-256", "datacomp_s34b_b86k", DEFAULT_PRESET)


def test_shapes_preset_points_into_resources_and_reports_its_weights_honestly():
    spec = resolve_model_spec("shapes", device="cpu")
    assert spec.is_config_file and spec.preset == "shapes" and spec.device == "cpu"
    assert Path(spec.name) == resources_dir() / "models" / "shapes-clip.json"
    assert Path(spec.checkpoint) == resources_dir() / "models" / "shapes-clip.safetensors"
    assert weights_present(spec) == Path(spec.checkpoint).is_file()


def test_model_choices_resolve_to_specs(tmp_path):
    named = resolve_model_spec("ViT-B-32")
    assert named.pretrained == open_clip.list_pretrained_tags_by_model("ViT-B-32")[0]
    assert resolve_model_spec("ViT-B-32", pretrained="laion2b_s34b_b79k").pretrained == "laion2b_s34b_b79k"

    config = tmp_path / "mine.json"
    config.write_text("{}")
    spec = resolve_model_spec(str(config), checkpoint=str(tmp_path / "w.safetensors"))
    assert spec == ModelSpec(str(config.resolve()), None, str(tmp_path / "w.safetensors"))

    override = resolve_model_spec("fast", checkpoint=str(tmp_path / "mobile.safetensors"))
    assert override.name == "MobileCLIP2-S0" and override.checkpoint.endswith("mobile.safetensors")


@pytest.mark.parametrize("choice", ["no-such-model", "missing.json"])
def test_unknown_choices_are_model_not_found(choice):
    with pytest.raises(ModelNotFoundError, match="clipcore models"):
        resolve_model_spec(choice)


def test_weights_present_looks_in_the_hub_cache_without_downloading(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    spec = resolve_model_spec("default")
    assert not weights_present(spec)

    # Lay out the cache entry the way huggingface_hub does: refs/main -> snapshots/<commit>/file.
    repo = tmp_path / "models--laion--CLIP-ViT-B-32-256x256-DataComp-s34B-b86K"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd")
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_model.safetensors").write_bytes(b"weights")
    assert weights_present(spec)

    assert not weights_present(ModelSpec("ViT-B-32-256", "no_such_tag"))
    assert weights_present(ModelSpec(str(tmp_path / "any.json")))  # seeded random: nothing to fetch


def test_a_broken_preset_file_is_a_clear_error(tmp_path):
    broken = tmp_path / "presets.json"
    broken.write_text(json.dumps({"x": {"pretrained": "y"}}))
    with pytest.raises(ModelNotFoundError, match="presets.json"):
        load_presets(broken)


@pytest.mark.skipif(not weights_present(resolve_model_spec("shapes")),
                    reason="the shapes model weights have not been added to resources/ yet")
def test_shapes_preset_loads_its_trained_weights_and_preprocessing():
    from clipcore.encoder import Encoder
    from clipcore.encoder import read_model_config

    spec = resolve_model_spec("shapes", device="cpu")
    encoder = Encoder.load(spec)
    _, preprocess_cfg = read_model_config(spec.name)
    assert not encoder.random_weights
    for key, value in preprocess_cfg.items():
        assert encoder.preprocess_cfg[key] == (tuple(value) if isinstance(value, list) else value)
