"""Safe image decoding: one decode per photo gives the model input and the thumbnail.

Formats are detected from the file's content, never its extension, and limited to
:data:`DECODE_FORMATS` (so a file named ``.jpg`` is never handed to Pillow's EPS/Ghostscript or
other exotic plugins). Every failure is an :class:`~clipcore.errors.ImageError` whose ``reason``
is one of a few short, stable phrases (the catalog counts skipped files by reason):

``"file is empty"``, ``"not an image (unrecognised format)"``, ``"truncated or corrupt image
data"``, ``"image too large (N megapixels)"``, ``"image too large (N MB file)"``,
``"image too large (out of memory)"``, ``"extreme aspect ratio (WxH)"``,
``"permission denied"``, ``"file vanished"``, ``"not a regular file"``, ``"unsupported format"``,
``"file changed while being read"``, ``"could not make a thumbnail (<error type>)"``,
``"I/O error: <strerror>"``.

Memory: the pixels being decoded at once, across all threads, are capped by a shared
:class:`~clipcore.budget.PixelBudget`; an image is reduced (JPEG: DCT scaling while decoding;
others: an integer box reduce done strip by strip together with the conversion to RGB) before
it is rotated upright, so one decode holds one full-resolution buffer and nothing more. Files up
to :data:`WHOLE_READ_BYTES` are read into memory once; bigger ones are decoded from the open
file, which must not change meanwhile.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any, Protocol, cast

from PIL import Image

from . import raw as camera_raw
from .budget import PixelBudget, decode_budget, release_big_buffers
from .errors import ImageError
from .exif import date_taken, read_exif, upright as _upright_of
from .imagefile import (CHANGED_WHILE_READ, CORRUPT, DECODE_FORMATS, HAS_AVIF, HAS_HEIF,
                        MAX_FILE_BYTES, ImageSource,
                        WHOLE_READ_BYTES, open_header, read_bytes, source_image, too_large)
from .pixels import rgb_reduced as _rgb_reduced, to_rgb as _to_rgb

__all__ = [
    "IMAGE_EXTENSIONS",
    "DECODE_FORMATS",
    "MAX_PIXELS",
    "MAX_FILE_BYTES",
    "WHOLE_READ_BYTES",
    "MAX_ASPECT",
    "CHANGED_WHILE_READ",
    "DecodedImage",
    "ImageSource",
    "ModelInput",
    "decode_image",
    "decode_for_model",
    "read_image",
    "make_thumbnail",
]

#: File extensions the scanner picks up (lower-case, with dot). Only used to choose files; the
#: decoder itself trusts the content, so a PNG named ``.jpg`` decodes fine.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
    | ({".heic", ".heif", ".hif"} if HAS_HEIF else set())
    | ({".avif"} if HAS_AVIF else set())
    | camera_raw.RAW_EXTENSIONS   # camera RAW: decoded by LibRaw (clipcore.raw), chosen by extension
)

#: Largest image accepted, in pixels: twice Pillow's default MAX_IMAGE_PIXELS (89.5 Mpx), i.e.
#: the size at which Pillow itself raises DecompressionBombError. Leaves room for 100-150 Mpx
#: medium-format photos; a 179 Mpx RGB image takes about 0.5 GB decoded.
MAX_PIXELS = 2 * 89_478_485

#: Longest side / shorter side above which an image is refused ("extreme aspect ratio"):
#: the model's preprocess would scale a 60000x1 strip to 224 x 13 million pixels (about 9 GB)
#: in "shortest" mode, or to 224 x 0 (an error) in "longest" mode. 32:1 keeps every stitched
#: panorama (phones stop near 8:1) while bounding the preprocess to 32 x side^2 pixels.
MAX_ASPECT = 32


# Pillow warns between MAX_IMAGE_PIXELS and twice that and raises above; we refuse anything
# above MAX_PIXELS ourselves (right after reading the header), so align its warning with it.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
release_big_buffers()   # freed decode buffers go back to the system (budget.py)

# Corrupt EXIF is handled here (no orientation, no date); Pillow's TIFF/EXIF parser would also
# print a UserWarning with a line of its own source on the user's terminal for each such photo.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.TiffImagePlugin")



@dataclass
class DecodedImage:
    """One decoded photo.

    ``image``: RGB, upright; its shorter side is >= the requested ``min_side`` px whenever the
    source is that large (it is usually reduced to between 1x and 2x ``min_side``).
    ``width`` / ``height``: the full-resolution size in pixels, after EXIF orientation.
    ``date_taken``: ISO 8601 ("2021-07-04T18:30:05", with "+02:00" when EXIF records the
    offset) from EXIF DateTimeOriginal, else DateTime; None when absent or invalid.
    ``thumbnail``: RGB, longest side <= ``thumb_size`` px, made from the same decode, if asked.
    """

    image: "Image.Image"
    width: int
    height: int
    date_taken: str | None
    thumbnail: "Image.Image | None" = None


def decode_image(source: ImageSource, min_side: int | None = 224, thumb_size: int | None = None,
                 budget: PixelBudget | None = None) -> DecodedImage:
    """Decode a photo once into an upright RGB image (and optionally its thumbnail).

    ``source``: a path (str / PathLike), bytes, a binary file object, or a PIL image.
    ``min_side`` (px): the consumer needs a shorter side of at least this; JPEGs are decoded at
    a reduced DCT scale (Pillow draft mode: 1/2, 1/4 or 1/8, the smallest scale still >=
    ``max(min_side, thumb_size)``) and other formats are box-reduced by an integer factor, so
    a model with 224 px input sees the same content as from a full decode, several times
    faster. ``None`` or 0 keeps the full resolution.
    ``thumb_size`` (px): also return a thumbnail whose longest side is <= this.
    ``budget``: the PixelBudget the decode buffer is taken from (default: the process-wide
    :func:`~clipcore.budget.decode_budget`); the call waits while other decodes hold it.

    A file up to :data:`WHOLE_READ_BYTES` is read into memory once and decoded from that
    snapshot, so a file being rewritten cannot give a mix of two versions; a bigger one is
    decoded from the open file and refused ("file changed while being read") when its size or
    mtime changed meanwhile. EXIF orientation 1-8 is applied (read robustly: other corrupt
    EXIF entries do not matter; an unreadable orientation leaves the image unrotated).
    Transparent pixels are composited onto white; CMYK, 16-bit, greyscale, bilevel and float
    images become correct 8-bit RGB. Images longer than :data:`MAX_ASPECT` times their width
    (or the reverse) are refused from the header ("extreme aspect ratio (60000x1)").

    Raises ImageError(reason, path) for any problem with the file; never anything else.
    """
    path = None
    if not isinstance(source, (bytes, bytearray, memoryview, Image.Image)) and not hasattr(
            source, "read"):
        path = os.fspath(source)
    try:
        return _decode(source, path, min_side or 0, thumb_size, budget or decode_budget())
    except ImageError as exc:
        if exc.path is None and path is not None:
            raise ImageError(exc.reason, path) from exc
        raise
    except MemoryError as exc:
        raise ImageError("image too large (out of memory)", path) from exc
    except Exception as exc:  # any other decoder failure on bad data is a property of the file
        raise ImageError(CORRUPT, path) from exc


class ModelInput(Protocol):
    """What :func:`decode_for_model` needs of a model (an Encoder has both)."""

    image_size: int   # the model's input side in pixels

    def preprocess(self, image: "Image.Image") -> Any:
        """Upright RGB PIL image -> the model's input tensor."""
        ...


