"""An image query is decoded for the model's real input size, exactly as the indexer decodes
it: an outside copy of an indexed photo gets that photo's stored vector."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from clipcore.config import ModelSpec
from clipcore.encoder import Encoder
from clipcore.indexer import index_folders
from clipcore.library import Library
from clipcore.query import image_term, query_vector
from clipcore.search import Searcher
from tests.helpers.e2e import TINY_CONFIG


def _photo(path, width: int, height: int, seed: int) -> None:
    """A smooth, detailed picture (gradients + noise), so any change of scale changes pixels."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], -1)
    pixels = np.clip(base + rng.normal(0, 40, (height, width, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, **({"quality": 92} if path.suffix == ".jpg" else {}))


@pytest.mark.parametrize("side", [224, 256])
def test_an_outside_copy_of_an_indexed_photo_gets_its_stored_vector(tmp_path, side):
    config = json.loads(TINY_CONFIG.read_text())
    config["vision_cfg"].update(image_size=side, patch_size=32)
    config_path = tmp_path / f"tiny-clip-{side}.json"
    config_path.write_text(json.dumps(config))
    encoder = Encoder.load(ModelSpec(name=str(config_path), device="cpu"))
    assert encoder.image_size == side

    photos = tmp_path / "photos"
    photos.mkdir()
    names = {"large.jpg": (1800, 1350), "small.jpg": (300, 260),
             "large.png": (900, 700), "small.png": (300, 260)}
    for seed, (name, size) in enumerate(names.items()):
        _photo(photos / name, *size, seed=seed)
    outside = tmp_path / "outside"
    outside.mkdir()
    with Library.open(tmp_path / "data") as library:
        list(index_folders(library, [str(photos)], encoder.spec, encoder=encoder))
        searcher = Searcher(library, lambda: encoder)
        for name in names:
            copy = shutil.copy(photos / name, outside / name)
            stored = library.vector(library.find_image(str(photos / name)).id, encoder.identity)
            best = searcher.similar(copy, k=1)[0]
            assert best.path == str(photos / name)
            assert best.score >= 0.99999, (name, best.score)
            query = query_vector([image_term(copy)], encoder)
            assert float(query @ stored) >= 0.99999, (name, float(query @ stored))
