"""Camera RAW photos: DNG files written by the test (tests/helpers/dng.py) decoded through
rawpy, upright, dated; the embedded preview when it is large enough, else a half-size
demosaic; a truncated RAW skipped with a reason; a RAW + JPEG pair shown once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipcore import raw
from clipcore.errors import ImageError
from clipcore.imaging import decode_image
from clipcore.indexer import index_folders
from clipcore.library import Library
from clipcore.scanner import RAW_BESIDE_JPEG, FileEntry, scan_folder
from tests.helpers import zoo
from tests.helpers.dng import DNG_DATE_ISO, write_dng
from tests.helpers.e2e import TINY_CONFIG, run_cli

UPRIGHT = zoo.upright_test_image().resize((384, 256), Image.Resampling.NEAREST)


def dominant(rgb) -> str:
    """'red' / 'green' / 'blue' / 'white' for a clearly coloured pixel."""
    r, g, b = rgb
    if min(rgb) > 200:
        return "white"
    name, value = max(zip(("red", "green", "blue"), rgb), key=lambda kv: kv[1])
    assert value > 200 and sorted(rgb)[1] < 80, rgb   # clearly one colour
    return name


def assert_upright(img: Image.Image) -> None:
    corners = {k: dominant(v) for k, v in zoo.corner_colours(img).items()}
    assert corners == {"top_left": "red", "top_right": "green", "bottom_left": "blue",
                       "bottom_right": "white"}, corners


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
@pytest.mark.parametrize("with_preview", [True, False], ids=["preview", "demosaic"])
def test_raw_is_upright_with_its_full_size_and_date(tmp_path, orientation, with_preview):
    stored = zoo._oriented(UPRIGHT, orientation)
    path = write_dng(tmp_path / "p.dng", stored, preview=stored if with_preview else None,
                     orientation=orientation)
    d = decode_image(path, min_side=224, thumb_size=64)
    assert (d.width, d.height) == UPRIGHT.size
    assert d.date_taken == DNG_DATE_ISO
    assert_upright(d.image)
    assert_upright(d.thumbnail)
    assert max(d.thumbnail.size) == 64


def test_the_preview_is_used_only_when_it_is_large_enough(tmp_path):
    sensor = Image.new("RGB", (256, 192), (0, 0, 255))        # the RAW data: blue
    big = write_dng(tmp_path / "big.dng", sensor, preview=Image.new("RGB", (320, 240), "red"))
    small = write_dng(tmp_path / "small.dng", sensor, preview=Image.new("RGB", (160, 120), "red"))
    found = raw.decode_raw(big.read_bytes(), 224, 10**9)
    assert found.source == "preview" and dominant(found.image.getpixel((5, 5))) == "red"
    found = raw.decode_raw(small.read_bytes(), 224, 10**9)
    assert found.source == "demosaic" and dominant(found.image.getpixel((5, 5))) == "blue"
    assert found.image.size == (128, 96)                       # half size
    # a thumbnail-sized request is served by the small preview
    assert raw.decode_raw(small.read_bytes(), 96, 10**9).source == "preview"


def test_truncated_raw_is_skipped_with_a_reason(tmp_path):
    whole = write_dng(tmp_path / "whole.dng", UPRIGHT, preview=UPRIGHT).read_bytes()
    cut = tmp_path / "cut.dng"
    cut.write_bytes(whole[: len(whole) * 3 // 4])              # the preview survives, the RAW not
    with pytest.raises(ImageError) as err:
        decode_image(cut)
    assert err.value.reason == "truncated or corrupt image data"
    too_big = write_dng(tmp_path / "big.dng", UPRIGHT)
    with pytest.raises(ImageError, match="image too large"):
        raw.decode_raw(too_big.read_bytes(), 224, 1000)


def test_a_jpeg_with_a_raw_name_still_decodes(tmp_path):
    fake = tmp_path / "not_really.nef"
    UPRIGHT.save(fake, "JPEG")
    assert decode_image(fake).image.mode == "RGB"
    assert raw.decode_raw(fake.read_bytes(), 224, 10**9) is None
    text = tmp_path / "notes.cr2"
    text.write_text("not a photo")
    with pytest.raises(ImageError, match="not an image"):
        decode_image(text)


def test_raw_and_jpeg_pair_shows_once_and_the_raw_is_its_sibling(tmp_path):
    UPRIGHT.save(tmp_path / "IMG_0001.JPG", "JPEG")
    write_dng(tmp_path / "IMG_0001.dng", UPRIGHT)
    write_dng(tmp_path / "IMG_0002.dng", UPRIGHT)              # a RAW alone is a photo
    ignored: dict[str, int] = {}
    found = sorted(e.path for e in scan_folder(tmp_path, ignored=ignored)
                   if isinstance(e, FileEntry))
    assert found == [str(tmp_path / "IMG_0001.JPG"), str(tmp_path / "IMG_0002.dng")]
    assert ignored == {RAW_BESIDE_JPEG: 1}
    assert raw.raw_sibling(str(tmp_path / "IMG_0001.JPG")) == str(tmp_path / "IMG_0001.dng")
    assert raw.raw_sibling(str(tmp_path / "IMG_0002.dng")) is None


def test_zoo_raw_files_index_and_the_pair_counts_once(tmp_path, tiny_spec, kinds):
    folder = tmp_path / "shoot"
    folder.mkdir()
    for kind in ("raw_dng_preview", "raw_dng_small_preview", "raw_dng_no_preview",
                 "raw_pair_jpeg", "raw_pair_raw", "raw_dng_truncated"):
        (folder / kinds[kind].rsplit("/", 1)[1]).write_bytes(Path(kinds[kind]).read_bytes())
    with Library.open(tmp_path / "data") as lib:
        events = list(index_folders(lib, [str(folder)], tiny_spec))
        s = events[-1].summary
        assert (s.new, s.skipped) == (4, 1)
        assert s.skip_reasons == {"truncated or corrupt image data": 1}
        assert lib.find_image(str(folder / "IMG_0001.dng")) is None
        vectors = [lib.vector(lib.find_image(str(folder / n)).id, tiny_spec.identity())
                   for n in ("preview.dng", "no_preview.dng")]
        assert all(v is not None and np.isclose(np.linalg.norm(v), 1, atol=1e-3) for v in vectors)


def test_cli_says_how_many_raw_files_show_through_their_jpeg(tmp_path):
    (tmp_path / "p").mkdir()
    UPRIGHT.save(tmp_path / "p" / "a.jpg", "JPEG")
    write_dng(tmp_path / "p" / "a.dng", UPRIGHT)
    done = run_cli(["index", tmp_path / "p", "--model", TINY_CONFIG], tmp_path / "data")
    assert done.returncode == 0, done.stderr
    assert "1 new" in done.stdout and "1 RAW file shown through the JPEG" in done.stdout
