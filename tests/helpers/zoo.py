"""A "zoo" of bad, odd and good image files for decode, scan and end-to-end indexing tests.

``make_zoo(root)`` writes every file with Pillow (and the stdlib for a hand-made PNG header)
and returns ``{kind: path}``. What each kind must do is in the tables below; tests import them
rather than repeating the expectations:

* :data:`DECODE_OK` -- kinds whose file the scanner finds and decode_image decodes (so the
  indexer indexes them).
* :data:`DECODE_FAILS` -- kind -> the ImageError reason prefix; the scanner finds the file and
  the indexer records it as skipped with that reason. ``unreadable`` only fails when the tests
  do not run as root (root reads a chmod-000 file): see :func:`can_be_unreadable`.
* :data:`SCAN_PROBLEMS` -- kind -> the ScanProblem reason the scanner reports for that path.
* :data:`RAW_PAIRED` -- RAW files beside a JPEG of the same stem: the scanner does not report
  them (the pair shows once, as the JPEG, kind ``raw_pair_jpeg``).
* RAW kinds (Adobe DNG written by tests/helpers/dng.py): ``raw_dng_preview`` (a JPEG preview
  large enough for the model), ``raw_dng_small_preview`` (a preview too small: demosaiced),
  ``raw_dng_no_preview``, and ``raw_dng_truncated`` (cut off in the RAW data).
* :data:`ESCAPE_NAMES` -- kinds of good images whose file names carry terminal escape
  sequences, a newline that fakes an output line, or a raw C1 control byte; every plain-text
  output must show them escaped, and ``--json`` must give them back exactly.
* ``huge_png`` -- a 13000 x 13000 (169 megapixel) RGB PNG of about 0.5 MB: under the bomb
  limit, it decodes, but only within the decode pixel budget (about 676 MB while decoding).
* ``symlink_loop`` -- a folder holding ``a/to_b -> ../b`` and ``b/to_a -> ../a`` plus
  ``a/up -> ..`` (a link to its own parent). The scan must terminate and yield ``loop_photo``
  exactly once.

Orientation kinds ``orientation_1`` .. ``orientation_8`` (and ``corrupt_exif``, orientation 6)
are stored so that, once the EXIF orientation is applied, the upright picture is
:data:`UPRIGHT_SIZE` with a red block top-left, a green block top-right, a blue block
bottom-left on white: :func:`corner_colours` reads those back.
"""

from __future__ import annotations

import functools
import io
import os
import struct
import zlib
from pathlib import Path

from PIL import Image, features

__all__ = [
    "make_zoo",
    "DECODE_OK",
    "DECODE_FAILS",
    "SCAN_PROBLEMS",
    "RAW_PAIRED",
    "UPRIGHT_SIZE",
    "GOOD_JPEG_DATE",
    "corner_colours",
    "upright_test_image",
    "can_be_unreadable",
    "png_declaring",
    "png_solid_blocks",
    "ESCAPE_NAMES",
    "HUGE_SIZE",
]

UPRIGHT_SIZE = (96, 64)  # (width, height) px of the upright orientation test picture
_BLOCK = 24              # px; the corner blocks' side

ORIENTATIONS = range(1, 9)

DECODE_OK = frozenset(
    {"png_as_jpg", "tiny_1x1", "png_16bit", "cmyk_jpeg", "palette_transparent_png",
     "animated_gif", "corrupt_exif", "non_utf8_name", "long_path", "loop_photo",
     "good_jpeg", "good_mpo", "good_png_alpha", "good_webp", "good_tiff", "good_bmp", "good_heic",
     "upper_case_ext", "raw_dng_preview", "raw_dng_small_preview", "raw_dng_no_preview",
     "raw_pair_jpeg", "huge_png", "escape_osc_title", "escape_clear", "escape_newline",
     "escape_c1_csi"}
    | {f"orientation_{o}" for o in ORIENTATIONS}
    | ({"good_avif"} if features.check("avif") else set())
)

DECODE_FAILS = {
    "truncated_jpeg": "truncated or corrupt image data",
    "empty_jpg": "file is empty",
    "text_as_jpg": "not an image (unrecognised format)",
    "bomb_png": "image too large",
    "unreadable": "permission denied",
    "raw_dng_truncated": "truncated or corrupt image data",
    "thin_wide_png": "extreme aspect ratio (60000x1)",
    "thin_tall_png": "extreme aspect ratio (1x60000)",
}