def decode_for_model(source: ImageSource, model: ModelInput, thumb_size: int | None = None
                     ) -> tuple[Any, DecodedImage]:
    """The one "decode + preprocess for this model" used by the indexer and by image queries,
    so an image gives the same input (and vector) whichever path it takes.

    ``source`` as for :func:`decode_image`; it is decoded for the model's real input size
    (``min_side=model.image_size``), then ``model.preprocess`` makes the tensor
    ((3, S, S) float32 for an Encoder, S = ``image_size``). Returns (tensor, DecodedImage).
    Raises ImageError.
    """
    decoded = decode_image(source, min_side=model.image_size, thumb_size=thumb_size)
    return model.preprocess(decoded.image), decoded


def read_image(source: ImageSource) -> "bytes | Image.Image":
    """Read a file (path, bytes or binary file object) into memory and check from its header
    that it is an image we decode, without decoding pixels; a PIL image is returned as is.
    The result is a ``source`` for :func:`decode_image` / :func:`decode_for_model` that gives
    the same pixels as the original. Lets a query fail on a bad image before a model loads.
    Raises ImageError(reason, path)."""
    if isinstance(source, Image.Image):
        return source
    path = None
    if not isinstance(source, (bytes, bytearray, memoryview)) and not hasattr(source, "read"):
        path = os.fspath(source)
    try:
        data = read_bytes(source, path)
        size = open_header(data).size
        _check_pixels(size)
        _check_aspect(size)
    except ImageError as exc:
        raise ImageError(exc.reason, path) from exc
    except Exception as exc:  # a decoder failing on bad header data is a property of the file
        raise ImageError(CORRUPT, path) from exc
    return data


