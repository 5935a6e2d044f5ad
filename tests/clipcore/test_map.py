"""`clipcore map --out map.png` (a subprocess) on a small library: the PNG shows the photos."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tests.helpers.e2e import TINY_CONFIG, assert_one_line_error, make_photos, run_cli


def test_map_renders_every_photo_to_a_png(tmp_path):
    make_photos(tmp_path / "photos", 12, size=64)
    data = tmp_path / "data"
    assert run_cli(["index", tmp_path / "photos", "--model", TINY_CONFIG], data, timeout=600).returncode == 0
    out = tmp_path / "map.png"
    proc = run_cli(["map", "--out", out, "--size", "512"], data, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "12 photos" in proc.stdout and "PCA" in proc.stdout
    pixels = np.asarray(Image.open(out).convert("RGB"))
    assert pixels.shape == (512, 512, 3)
    background = pixels[0, 0]
    drawn = np.any(pixels != background, axis=2)
    assert drawn.mean() > 0.02          # thumbnails were pasted (12 of up to 48 x 48 px)


def test_map_errors_are_one_line(tmp_path):
    assert_one_line_error(run_cli(["map", "--out", tmp_path / "map.png"], tmp_path / "data"), "index")
    make_photos(tmp_path / "photos", 3)
    assert run_cli(["index", tmp_path / "photos", "--model", TINY_CONFIG], tmp_path / "data", timeout=600).returncode == 0
    assert_one_line_error(run_cli(["map", "--out", tmp_path / "no" / "map.png"], tmp_path / "data"),
                          "does not exist")
