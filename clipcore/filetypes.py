"""What kind of file a name or its first bytes say it is: photo, or one of the kinds never read.

The scanner picks photos by extension (cheap: no read). A file whose extension is well known
and not an image's (sound, video, text, ...) is never opened; it is only counted, by
:func:`kind_of_name`, for the "N other files ignored" line. A file with no extension or one we
do not know is *sniffed*: its first :data:`SNIFF_BYTES` bytes are compared with the
signatures of the formats :mod:`clipcore.imaging` decodes (:func:`looks_like_image`). The
signatures are the formats' own magic numbers (JPEG SOI marker, PNG signature, GIF87a/89a,
BMP "BM" + a known DIB header size, TIFF byte-order mark, RIFF/WEBP, ISO-BMFF ``ftyp`` brands
of HEIF/AVIF), the same ones Pillow's plugins accept.
"""

from __future__ import annotations

from .imaging import DECODE_FORMATS, IMAGE_EXTENSIONS

__all__ = ["SNIFF_BYTES", "OTHER_KINDS", "kind_of_name", "looks_like_image", "sniff_file",
           "UNKNOWN"]

#: Bytes read from a file of unknown type to decide whether it is a photo.
SNIFF_BYTES = 32

#: The kind a sniffed file that is not a photo is counted under.
UNKNOWN = "unknown type"

#: Kind -> extensions (lower-case, with dot) of files that are never photos; never read.
#: RAW formats LibRaw reads are photos (clipcore.raw: they are in IMAGE_EXTENSIONS, which wins);
#: the other RAW extensions are counted here.
OTHER_KINDS: dict[str, frozenset[str]] = {kind: frozenset(exts.split()) for kind, exts in {
    "sound": ".mp3 .wav .flac .ogg .oga .m4a .aac .wma .aif .aiff .opus .mid .midi .ape .alac "
             ".amr .au .ra",
    "video": ".mp4 .mov .avi .mkv .webm .wmv .m4v .mpg .mpeg .3gp .mts .m2ts .flv .vob .ogv",
    "text": ".txt .md .csv .tsv .log .json .xml .html .htm .ini .cfg .conf .yaml .yml .srt .nfo "
            ".rtf .tex .css .js .py .sh .bat .c .h .cpp .java .url .desktop",
    "document": ".pdf .doc .docx .odt .xls .xlsx .ods .ppt .pptx .odp .epub .mobi .pages .key "
                ".numbers .ps .eps",
    "archive": ".zip .tar .gz .tgz .bz2 .xz .7z .rar .zst .lz .cab .iso .dmg",
    "program": ".exe .dll .so .dylib .msi .deb .rpm .apk .app .bin .o .pyc",
    "sidecar": ".xmp .aae .thm .db .lrv .pp3 .dop .sqlite .ds_store",
    "camera RAW": ".cr2 .cr3 .crw .nef .nrw .arw .srf .sr2 .dng .orf .raf .rw2 .pef .srw .x3f "
                  ".3fr .erf .kdc .mef .mos .mrw .raw .rwl .iiq",
    "vector or layered image": ".svg .svgz .psd .psb .xcf .ai .kra .ora .ico .icns .cur",
}.items()}

_BY_EXT = {ext: kind for kind, exts in OTHER_KINDS.items() for ext in exts}

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_DIB_HEADER_SIZES = {12, 40, 52, 56, 64, 108, 124}


def kind_of_name(name: str) -> str | None:
    """``"image"`` for a photo extension, the kind (a key of :data:`OTHER_KINDS`) for a
    well-known other extension, or None when the name alone cannot tell (no extension, or one
    not listed): such a file is sniffed. Case-insensitive."""
    _, dot, ext = name.rpartition(".")
    if not dot or not ext:
        return None
    ext = "." + ext.lower()
    if ext in IMAGE_EXTENSIONS:
        return "image"
    return _BY_EXT.get(ext)


def looks_like_image(head: bytes) -> bool:
    """True when ``head`` (a file's first bytes, ideally :data:`SNIFF_BYTES`) starts like an
    image format that :func:`clipcore.imaging.decode_image` can decode."""
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a",
                        b"II*\x00", b"MM\x00*")):
        return True
    if head.startswith(b"BM") and len(head) >= 18:
        return int.from_bytes(head[14:18], "little") in _DIB_HEADER_SIZES
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return True
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return ((brand in _HEIF_BRANDS and "HEIF" in DECODE_FORMATS)
                or (brand in _AVIF_BRANDS and "AVIF" in DECODE_FORMATS))
    return False


def sniff_file(path: str) -> bool:
    """Read the first :data:`SNIFF_BYTES` of ``path``: True when it looks like a photo.
    Raises OSError (unreadable file) for the caller to record."""
    with open(path, "rb") as fh:
        return looks_like_image(fh.read(SNIFF_BYTES))