#: kind -> file name (in the zoo's ``names/`` folder) of good images with hostile names.
ESCAPE_NAMES = {
    "escape_osc_title": "\x1b]0;PWNED TITLE\x07osc.png",            # retitles the terminal
    "escape_clear": "\x1b[2J\x1b[Hclear.png",                         # clears the screen
    "escape_newline": "fake\nETC-SHADOW: file is empty.png",         # fakes an output line
    "escape_c1_csi": os.fsdecode(b"csi\x9b2J.png"),                   # raw 8-bit CSI byte
}

HUGE_SIZE = (13000, 13000)  # px of ``huge_png``: 169 megapixels

RAW_PAIRED = frozenset({"raw_pair_raw"})

SCAN_PROBLEMS = {"broken_symlink": "broken symlink"}

# Where stored row 0 / column 0 of the picture sit, for each EXIF orientation (EXIF 2.32,
# tag 0x0112): the transpose that turns the upright picture into the stored one.
_STORED_FROM_UPRIGHT = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,   # row 0 top, column 0 right
    3: Image.Transpose.ROTATE_180,        # row 0 bottom, column 0 right
    4: Image.Transpose.FLIP_TOP_BOTTOM,   # row 0 bottom, column 0 left
    5: Image.Transpose.TRANSPOSE,         # row 0 left, column 0 top
    6: Image.Transpose.ROTATE_90,         # row 0 right, column 0 top (camera turned right)
    7: Image.Transpose.TRANSVERSE,        # row 0 right, column 0 bottom
    8: Image.Transpose.ROTATE_270,        # row 0 left, column 0 bottom
}


def upright_test_image() -> Image.Image:
    """The upright orientation picture: UPRIGHT_SIZE, white, red/green/blue corner blocks."""
    img = Image.new("RGB", UPRIGHT_SIZE, "white")
    w, h = UPRIGHT_SIZE
    img.paste((255, 0, 0), (0, 0, _BLOCK, _BLOCK))
    img.paste((0, 255, 0), (w - _BLOCK, 0, w, _BLOCK))
    img.paste((0, 0, 255), (0, h - _BLOCK, _BLOCK, h))
    return img


def corner_colours(img: Image.Image) -> dict[str, tuple[int, int, int]]:
    """RGB at the centres of the four corner blocks of an image the size of the upright one
    (any size: positions are scaled)."""
    w, h = img.size
    cx, cy = _BLOCK / 2 / UPRIGHT_SIZE[0] * w, _BLOCK / 2 / UPRIGHT_SIZE[1] * h
    at = {"top_left": (cx, cy), "top_right": (w - cx, cy),
          "bottom_left": (cx, h - cy), "bottom_right": (w - cx, h - cy)}
    return {k: img.convert("RGB").getpixel((int(x), int(y))) for k, (x, y) in at.items()}


def can_be_unreadable(path: str) -> bool:
    """False where chmod 000 does not stop this process reading (root, some filesystems)."""
    try:
        with open(path, "rb"):
            return False
    except PermissionError:
        return True