def make_thumbnail(image: ImageSource, size: int) -> "Image.Image":
    """RGB copy of ``image`` whose longest side is <= ``size`` px, aspect ratio kept.

    ``image``: an upright PIL image (any mode; converted as in decode_image), or any
    ``source`` that decode_image accepts, which is then decoded (draft mode, EXIF orientation)
    just for the thumbnail.
    Resampling: Image.thumbnail with LANCZOS after an integer box reduce (reducing_gap=3.0,
    which keeps the result indistinguishable from plain LANCZOS per Pillow's docs).
    Raises ImageError.
    """
    if not isinstance(image, Image.Image):
        # a thumbnail is made whenever size > 0
        return cast("Image.Image", decode_image(image, min_side=size, thumb_size=size).thumbnail)
    thumb = _to_rgb(image)
    if thumb is image:
        thumb = image.copy()
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return thumb


def _decode(source: ImageSource, path: str | None, min_side: int, thumb_size: int | None,
            budget: PixelBudget) -> DecodedImage:
    target = max(min_side, thumb_size or 0)
    if path is not None and camera_raw.is_raw_name(path) and not isinstance(source, Image.Image):
        data = read_bytes(source, path)   # path is set only when source is a file name
        found = camera_raw.decode_raw(data, target, MAX_PIXELS)   # None: not a RAW after all
        if found is not None:
            rgb, factor = found.image, min(found.image.size) // target if target else 1
            rgb = rgb.reduce(factor) if factor >= 2 else rgb
            return DecodedImage(rgb, found.width, found.height, found.date_taken,
                                make_thumbnail(rgb, thumb_size) if thumb_size else None)
        source, path = data, None   # decode the bytes already read as an ordinary image
    with source_image(source, path) as (img, check_unchanged):
        _check_pixels(img.size)
        _check_aspect(img.size)
        full_size = img.size
        if target and img is not source and img.format in ("JPEG", "MPO"):
            img.draft("RGB", (target, target))  # DCT scale 1/1..1/8, both sides >= target
        with budget.hold(img.size[0] * img.size[1]):
            try:
                img.load()
            except OSError as exc:
                unsupported = "not available" in str(exc)  # Pillow: "decoder xyz not available"
                raise ImageError("unsupported format" if unsupported else CORRUPT) from exc
            check_unchanged()
            exif = read_exif(img)
            # Reduce before rotating: the rotation then copies a small image, not the full one.
            rgb = _rgb_reduced(img, min(img.size) // target if target else 1)
            upright = _upright_of(rgb, exif)
            if upright.size != rgb.size:
                full_size = full_size[::-1]
            if upright is img:  # detach from the file object (and its bytes) or the caller's image
                upright = upright.copy()
            del img, rgb
    thumb = None
    if thumb_size:
        try:
            thumb = make_thumbnail(upright, thumb_size)
        except MemoryError:
            raise
        except Exception as exc:
            raise ImageError(f"could not make a thumbnail ({type(exc).__name__})") from exc
    return DecodedImage(upright, full_size[0], full_size[1], date_taken(exif), thumb)


def _check_pixels(size: tuple[int, int]) -> None:
    if size[0] * size[1] > MAX_PIXELS:
        raise ImageError(too_large(size[0] * size[1]))


def _check_aspect(size: tuple[int, int]) -> None:
    if max(size) > MAX_ASPECT * max(1, min(size)):
        raise ImageError(f"extreme aspect ratio ({size[0]}x{size[1]})")
