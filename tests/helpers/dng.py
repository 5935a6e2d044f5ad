"""Minimal Adobe DNG files written by hand (TIFF structure, DNG 1.4 tags) for the RAW tests.

``write_dng(path, ...)`` writes a Bayer (RGGB, 16-bit, uncompressed) mosaic of a known picture
and optionally an embedded JPEG preview, with an orientation and a capture date. LibRaw reads
these like a camera's DNG. No third-party writer is needed: tifffile cannot write JPEG strips
without imagecodecs, and this keeps every tag in plain sight.

Layout with a preview (as cameras and Adobe's converter write it): IFD0 = the preview (JPEG,
NewSubFileType 1) holding the DNG tags and a SubIFDs pointer to the raw IFD. Without one: IFD0
is the raw image itself.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["write_dng", "mosaic_of", "DNG_DATE", "DNG_DATE_ISO"]

DNG_DATE = "2022:05:06 07:08:09"
DNG_DATE_ISO = "2022-05-06T07:08:09"
WHITE = 4095           # 12-bit sensor

_SHORT, _LONG, _ASCII, _BYTE, _SRATIONAL, _RATIONAL = 3, 4, 2, 1, 10, 5


def mosaic_of(picture: Image.Image) -> np.ndarray:
    """An RGGB Bayer mosaic (H, W) uint16 in 0..WHITE of an RGB picture (even W and H)."""
    rgb = np.asarray(picture.convert("RGB"), dtype=np.float64) / 255.0 * WHITE
    h, w, _ = rgb.shape
    out = np.empty((h, w), np.uint16)
    out[0::2, 0::2] = rgb[0::2, 0::2, 0]
    out[0::2, 1::2] = rgb[0::2, 1::2, 1]
    out[1::2, 0::2] = rgb[1::2, 0::2, 1]
    out[1::2, 1::2] = rgb[1::2, 1::2, 2]
    return out


def write_dng(path: Path, picture: Image.Image, *, preview: Image.Image | None = None,
              orientation: int = 1, date: str = DNG_DATE) -> Path:
    """Write ``picture`` (RGB, even sides) as a DNG at ``path``; ``preview``: an RGB picture
    embedded as the JPEG preview; ``orientation``: TIFF/EXIF orientation 1-8 of the RAW (the
    picture is stored as given: the orientation says how to turn it upright)."""
    mosaic = mosaic_of(picture)
    h, w = mosaic.shape
    raw_bytes = mosaic.astype("<u2").tobytes()
    dng_tags = [
        (271, _ASCII, b"clipdesk\0"),                  # Make
        (272, _ASCII, b"Test Camera\0"),               # Model
        (274, _SHORT, [orientation]),
        (306, _ASCII, date.encode() + b"\0"),          # DateTime
        (50706, _BYTE, [1, 4, 0, 0]),                  # DNGVersion
        (50707, _BYTE, [1, 1, 0, 0]),                  # DNGBackwardVersion
        (50708, _ASCII, b"clipdesk Test Camera\0"),    # UniqueCameraModel
        (50721, _SRATIONAL, [(1, 1), (0, 1), (0, 1), (0, 1), (1, 1), (0, 1),
                             (0, 1), (0, 1), (1, 1)]),   # ColorMatrix1 (identity)
        (50728, _RATIONAL, [(1, 1), (1, 1), (1, 1)]),  # AsShotNeutral
    ]
    raw_tags = [
        (254, _LONG, [0]),                             # NewSubFileType: main image
        (256, _LONG, [w]), (257, _LONG, [h]),
        (258, _SHORT, [16]), (259, _SHORT, [1]),       # 16 bits, uncompressed
        (262, _SHORT, [32803]),                        # PhotometricInterpretation: CFA
        (273, _LONG, ["raw"]),                         # StripOffsets (filled in below)
        (277, _SHORT, [1]), (278, _LONG, [h]), (279, _LONG, [len(raw_bytes)]),
        (284, _SHORT, [1]),
        (33421, _SHORT, [2, 2]),                       # CFARepeatPatternDim
        (33422, _BYTE, [0, 1, 1, 2]),                  # CFAPattern: RGGB
        (50717, _LONG, [WHITE]),                       # WhiteLevel
    ]
    blobs = {"raw": raw_bytes}
    if preview is None:
        ifds = [raw_tags + dng_tags]
    else:
        buf = io.BytesIO()
        preview.convert("RGB").save(buf, "JPEG", quality=90)
        blobs = {"jpeg": buf.getvalue(), "raw": raw_bytes}   # the RAW data last, as cameras do
        pw, ph = preview.size
        ifds = [[
            (254, _LONG, [1]),                         # NewSubFileType: reduced resolution
            (256, _LONG, [pw]), (257, _LONG, [ph]),
            (258, _SHORT, [8, 8, 8]), (259, _SHORT, [7]),   # JPEG
            (262, _SHORT, [6]),                        # YCbCr
            (273, _LONG, ["jpeg"]), (277, _SHORT, [3]), (278, _LONG, [ph]),
            (279, _LONG, [len(blobs["jpeg"])]), (284, _SHORT, [1]),
            (330, _LONG, ["subifd"]),                  # SubIFDs -> the raw IFD
        ] + dng_tags, raw_tags]
    Path(path).write_bytes(_tiff(ifds, blobs))
    return Path(path)


def _tiff(ifds: list[list[tuple]], blobs: dict[str, bytes]) -> bytes:
    """Little-endian TIFF: IFD0 = ifds[0]; ifds[1], if any, is IFD0's SubIFD. The pixel blobs
    come last (so a truncated file loses pixel data, as a cut-off camera file does)."""
    # Lay out: header, IFDs (with their out-of-line values), then the blobs.
    sizes = [2 + 12 * len(tags) + 4 + sum(_extra(t) for t in tags) for tags in ifds]
    ifd_at = [8]
    for size in sizes[:-1]:
        ifd_at.append(ifd_at[-1] + size + (size & 1))
    blob_at, pos = {}, ifd_at[-1] + sizes[-1] + 8
    for name, data in blobs.items():
        blob_at[name] = pos
        pos += len(data) + (len(data) & 1)
    refs = {**blob_at, "subifd": ifd_at[1] if len(ifds) > 1 else 0}
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd_at[0]))
    for n, tags in enumerate(ifds):
        out += b"\x00" * (ifd_at[n] - len(out))
        out += _ifd(sorted(tags, key=lambda t: t[0]), ifd_at[n], refs)
    for name, data in blobs.items():
        out += b"\x00" * (blob_at[name] - len(out))
        out += data
    return bytes(out)


def _values(typ: int, values) -> bytes:
    if typ == _ASCII:
        return values
    if typ == _BYTE:
        return bytes(values)
    if typ == _SHORT:
        return struct.pack(f"<{len(values)}H", *values)
    if typ == _LONG:
        return struct.pack(f"<{len(values)}I", *values)
    fmt = "<ii" if typ == _SRATIONAL else "<II"
    return b"".join(struct.pack(fmt, *v) for v in values)


def _extra(tag: tuple) -> int:
    size = len(_values(tag[1], [0] * len(tag[2]) if tag[1] == _LONG else tag[2]))
    return 0 if size <= 4 else size + (size & 1)


def _ifd(tags: list[tuple], at: int, refs: dict[str, int]) -> bytes:
    entries, extra = bytearray(struct.pack("<H", len(tags))), bytearray()
    extra_at = at + 2 + 12 * len(tags) + 4
    for tag, typ, values in tags:
        values = [refs[v] if isinstance(v, str) else v for v in values] \
            if typ == _LONG else values
        data = _values(typ, values)
        count = len(data) if typ in (_ASCII, _BYTE) else len(values)
        if len(data) <= 4:
            entries += struct.pack("<HHI", tag, typ, count) + data.ljust(4, b"\x00")
        else:
            entries += struct.pack("<HHII", tag, typ, count, extra_at + len(extra))
            extra += data + b"\x00" * (len(data) & 1)
    return bytes(entries + struct.pack("<I", 0) + extra)
