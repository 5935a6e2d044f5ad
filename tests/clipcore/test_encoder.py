"""The Encoder gives exactly open_clip's embeddings, loads every kind of model spec, and fails
with clear ClipcoreErrors (never a traceback) on missing weights, unknown names and unsafe files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from clipcore.config import ModelSpec
from clipcore.encoder import Encoder
from clipcore.errors import (ClipcoreError, ModelNotFoundError, UnsafeCheckpointError,
                             WeightsMissingError)

TINY = json.loads((Path(__file__).resolve().parents[1] / "data" / "tiny-clip.json").read_text())

TEXTS = ["a dog", "", "a red car parked on the beach at sunset, seen from far away",
         "word " * 120]  # the last one is longer than the 77-token context


def photos() -> list[Image.Image]:
    """Small pictures of different sizes, aspect ratios and modes, with a shape at an edge."""
    out = []
    for i, (w, h, mode) in enumerate([(48, 30, "RGB"), (30, 64, "RGB"), (40, 40, "L"),
                                      (100, 20, "RGBA")]):
        im = Image.new("RGB", (w, h), (30 * i, 120, 200 - 40 * i))
        ImageDraw.Draw(im).ellipse((0, 0, w // 3, h // 3), fill=(250, 20, 20))
        out.append(im.convert(mode))
    return out


def make_model(tmp_path: Path, preprocess_cfg: dict | None = None, **text_cfg) -> tuple[Path, Path, str]:
    """A config JSON (flat layout) plus its weights saved as .safetensors from open_clip.

    Returns (config path, checkpoint path, open_clip 'local-dir:' reference of the same model:
    open_clip's own loader reads the config, preprocess_cfg and weights from that folder)."""
    import open_clip
    from safetensors.torch import save_file

    cfg = json.loads(json.dumps(TINY))
    cfg["text_cfg"].update(text_cfg)
    folder = tmp_path / "reference"
    folder.mkdir(parents=True)
    (folder / "open_clip_config.json").write_text(
        json.dumps({"model_cfg": cfg, "preprocess_cfg": preprocess_cfg or {}}))
    torch.manual_seed(123)
    model = open_clip.create_model(f"local-dir:{folder}")
    checkpoint = folder / "open_clip_model.safetensors"
    save_file(model.state_dict(), str(checkpoint))
    config = tmp_path / "model.json"
    config.write_text(json.dumps({**cfg, **({"preprocess_cfg": preprocess_cfg} if preprocess_cfg else {})}))
    return config, checkpoint, f"local-dir:{folder}"


def open_clip_reference(ref: str, images, texts):
    """open_clip's own pipeline: create_model_and_transforms + get_tokenizer, normalised."""
    import open_clip

    model, _, preprocess = open_clip.create_model_and_transforms(ref)
    model.eval()
    tokenizer = open_clip.get_tokenizer(ref)
    with torch.no_grad():
        image = model.encode_image(torch.stack([preprocess(im) for im in images]), normalize=True)
        text = model.encode_text(tokenizer(texts), normalize=True)
    return image.numpy(), text.numpy()


PREPROCESS_CASES = {
    "model default": None,
    "squash, own mean/std": {"resize_mode": "squash", "mean": [0.5, 0.4, 0.3],
                             "std": [0.2, 0.25, 0.3], "interpolation": "bilinear"},
    "longest, padded": {"resize_mode": "longest", "fill_color": 0, "interpolation": "bicubic"},
}


@pytest.mark.parametrize("case", list(PREPROCESS_CASES))
def test_embeddings_equal_open_clip_including_preprocessing(tmp_path, case):
    config, checkpoint, ref = make_model(tmp_path, PREPROCESS_CASES[case])
    encoder = Encoder.load(ModelSpec(name=str(config), checkpoint=str(checkpoint), device="cpu"))
    want_images, want_texts = open_clip_reference(ref, photos(), TEXTS)

    got_images = encoder.encode_images(photos())
    got_texts = encoder.encode_texts(TEXTS)

    assert got_images.dtype == np.float32 and got_images.shape == (4, encoder.dim) == (4, 32)
    assert got_texts.dtype == np.float32 and got_texts.shape == (4, 32)
    assert np.abs(got_images - want_images).max() < 1e-5
    assert np.abs(got_texts - want_texts).max() < 1e-5
    np.testing.assert_allclose(np.linalg.norm(got_images, axis=1), 1, atol=1e-5)
    assert not encoder.random_weights


def test_preprocess_follows_the_models_resize_mode(tmp_path):
    """'longest' keeps a shape at the edge of a wide photo (padding); 'shortest' crops it away."""
    wide = Image.new("RGB", (96, 32), (255, 255, 255))
    ImageDraw.Draw(wide).rectangle((0, 0, 10, 31), fill=(255, 0, 0))  # red bar at the left edge
    sizes = {}
    for mode in ("longest", "shortest"):
        config = tmp_path / f"{mode}.json"
        config.write_text(json.dumps({**TINY, "preprocess_cfg": {"resize_mode": mode}}))
        encoder = Encoder.load(ModelSpec(name=str(config), device="cpu"))
        pixels = encoder.preprocess(wide)
        assert pixels.shape == (3, encoder.image_size, encoder.image_size) == (3, 32, 32)
        red = (pixels[0] > 1.0) & (pixels[1] < 0)  # normalised: much red, little green
        sizes[mode] = int(red.sum())
    assert sizes["longest"] > 0, "the red bar at the edge was cropped away"
    assert sizes["shortest"] == 0


def test_prefix_text_encoding_is_exact_and_only_used_for_causal_towers(tmp_path):
    causal, _, _ = make_model(tmp_path / "a")
    bidirectional, _, _ = make_model(tmp_path / "b", no_causal_mask=True, pool_type="last")
    assert Encoder.load(ModelSpec(name=str(causal), device="cpu")).text_prefix
    assert not Encoder.load(ModelSpec(name=str(bidirectional), device="cpu")).text_prefix

    encoder = Encoder.load(ModelSpec(name=str(causal), device="cpu"))
    tokens = encoder.tokenize(TEXTS)
    with torch.no_grad():
        full = encoder.model.encode_text(tokens, normalize=True).numpy()
    assert np.abs(encoder.encode_texts(TEXTS) - full).max() < 1e-5
    # Batching must not change a text's embedding (the prefix length depends on the batch).
    alone = np.concatenate([encoder.encode_texts([t]) for t in TEXTS])
    assert np.abs(alone - full).max() < 1e-5


@pytest.mark.parametrize("text_cfg", [{}, {"no_causal_mask": True, "pool_type": "last"}])
def test_text_embeddings_equal_open_clip_for_either_text_tower(tmp_path, text_cfg):
    config, checkpoint, ref = make_model(tmp_path, **text_cfg)
    encoder = Encoder.load(ModelSpec(name=str(config), checkpoint=str(checkpoint), device="cpu"))
    _, want = open_clip_reference(ref, photos()[:1], TEXTS)
    assert np.abs(encoder.encode_texts(TEXTS) - want).max() < 1e-5


def test_preprocessed_tensor_input_equals_pil_input_and_empty_input_is_empty(tiny_spec):
    encoder = Encoder.load(tiny_spec)
    pictures = photos()
    batch = torch.stack([encoder.preprocess(im) for im in pictures])
    assert batch.dtype == torch.float32
    assert np.abs(encoder.encode_images(batch) - encoder.encode_images(pictures)).max() < 1e-6
    encoder.batch_size = 3  # several batches give the same rows
    assert np.abs(encoder.encode_images(pictures) - encoder.encode_images(batch)).max() < 1e-6
    assert encoder.encode_images([]).shape == (0, encoder.dim)
    assert encoder.encode_texts([]).shape == (0, encoder.dim)


def test_config_without_weights_gives_the_same_seeded_model_every_time(tiny_spec):
    torch.manual_seed(7)
    expected_next = torch.rand(3)
    torch.manual_seed(7)
    first = Encoder.load(tiny_spec)
    assert torch.equal(torch.rand(3), expected_next), "loading changed the caller's random state"
    second = Encoder.load(tiny_spec)
    assert first.random_weights and second.random_weights
    assert np.array_equal(first.encode_images(photos()), second.encode_images(photos()))
    assert np.array_equal(first.encode_texts(TEXTS), second.encode_texts(TEXTS))
    assert first.identity == tiny_spec.identity()


def test_hub_layout_config_and_pt_checkpoint_load_too(tmp_path):
    config, checkpoint, ref = make_model(tmp_path, PREPROCESS_CASES["longest, padded"])
    from safetensors.torch import load_file

    pt = tmp_path / "weights.pt"
    torch.save({"state_dict": load_file(str(checkpoint))}, pt)
    hub_layout = Path(ref.removeprefix("local-dir:")) / "open_clip_config.json"
    encoder = Encoder.load(ModelSpec(name=str(hub_layout), checkpoint=str(pt), device="cpu"))
    want, _ = open_clip_reference(ref, photos(), TEXTS[:1])
    assert encoder.preprocess_cfg["resize_mode"] == "longest"
    assert np.abs(encoder.encode_images(photos()) - want).max() < 1e-5


def test_pickle_checkpoint_that_carries_code_is_refused_and_never_runs(tmp_path, tiny_config):
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return exec, (f"__import__('pathlib').Path({str(marker)!r}).write_text('ran')",)

    evil = tmp_path / "weights.pt"
    torch.save({"state_dict": {"visual.proj": Payload()}}, evil)

    with pytest.raises(UnsafeCheckpointError, match="weights.pt"):
        Encoder.load(ModelSpec(name=str(tiny_config), checkpoint=str(evil), device="cpu"))
    assert not marker.exists(), "loading the checkpoint ran its code"

    # The file really does carry code: an unrestricted unpickler runs it.
    torch.load(evil, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("name, content, error", [
    ("weights.bin", b"not a pickle at all", ModelNotFoundError),
    ("weights.safetensors", b"\x00\x01garbage", ModelNotFoundError),
    ("weights.ckpt", b"", ModelNotFoundError),
    ("missing.safetensors", None, WeightsMissingError),
])
def test_bad_checkpoint_files_are_clear_errors(tmp_path, tiny_config, name, content, error):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(error, match=name):
        Encoder.load(ModelSpec(name=str(tiny_config), checkpoint=str(path), device="cpu"))


def test_checkpoint_of_another_model_is_a_clear_error(tmp_path, tiny_config):
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"visual.proj": torch.zeros(3, 3)}, str(other))
    with pytest.raises(ClipcoreError, match="does not fit"):
        Encoder.load(ModelSpec(name=str(tiny_config), checkpoint=str(other), device="cpu"))


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache, so the tests do not depend on what this computer holds."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.mark.timeout(120)
def test_missing_weights_offline_fail_fast_with_where_and_how(empty_hub_cache):
    spec = ModelSpec(name="ViT-B-32-256", pretrained="datacomp_s34b_b86k", device="cpu")
    with pytest.raises(WeightsMissingError) as info:
        Encoder.load(spec)
    message = str(info.value)
    assert "ViT-B-32-256" in message and "datacomp_s34b_b86k" in message
    assert str(empty_hub_cache) in message
    assert "--checkpoint" in message and "internet" in message