def make_zoo(root: Path) -> dict[str, str]:
    """Create the zoo under ``root`` (which must exist) and return ``{kind: absolute path}``."""
    root = Path(root)
    made: dict[str, str] = {}

    def path(kind: str, name: str) -> Path:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        made[kind] = str(p)
        return p

    photo = Image.linear_gradient("L").resize((64, 48)).convert("RGB")

    # --- must fail to decode -----------------------------------------------------------
    full = io.BytesIO()
    photo.resize((320, 240)).save(full, "JPEG", quality=90)
    path("truncated_jpeg", "bad/truncated.jpg").write_bytes(full.getvalue()[: len(full.getvalue()) // 2])
    path("empty_jpg", "bad/empty.jpg").write_bytes(b"")
    path("text_as_jpg", "bad/notes.jpg").write_text("this is a text file, not a photo\n")
    path("bomb_png", "bad/bomb.png").write_bytes(png_declaring(50_000, 50_000))
    Image.new("RGB", (60000, 1), (10, 200, 30)).save(path("thin_wide_png", "thin/wide.png"))
    Image.new("RGB", (1, 60000), (10, 200, 30)).save(path("thin_tall_png", "thin/tall.png"))
    unreadable = path("unreadable", "bad/unreadable.jpg")
    photo.save(unreadable, "JPEG")
    os.chmod(unreadable, 0)

    # --- odd but must decode -----------------------------------------------------------
    photo_png = io.BytesIO()
    photo.save(photo_png, "PNG")
    path("png_as_jpg", "odd/really_a_png.jpg").write_bytes(photo_png.getvalue())
    Image.new("RGB", (1, 1), (200, 30, 30)).save(path("tiny_1x1", "odd/one_pixel.png"))
    _sixteen_bit().save(path("png_16bit", "odd/sixteen_bit.png"))
    _cmyk().save(path("cmyk_jpeg", "odd/cmyk.jpg"), "JPEG", quality=95)
    _palette_with_transparency().save(path("palette_transparent_png", "odd/palette.png"),
                                      transparency=0)
    frames = [Image.new("RGB", (32, 32), c) for c in ("red", "blue", "green")]
    frames[0].save(path("animated_gif", "odd/animated.gif"), save_all=True,
                   append_images=frames[1:], duration=100, loop=0)
    upright = upright_test_image()
    for o in ORIENTATIONS:
        _oriented(upright, o).save(path(f"orientation_{o}", f"orientation/o{o}.jpg"), "JPEG",
                                   quality=95, exif=_exif_orientation(o))
    _oriented(upright, 6).save(path("corrupt_exif", "odd/corrupt_exif.jpg"), "JPEG",
                               quality=95, exif=_corrupt_exif_orientation_6())
    photo.save(path("upper_case_ext", "odd/SHOUTING.JPG"), "JPEG")

    bad_name = root / "names" / os.fsdecode(b"bad\xff.jpg")
    bad_name.parent.mkdir(parents=True, exist_ok=True)
    photo.save(bad_name, "JPEG")
    made["non_utf8_name"] = str(bad_name)

    for kind, name in ESCAPE_NAMES.items():
        photo.save(path(kind, "names/" + name), "PNG")
    path("huge_png", "huge/169mp.png").write_bytes(png_solid_blocks(*HUGE_SIZE))

    deep = root / "deep"
    while len(str(deep)) <= 1000:
        deep = deep / ("d" * 200)
    deep.mkdir(parents=True)
    photo.save(deep / "deep.jpg", "JPEG")
    made["long_path"] = str(deep / "deep.jpg")

    # --- good, ordinary images ---------------------------------------------------------
    photo.save(path("good_jpeg", "good/photo.jpg"), "JPEG", quality=90, exif=_exif_date())
    photo.save(path("good_mpo", "good/camera_mpo.jpg"), "MPO", save_all=True,
               append_images=[photo.resize((32, 24))])
    rgba = photo.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(photo.size))
    rgba.save(path("good_png_alpha", "good/alpha.png"))
    photo.save(path("good_webp", "good/photo.webp"), "WEBP")
    photo.save(path("good_tiff", "good/photo.tiff"), "TIFF")
    photo.save(path("good_bmp", "good/photo.bmp"), "BMP")
    import pillow_heif

    pillow_heif.register_heif_opener()   # (also registers the HEIF writer)
    photo.save(path("good_heic", "good/photo.heic"), "HEIF")
    if "good_avif" in DECODE_OK:
        photo.save(path("good_avif", "good/photo.avif"), "AVIF")

    # --- camera RAW (DNG) ------------------------------------------------------------------
    from tests.helpers.dng import write_dng

    sensor = photo.resize((128, 96))
    write_dng(path("raw_dng_preview", "raw/preview.dng"), sensor, preview=photo.resize((320, 240)))
    write_dng(path("raw_dng_small_preview", "raw/small_preview.DNG"), sensor,
              preview=photo.resize((96, 72)))
    write_dng(path("raw_dng_no_preview", "raw/no_preview.dng"), sensor)
    whole = write_dng(root / "raw_whole.tmp", sensor, preview=photo.resize((320, 240)))
    data = whole.read_bytes()
    whole.unlink()
    path("raw_dng_truncated", "bad/cut_off.dng").write_bytes(data[: len(data) - 4096])
    photo.save(path("raw_pair_jpeg", "pair/IMG_0001.JPG"), "JPEG")
    write_dng(path("raw_pair_raw", "pair/IMG_0001.dng"), sensor)

    # --- links ------------------------------------------------------------------------
    broken = path("broken_symlink", "links/broken.jpg")
    os.symlink(root / "links" / "no-such-file.jpg", broken)
    loop = root / "loop"
    (loop / "a").mkdir(parents=True)
    (loop / "b").mkdir()
    os.symlink("../b", loop / "a" / "to_b")
    os.symlink("../a", loop / "b" / "to_a")
    os.symlink("..", loop / "a" / "up")
    photo.save(loop / "a" / "in_loop.jpg", "JPEG")
    made["symlink_loop"] = str(loop)
    made["loop_photo"] = str(loop / "a" / "in_loop.jpg")
    return made


def _oriented(upright: Image.Image, orientation: int) -> Image.Image:
    op = _STORED_FROM_UPRIGHT[orientation]
    return upright.copy() if op is None else upright.transpose(op)


def _exif_orientation(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


#: EXIF DateTimeOriginal / OffsetTimeOriginal of ``good_jpeg``, and what decode_image reports.
GOOD_JPEG_DATE = ("2021:07:04 18:30:05", "+02:00", "2021-07-04T18:30:05+02:00")


def _exif_date() -> bytes:
    exif = Image.Exif()
    exif[0x0132] = "2000:01:01 00:00:00"                 # DateTime (file changed): not used
    exif.get_ifd(0x8769)[0x9003] = GOOD_JPEG_DATE[0]     # DateTimeOriginal
    exif.get_ifd(0x8769)[0x9011] = GOOD_JPEG_DATE[1]     # OffsetTimeOriginal
    return exif.tobytes()


def _corrupt_exif_orientation_6() -> bytes:
    """EXIF with a valid orientation 6, DateTime stored as SRATIONAL instead of ASCII (which
    makes PIL.ImageOps.exif_transpose raise), and an Exif-IFD pointer past the end."""
    entries = [
        (0x0112, 3, 1, struct.pack("<HH", 6, 0)),   # Orientation SHORT 6
        (0x0132, 10, 1, struct.pack("<I", 50)),     # DateTime as SRATIONAL at offset 50
        (0x8769, 4, 1, struct.pack("<I", 0xFFFFFF)),  # Exif IFD far outside the block
    ]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHI", tag, typ, count) + value for tag, typ, count, value in entries)
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0)
    return b"Exif\x00\x00" + tiff + struct.pack("<ii", 1, 0)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny, valid-looking PNG whose header declares width x height RGB pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


@functools.lru_cache(maxsize=2)
def png_solid_blocks(width: int, height: int) -> bytes:
    """A valid RGB PNG of width x height: the top half green on its left half, the rest brown.

    Made without ever holding the pixels: each half is 100 identical rows compressed once,
    ended with a zlib full flush (so the segment needs nothing before it) and repeated, plus an
    empty final block and the Adler-32 of the whole pixel stream. 169 megapixels take ~0.5 MB.
    """
    green, brown = bytes((10, 200, 30)), bytes((120, 80, 40))
    top = b"\x00" + green * (width // 2) + brown * (width - width // 2)   # filter 0 + pixels
    bottom = b"\x00" + brown * width
    stream, adler = [b"\x78\xda"], 1
    for row, count in ((top, height // 2), (bottom, height - height // 2)):
        for rows, times in ((100, count // 100), (count % 100, 1)):
            if not rows:
                continue
            comp = zlib.compressobj(9, zlib.DEFLATED, -15)
            stream.append((comp.compress(row * rows) + comp.flush(zlib.Z_FULL_FLUSH)) * times)
            for _ in range(times):
                adler = zlib.adler32(row * rows, adler)
    stream.append(b"\x03\x00" + struct.pack(">I", adler))    # empty final block + checksum
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", b"".join(stream))
            + _chunk(b"IEND", b""))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _sixteen_bit() -> Image.Image:
    """16-bit greyscale: left half 16384 (-> 64 in 8 bits), right half 49152 (-> 191)."""
    samples = [[16384] * 32 + [49152] * 32] * 32
    img = Image.new("I;16", (64, 32))
    img.putdata([v for row in samples for v in row])
    return img


def _cmyk() -> Image.Image:
    """CMYK: left half red (C0 M255 Y255 K0), right half blue (C255 M255 Y0 K0)."""
    img = Image.new("CMYK", (64, 32), (0, 255, 255, 0))
    img.paste((255, 255, 0, 0), (32, 0, 64, 32))
    return img


def _palette_with_transparency() -> Image.Image:
    """Palette image, index 0 = black but transparent (left half), index 1 = red (right)."""
    img = Image.new("P", (64, 32), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    img.paste(1, (32, 0, 64, 32))
    return img
