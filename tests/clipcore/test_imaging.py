"""decode_image / make_thumbnail on the zoo of odd files and on a few made-up sources."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipcore.errors import ImageError
from clipcore.imaging import IMAGE_EXTENSIONS, MAX_PIXELS, decode_image, make_thumbnail
from tests.helpers import zoo

UPRIGHT = {"top_left": (255, 0, 0), "top_right": (0, 255, 0), "bottom_left": (0, 0, 255),
           "bottom_right": (255, 255, 255)}


def close(rgb, expected, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(rgb, expected))


def jpeg_bytes(img: Image.Image, **save) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **save)
    return buf.getvalue()


@pytest.mark.parametrize("kind", sorted(zoo.DECODE_OK))
def test_odd_and_good_files_decode_to_rgb(kinds, kind):
    d = decode_image(kinds[kind], thumb_size=32)
    assert d.image.mode == "RGB" and d.thumbnail.mode == "RGB"
    assert d.width >= 1 and d.height >= 1
    assert max(d.thumbnail.size) <= 32


@pytest.mark.parametrize("kind", sorted(set(zoo.DECODE_FAILS) - {"unreadable"}))
def test_bad_files_fail_with_their_reason(kinds, kind):
    with pytest.raises(ImageError) as err:
        decode_image(kinds[kind])
    assert err.value.reason.startswith(zoo.DECODE_FAILS[kind])
    assert err.value.path == kinds[kind]
    assert kinds[kind] in str(err.value)


def test_unreadable_file_is_permission_denied(kinds):
    if not zoo.can_be_unreadable(kinds["unreadable"]):
        pytest.skip("this process reads chmod-000 files (running as root)")
    with pytest.raises(ImageError, match="permission denied"):
        decode_image(kinds["unreadable"])


def test_missing_file_directory_and_fifo(tmp_path):
    with pytest.raises(ImageError, match="file vanished"):
        decode_image(tmp_path / "gone.jpg")
    with pytest.raises(ImageError, match="not a regular file"):
        decode_image(tmp_path)
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)   # nobody writes to it: opening it must not block
    with pytest.raises(ImageError, match="not a regular file"):
        decode_image(fifo)


@pytest.mark.parametrize("kind", [f"orientation_{o}" for o in range(1, 9)] + ["corrupt_exif"])
def test_exif_orientation_gives_upright_pixels(kinds, kind):
    d = decode_image(kinds[kind], thumb_size=48)
    assert (d.width, d.height) == zoo.UPRIGHT_SIZE
    for img in (d.image, d.thumbnail):
        corners = zoo.corner_colours(img)
        assert all(close(corners[c], UPRIGHT[c]) for c in UPRIGHT), corners


def test_sixteen_bit_is_scaled_not_clipped(kinds):
    img = decode_image(kinds["png_16bit"]).image
    left, right = img.getpixel((8, 16)), img.getpixel((56, 16))
    assert close(left, (64, 64, 64), 2) and close(right, (191, 191, 191), 2), (left, right)


@pytest.mark.parametrize("mode, low, high, expected", [
    ("I", 0, 65535, (0, 255)),          # 16-bit samples in a 32-bit image
    ("I", -1000, 1000, (0, 255)),       # any other range: stretched
    ("F", 0.0, 1.0, (0, 255)),          # float 0..1
])
def test_wide_integer_and_float_modes(mode, low, high, expected):
    img = Image.new(mode, (4, 2), low)
    img.paste(high, (2, 0, 4, 2))
    out = decode_image(img, min_side=0).image
    assert out.getpixel((0, 0))[0] == expected[0] and out.getpixel((3, 0))[0] == expected[1]


def test_transparency_is_composited_on_white(kinds):
    palette = decode_image(kinds["palette_transparent_png"]).image
    assert close(palette.getpixel((8, 16)), (255, 255, 255), 0)    # transparent black index
    assert close(palette.getpixel((56, 16)), (255, 0, 0), 0)
    alpha = decode_image(kinds["good_png_alpha"]).image             # alpha ~0 in row 0
    assert close(alpha.getpixel((32, 0)), (255, 255, 255), 8)


def test_cmyk_colours(kinds):
    img = decode_image(kinds["cmyk_jpeg"]).image
    assert close(img.getpixel((8, 16)), (255, 0, 0)) and close(img.getpixel((56, 16)), (0, 0, 255))


def test_animated_gif_gives_first_frame(kinds):
    assert close(decode_image(kinds["animated_gif"]).image.getpixel((16, 16)), (255, 0, 0), 0)


def test_content_not_extension_decides(kinds):
    as_jpg = decode_image(kinds["png_as_jpg"]).image
    original = Image.open(kinds["png_as_jpg"]).convert("RGB")
    assert np.array_equal(np.asarray(as_jpg), np.asarray(original))


def test_date_taken(kinds):
    assert decode_image(kinds["good_jpeg"]).date_taken == zoo.GOOD_JPEG_DATE[2]
    assert decode_image(kinds["corrupt_exif"]).date_taken is None   # DateTime of a wrong type
    img = Image.new("RGB", (8, 8))
    exif = Image.Exif()
    exif[0x0132] = "2019:12:31 23:59:58"                            # DateTime only
    assert decode_image(jpeg_bytes(img, exif=exif)).date_taken == "2019-12-31T23:59:58"
    exif.get_ifd(0x8769)[0x9003] = "0000:00:00 00:00:00"            # invalid original: fall back
    assert decode_image(jpeg_bytes(img, exif=exif)).date_taken == "2019-12-31T23:59:58"
    exif[0x0132] = "garbage"
    assert decode_image(jpeg_bytes(img, exif=exif)).date_taken is None


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_refused_from_header(kinds):
    # 50,000 x 50,000 px declared in a 69-byte file: refused from the header, no allocation
    # (allocating would need 7.5 GB; the test's timeout would catch a full decode).
    with pytest.raises(ImageError, match=r"image too large \(2500 megapixels\)"):
        decode_image(kinds["bomb_png"])
    # Above our limit but below the size at which Pillow itself would raise.
    side = int((MAX_PIXELS * 1.2) ** 0.5)
    with pytest.raises(ImageError, match="image too large"):
        decode_image(zoo.png_declaring(side, side))


@pytest.mark.parametrize("min_side", [64, 100, 224, 256, 450])
@pytest.mark.parametrize("orientation", [1, 6])
def test_jpeg_draft_decode_is_reduced_but_large_enough(min_side, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    big = Image.linear_gradient("L").resize((1800, 1200)).convert("RGB")
    data = jpeg_bytes(big, quality=85, exif=exif)
    d = decode_image(data, min_side=min_side)
    assert min_side <= min(d.image.size) < 2 * min_side, d.image.size
    assert (d.width, d.height) == ((1800, 1200) if orientation == 1 else (1200, 1800))
    assert (d.image.width > d.image.height) == (d.width > d.height)
    full = decode_image(data, min_side=0).image
    assert full.size == (d.width, d.height)
    # Same picture: the reduced image matches the full one resized to its size.
    diff = np.abs(np.asarray(full.resize(d.image.size), dtype=np.int16)
                  - np.asarray(d.image, dtype=np.int16))
    assert diff.mean() < 4, diff.mean()


def test_small_sources_are_not_enlarged(kinds):
    assert decode_image(kinds["tiny_1x1"], min_side=224, thumb_size=128).image.size == (1, 1)


def test_thumbnail_from_the_same_decode():
    img = Image.linear_gradient("L").resize((900, 600)).convert("RGB")
    d = decode_image(jpeg_bytes(img), min_side=224, thumb_size=256)
    assert d.thumbnail.size == (256, 171)
    small = np.asarray(d.image.resize(d.thumbnail.size), dtype=np.int16)
    assert np.abs(small - np.asarray(d.thumbnail, dtype=np.int16)).mean() < 3


def test_every_kind_of_source_gives_the_same_image(kinds):
    path = kinds["good_jpeg"]
    data = Path(path).read_bytes()
    pil = Image.open(path)
    results = [decode_image(s) for s in (path, Path(path), data, io.BytesIO(data), pil)]
    assert all(np.array_equal(np.asarray(r.image), np.asarray(results[0].image))
               for r in results)
    assert all(r.image is not pil for r in results)


def test_make_thumbnail_from_image_or_path(kinds):
    rgba = Image.new("RGBA", (300, 100), (0, 0, 0, 0))
    thumb = make_thumbnail(rgba, 64)
    assert thumb.mode == "RGB" and thumb.size == (64, 21)
    assert thumb.getpixel((10, 10)) == (255, 255, 255)
    assert rgba.size == (300, 100)                       # the input is left alone
    assert max(make_thumbnail(kinds["good_heic"], 16).size) == 16
    with pytest.raises(ImageError, match="not an image"):
        make_thumbnail(kinds["text_as_jpg"], 16)


def test_damaged_files_never_raise_anything_but_image_error(kinds):
    """Flip, cut and splice bytes of good files: each result decodes or is an ImageError."""
    rng = random.Random(0)
    sources = [Path(kinds[k]).read_bytes() for k in
               ("good_jpeg", "good_png_alpha", "good_webp", "good_tiff", "good_bmp",
                "animated_gif", "good_heic", "orientation_6")]
    outcomes = set()
    for data in sources:
        for _ in range(25):
            buf = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
            if rng.random() < 0.5:
                buf = buf[: rng.randrange(1, len(buf))]
            try:
                decode_image(bytes(buf), min_side=16, thumb_size=16)
                outcomes.add("ok")
            except ImageError as err:
                outcomes.add(err.reason)
    assert "truncated or corrupt image data" in outcomes


def test_a_damaged_photo_on_disk_is_called_corrupt_not_an_io_error(tmp_path):
    """Pillow reports a header cut short as OSError("Truncated File Read") (no errno); read
    from a file it was skipped as "I/O error: Truncated File Read", which points at the disk."""
    for name, data in {"cut.jpg": b"\xff\xd8\xff\xe0not really a jpeg",
                       "cut.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"}.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ImageError) as err:
            decode_image(str(path), min_side=16, thumb_size=16)
        assert err.value.reason == "truncated or corrupt image data", (name, err.value.reason)


def test_extensions_cover_the_zoo_formats():
    for ext in (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".heic"):
        assert ext in IMAGE_EXTENSIONS
    assert all(e == e.lower() and e.startswith(".") for e in IMAGE_EXTENSIONS)
