"""Hostile images (issue 15, items 1 and 2): one image never stops indexing, decoding has a
bounded memory.

Item 1: any failure of one image -- decode, thumbnail, preprocess, the encode of its batch, an
unusable vector -- skips that image with a reason and the run goes on; a run that met such an
image finishes, and the next run has nothing to do (no library stuck at the same file).
Item 2: the pixels decoded at once are capped by a shared budget, big files are decoded from
the open file instead of a copy in memory, and a file too big is refused from its size alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipcore import imagefile, imaging
from clipcore.budget import PixelBudget
from clipcore.cli import main
from clipcore.encoder import Encoder
from clipcore.errors import ClipcoreError, ImageError
from clipcore.indexer import index_folders
from clipcore.library import Library
from tests.helpers import zoo
from tests.helpers.e2e import TINY_CONFIG, make_photos, run_cli

MARK = (1, 2, 3)   # the corner pixel colour of the photos a test makes "poisonous"


@pytest.fixture(scope="module")
def encoder(tiny_spec):
    return Encoder.load(tiny_spec)


def _poison(path: Path) -> None:
    img = Image.open(path).convert("RGB")
    img.putpixel((0, 0), MARK)
    img.save(path)


def _is_poisoned(image) -> bool:
    return image.convert("RGB").getpixel((0, 0)) == MARK


def _index(tmp_path, folder, encoder, **kw):
    with Library.open(tmp_path / "data") as library:
        events = list(index_folders(library, [str(folder)], encoder.spec, encoder=encoder,
                                    batch_size=4, **kw))
        skipped = {r.path: r.skip_reason for r in library.skipped()}
        count = library.count(encoder.identity)
    return events[-1].summary, skipped, count


@pytest.fixture
def photos(tmp_path):
    """10 photos, two of them (index 3 and 6, in different batches of 4) marked poisonous."""
    paths = make_photos(tmp_path / "p", 10, seed=4)
    for i in (3, 6):
        _poison(paths[i])
    return paths


# -- item 1: per-image isolation ---------------------------------------------------------------

def test_thin_pngs_are_skipped_and_the_next_run_has_nothing_to_do(tmp_path, capsys):
    folder = tmp_path / "photos"
    make_photos(folder, 5, seed=1)
    for size in ((60000, 1), (1, 60000)):     # as in the zoo: 256-byte PNGs
        Image.new("RGB", size, (10, 200, 30)).save(folder / f"thin_{size[0]}x{size[1]}.png")
    first = run_cli(["index", folder, "--model", TINY_CONFIG], tmp_path / "data", timeout=600)
    assert first.returncode == 0, first.stderr
    assert "5 new" in first.stdout and "2 skipped" in first.stdout, first.stdout
    assert "extreme aspect ratio" in first.stdout
    data = ["--data-dir", str(tmp_path / "data")]
    assert main(["index", str(folder), "--model", str(TINY_CONFIG), *data]) == 0
    assert "Nothing to do" in capsys.readouterr().out
    assert main(["info", "--all", *data]) == 0
    info = capsys.readouterr().out
    assert "extreme aspect ratio (60000x1)" in info
    assert "extreme aspect ratio (1x60000)" in info


def test_aspect_ratio_at_the_limit_is_indexed(tmp_path, encoder):
    img = Image.new("RGB", (imaging.MAX_ASPECT * 8, 8), (200, 10, 10))
    decoded = imaging.decode_image(img, min_side=encoder.image_size, thumb_size=64)
    assert encoder.preprocess(decoded.image).shape == (3, encoder.image_size, encoder.image_size)
    with pytest.raises(ImageError, match=r"extreme aspect ratio \(265x8\)"):
        imaging.decode_image(Image.new("RGB", (imaging.MAX_ASPECT * 8 + 9, 8)))


def test_a_preprocess_failure_skips_only_that_image(tmp_path, photos, encoder, monkeypatch):
    real = encoder.preprocess

    def preprocess(image):
        if _is_poisoned(image):
            raise ValueError("height and width must be > 0")
        return real(image)

    monkeypatch.setattr(encoder, "preprocess", preprocess)
    summary, skipped, count = _index(tmp_path, photos[0].parent, encoder)
    assert (summary.new, summary.skipped, count) == (8, 2, 8)
    assert skipped == {str(photos[i]): "could not prepare the image for the model (ValueError)"
                       for i in (3, 6)}


def test_a_decode_crash_or_memory_error_skips_only_that_image(tmp_path, photos, encoder,
                                                              monkeypatch):
    real = imaging.decode_image

    def decode(path, **kw):
        if path == str(photos[3]):
            raise MemoryError
        if path == str(photos[6]):
            raise RuntimeError("a bug met on this file")
        return real(path, **kw)

    monkeypatch.setattr(imaging, "decode_image", decode)
    summary, skipped, count = _index(tmp_path, photos[0].parent, encoder)
    assert count == 8
    assert skipped == {str(photos[3]): "image too large (out of memory)",
                       str(photos[6]): "could not prepare the image for the model (RuntimeError)"}


def test_a_thumbnail_failure_skips_only_that_image(tmp_path, photos, encoder, monkeypatch):
    real = imaging.make_thumbnail

    def thumbnail(image, size):
        if _is_poisoned(image):
            raise ValueError("height and width must be > 0")
        return real(image, size)

    monkeypatch.setattr(imaging, "make_thumbnail", thumbnail)
    summary, skipped, count = _index(tmp_path, photos[0].parent, encoder,
                                     thumbnails=lambda path, image: None)
    assert count == 8
    assert set(skipped.values()) == {"could not make a thumbnail (ValueError)"}


def test_a_failed_batch_is_retried_image_by_image(tmp_path, photos, encoder, monkeypatch):
    real_pre, real_enc = encoder.preprocess, encoder.encode_images
    calls = []

    def preprocess(image):
        tensor = real_pre(image)
        return tensor.fill_(777.0) if _is_poisoned(image) else tensor

    def encode_images(batch):
        calls.append(len(batch))
        if bool((batch == 777.0).any()):
            raise RuntimeError("the model crashed on this input")
        return real_enc(batch)

    monkeypatch.setattr(encoder, "preprocess", preprocess)
    monkeypatch.setattr(encoder, "encode_images", encode_images)
    summary, skipped, count = _index(tmp_path, photos[0].parent, encoder)
    assert count == 8
    assert skipped == {str(photos[i]): "the model failed on this image (RuntimeError)"
                       for i in (3, 6)}
    assert calls.count(1) == 8, calls       # two failed batches of 4, retried one by one


def test_an_invalid_vector_is_never_stored(tmp_path, photos, encoder, monkeypatch):
    real_pre, real_enc = encoder.preprocess, encoder.encode_images

    def preprocess(image):
        tensor = real_pre(image)
        return tensor.fill_(777.0) if _is_poisoned(image) else tensor

    def encode_images(batch):
        out = real_enc(batch)
        out[(batch == 777.0).flatten(1).any(dim=1).numpy()] = np.nan
        return out

    monkeypatch.setattr(encoder, "preprocess", preprocess)
    monkeypatch.setattr(encoder, "encode_images", encode_images)
    summary, skipped, count = _index(tmp_path, photos[0].parent, encoder)
    assert count == 8
    assert set(skipped.values()) == {"the model gave an invalid vector for this image"}


def test_a_model_that_fails_on_everything_stops_without_marking_photos(tmp_path, photos,
                                                                        encoder, monkeypatch):
    def broken(batch):
        raise RuntimeError("CUDA error: device lost")

    monkeypatch.setattr(encoder, "encode_images", broken)
    with pytest.raises(ClipcoreError, match="fails on every image"):
        _index(tmp_path, photos[0].parent, encoder)
    with Library.open(tmp_path / "data") as library:
        assert library.skipped() == []          # nothing blamed on the photos


# -- item 2: bounded decode memory -------------------------------------------------------------

def test_the_budget_caps_pixels_in_flight_and_serves_in_order():
    budget = PixelBudget(100)
    inside, order, lock = [], [], threading.Lock()
    start = threading.Barrier(6)

    def work(i, pixels):
        start.wait()
        with budget.hold(pixels):
            with lock:
                inside.append(budget.in_flight)
                order.append(i)

    threads = [threading.Thread(target=work, args=(i, p))
               for i, p in enumerate([60, 60, 30, 500, 10, 90])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert max(inside) <= 100 and budget.peak <= 100 and budget.in_flight == 0
    assert sorted(order) == list(range(6))      # the one bigger than the budget ran too


def test_huge_png_decodes_within_the_budget(kinds):
    budget = PixelBudget(200_000_000)
    d = imaging.decode_image(kinds["huge_png"], min_side=224, thumb_size=64, budget=budget)
    assert (d.width, d.height) == zoo.HUGE_SIZE
    assert 224 <= min(d.image.size) < 448
    assert d.image.getpixel((0, 0)) == (10, 200, 30)
    assert d.image.getpixel((d.image.width - 1, d.image.height - 1)) == (120, 80, 40)
    assert budget.peak == zoo.HUGE_SIZE[0] * zoo.HUGE_SIZE[1] and budget.in_flight == 0


def test_reduced_conversion_equals_the_full_one():
    """Alpha, palette and 16-bit images are converted strip by strip: same pixels."""
    rng = np.random.default_rng(0)
    rgba = Image.fromarray(rng.integers(0, 256, (1003, 517, 4), dtype=np.uint8), "RGBA")
    sixteen = Image.fromarray(rng.integers(0, 65536, (701, 333), dtype=np.uint16))
    palette = rgba.convert("RGB").quantize(16)
    palette.info["transparency"] = 3
    for img in (rgba, sixteen, palette):
        reduced = imaging.decode_image(img, min_side=60).image
        factor = min(img.size) // 60
        full = imaging.decode_image(img, min_side=0).image.reduce(factor)
        assert np.array_equal(np.asarray(reduced), np.asarray(full)), img.mode


def test_big_files_are_streamed_and_checked_unchanged(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    make_photos(tmp_path / "src", 1, size=400)[0].replace(path)
    monkeypatch.setattr(imagefile, "WHOLE_READ_BYTES", 1000)   # so this file is "big"
    assert imaging.decode_image(path, min_side=0).image.size == (400, 400)

    class Touching(PixelBudget):
        def hold(self, pixels):
            os.utime(path, ns=(1, 1))          # the file changes while it is decoded
            return super().hold(pixels)

    with pytest.raises(ImageError, match="file changed while being read"):
        imaging.decode_image(path, budget=Touching(10**9))


def test_too_big_a_file_is_refused_from_its_size(tmp_path):
    path = tmp_path / "huge.jpg"
    with open(path, "wb") as fh:
        fh.truncate(imaging.MAX_FILE_BYTES + 1)          # sparse: nothing to read
    with pytest.raises(ImageError, match=r"image too large \(512 MB file\)"):
        imaging.decode_image(path)


_INDEX_WITH_8_WORKERS = """
import json, resource, sys, tempfile
from clipcore.config import ModelSpec
from clipcore.encoder import Encoder
from clipcore.indexer import index_folders
from clipcore.library import Library
folder, config = sys.argv[1:]
spec = ModelSpec(config, device="cpu")
encoder = Encoder.load(spec)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
with tempfile.TemporaryDirectory() as data, Library.open(data) as library:
    events = list(index_folders(library, [folder], spec, encoder=encoder, workers=8))
print(json.dumps({"base": base, "new": events[-1].summary.new,
                  "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def test_indexing_big_pngs_with_8_workers_holds_about_one_decode(tmp_path):
    """Eight decode threads, eight 24-megapixel PNGs (96 MB each while decoding), a budget of
    30 megapixels: the process grows by about one decode. (Before: each thread's malloc arena
    kept its last image, 8 x 96 MB, even with the budget.)"""
    side = 4900
    data = zoo.png_solid_blocks(side, side)
    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(8):
        (folder / f"big{i}.png").write_bytes(data)
    env = dict(os.environ, CLIPDESK_DECODE_MP="30", PYTHONPATH=str(Path(__file__).parents[2]),
               OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", _INDEX_WITH_8_WORKERS, str(folder),
                          str(TINY_CONFIG)], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rss = json.loads(out.stdout.strip().splitlines()[-1])
    one_decode = side * side * 4
    assert rss["new"] == 8
    assert rss["peak"] - rss["base"] < 2 * one_decode, (rss, one_decode)
