"""CONTRACT STUB (owned by the imaging helper)."""
from __future__ import annotations
from dataclasses import dataclass

IMAGE_EXTENSIONS: frozenset[str] = frozenset()   # lower-case, with dot: ".jpg", ".heic", ...


@dataclass
class DecodedImage:
    image: "PIL.Image.Image"        # RGB, upright, shorter side >= min_side when the source allows
    width: int                      # original width in px, after EXIF orientation
    height: int                     # original height in px, after EXIF orientation
    date_taken: str | None          # ISO 8601 from EXIF DateTimeOriginal, or None
    thumbnail: "PIL.Image.Image | None" = None   # RGB, longest side <= thumb_size, if asked


def decode_image(source, min_side: int = 224, thumb_size: int | None = None) -> DecodedImage:
    """source: path (str/PathLike), bytes, a binary file object, or a PIL image.
    Decodes once (JPEG draft mode to >= min_side), applies EXIF orientation, converts any mode to
    correct RGB, refuses decompression bombs. Raises ImageError(reason) on any failure."""
    raise NotImplementedError


def make_thumbnail(image, size: int) -> "PIL.Image.Image":
    """RGB copy whose longest side is <= size px."""
    raise NotImplementedError