@pytest.mark.parametrize("spec, words", [
    (ModelSpec(name="ViT-B-32-265", pretrained="datacomp_s34b_b86k"), "clipcore models"),
    (ModelSpec(name="ViT-B-32-256", pretrained="no_such_tag"), "datacomp_s34b_b86k"),
    (ModelSpec(name="ViT-B-32-256"), "--checkpoint"),
    (ModelSpec(name="/no/such/model.json"), "does not exist"),
])
def test_unknown_models_and_tags_are_model_not_found(spec, words):
    with pytest.raises(ModelNotFoundError, match=words):
        Encoder.load(spec)


def test_malformed_config_file_is_model_not_found(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{ not json")
    not_a_model = tmp_path / "other.json"
    not_a_model.write_text(json.dumps({"hello": 1}))
    unbuildable = tmp_path / "unbuildable.json"
    unbuildable.write_text(json.dumps({**TINY, "vision_cfg": {"no_such_option": 3}}))
    for path in (broken, not_a_model, unbuildable):
        with pytest.raises(ModelNotFoundError, match=path.name):
            Encoder.load(ModelSpec(name=str(path), device="cpu"))


def test_mobileclip_style_blocks_are_reparameterised_without_changing_embeddings(tmp_path):
    """A FastViT image tower (MobileCLIP's) is fused for inference: same embeddings as open_clip's
    unfused model, and no MobileOne block keeps its training-time branches."""
    import open_clip

    cfg = {**TINY, "vision_cfg": {"timm_model_name": "fastvit_t8", "timm_model_pretrained": False,
                                  "timm_pool": "avg", "timm_proj": "linear", "image_size": 64}}
    config = tmp_path / "fastvit.json"
    config.write_text(json.dumps(cfg))
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg}))

    encoder = Encoder.load(ModelSpec(name=str(config), device="cpu"))
    assert encoder.reparameterized and encoder.channels_last
    blocks = [m for m in encoder.model.modules() if type(m).__name__ == "MobileOneBlock"]
    assert blocks and all(set(dict(b.named_children())) <= {"se", "act", "reparam_conv"}
                          for b in blocks)

    torch.manual_seed(0)  # the Encoder's seeded random init, built by plain open_clip
    plain = open_clip.create_model(f"local-dir:{reference}").eval()
    batch = torch.stack([encoder.preprocess(im) for im in photos()])
    with torch.no_grad():
        want = plain.encode_image(batch, normalize=True).numpy()
    assert np.abs(encoder.encode_images(batch) - want).max() < 1e-4
