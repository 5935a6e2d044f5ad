"""Folder walk (stat only, never reads or writes photos) and a cheap content hash.

Paths are ``str`` as the OS gives them: on Linux/macOS a file name that is not valid UTF-8
arrives as a str with lone surrogates (Python's ``surrogateescape``, PEP 383), e.g.
``os.fsdecode(b"bad\\xff.jpg") == "bad\\udcff.jpg"``. Such a str opens the right file, but it
cannot be encoded as UTF-8 text, so whatever stores paths (the catalog) must store
``os.fsencode(path)`` (bytes, lossless on every OS) and turn it back with ``os.fsdecode``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, MutableMapping

from .filetypes import UNKNOWN, kind_of_name, sniff_file
from .raw import RAW_EXTENSIONS, is_raw_name

#: What a RAW file shown through its JPEG twin is counted as in ``scan_folder(ignored=...)``.
RAW_BESIDE_JPEG = "RAW beside its JPEG"

__all__ = ["FileEntry", "ScanProblem", "scan_folder", "content_hash", "HASH_CHUNK", "Remembered"]


@dataclass(frozen=True)
class FileEntry:
    """An image file found by the scan.

    ``path``: absolute, symlinks not resolved (the path the user sees; may hold surrogate
    escapes, see the module docstring). ``size``: bytes. ``mtime_ns``: st_mtime_ns
    (nanoseconds since the epoch).
    """

    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class ScanProblem:
    """A path the scan could not enter or follow.

    ``reason`` is one of ``"permission denied"``, ``"broken symlink"``, ``"symlink loop"``,
    ``"folder vanished"``, ``"folder not found"``, ``"not a folder"``, ``"I/O error: ..."``.
    ``folder``: True when the path is (or names) a folder whose listing failed, not a file.
    """

    path: str
    reason: str
    folder: bool = False


#: What ``scan_folder(sniffed=...)`` remembers of a sniffed file: (size, mtime_ns, is_image).
Sniffed = tuple[int, int, bool]


def scan_folder(root: str, exclude: Iterable[str] = (), *,
                ignored: MutableMapping[str, int] | None = None,
                sniffed: MutableMapping[str, Sniffed] | None = None,
                devices: dict[str, int] | None = None,
                ) -> Iterator[FileEntry | ScanProblem]:
    """Walk ``root`` recursively; yield a FileEntry per image file and a ScanProblem per path
    that could not be read. Never raises for anything on disk, never writes.

    Image files are chosen by extension (case-insensitive, ``imaging.IMAGE_EXTENSIONS``) and
    must be regular files (or symlinks to one). A file with no extension or an unknown one is
    sniffed (its first 32 bytes, :func:`clipcore.filetypes.sniff_file`): a PNG named ``.dat``
    is a photo. ``sniffed`` (path -> (size, mtime_ns, is_image)) remembers those answers: a
    file found there with the same size and mtime is not read again, and new answers are added,
    so a caller that keeps the mapping makes every later scan stat-only. Files with a
    well-known other extension (sound, video, text, ...: ``filetypes.OTHER_KINDS``) are never
    read; ``ignored`` (kind -> count), when given, counts every regular file that is not a
    photo by kind ("sound", ..., ``filetypes.UNKNOWN``), and the RAW half of each RAW + JPEG
    pair (same folder, same name stem) as :data:`RAW_BESIDE_JPEG`: the pair shows once, as
    the JPEG (``clipcore.raw.raw_sibling`` finds the RAW). Names starting with "." (hidden files and folders)
    are skipped, and so is every folder in ``exclude`` (compared by identity, st_dev/st_ino,
    so any spelling or symlink to an excluded folder is excluded too).

    Symlinks are followed safely: every real folder is entered once. Real folders are walked
    before symlinked ones, so a photo reachable both ways is reported under its real path; a
    symlink back to one of its own ancestors gives ScanProblem "symlink loop", any other link
    to an already walked folder is skipped silently. Order: depth first, names sorted.

    Cost: one os.scandir per folder plus one stat per image file, per folder and per file of
    unknown type; photo contents are never read, files of unknown type once (about 1-2 s per
    100,000 files on a local disk, warm cache).

    ``devices``: when given, filled with ``{path: st_dev}`` for ``root`` and for every folder
    walked whose device differs from its parent's (a mount point, or a symlink to another
    drive): where a drive that can go away starts (see clipcore.offline).
    """
    root = os.path.abspath(os.fspath(root))
    try:
        st = os.stat(root)
    except FileNotFoundError:
        yield ScanProblem(root, "folder not found", folder=True)
        return
    except OSError as exc:
        yield ScanProblem(root, _reason(exc), folder=True)
        return
    if not stat.S_ISDIR(st.st_mode):
        yield ScanProblem(root, "not a folder", folder=True)
        return

    excluded = set()
    for path in exclude:
        try:
            excluded.add(_key(os.stat(path)))
        except OSError:
            pass  # an excluded folder that does not exist excludes nothing

    seen = {_key(st)}
    if devices is not None:
        devices[root] = st.st_dev
    # Each pending folder: (path, keys of its ancestors and itself). Symlinked folders wait in
    # `linked` until every real folder has been walked. The key's st_dev is the folder's device.
    pending: list[tuple[str, frozenset, tuple]] = [(root, frozenset(seen), _key(st))]
    linked: list[tuple[str, frozenset, tuple, int]] = []
    while pending or linked:
        if pending:
            folder, chain, here = pending.pop()
        else:
            folder, parent_chain, here, parent_dev = linked.pop()
            if here in parent_chain:
                yield ScanProblem(folder, "symlink loop", folder=True)
                continue
            if here in seen:
                continue  # already walked through another path
            seen.add(here)
            chain = parent_chain | {here}
            if devices is not None and here[0] != parent_dev:
                devices[folder] = here[0]
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except FileNotFoundError:
            yield ScanProblem(folder, "folder vanished", folder=True)
            continue
        except OSError as exc:
            yield ScanProblem(folder, _reason(exc), folder=True)
            continue

        subfolders, sublinks = [], []
        paired = _jpeg_stems(entries)
        for entry in entries:
            if entry.name.startswith("."):
                continue
            is_link = False
            kind = kind_of_name(entry.name)
            if paired and is_raw_name(entry.name) and \
                    os.path.splitext(entry.name)[0].lower() in paired:
                if ignored is not None:   # a RAW + JPEG pair shows once: the JPEG
                    ignored[RAW_BESIDE_JPEG] = ignored.get(RAW_BESIDE_JPEG, 0) + 1
                continue
            try:
                is_link = entry.is_symlink()
                if not (is_link or kind in ("image", None) or entry.is_dir()):
                    # (is_symlink / is_dir / is_file come free with the listing on most OSes)
                    if ignored is not None and entry.is_file():
                        ignored[kind] = ignored.get(kind, 0) + 1
                    continue
                st = entry.stat(follow_symlinks=True)
            # Problems with links named like other files ("notes.txt") concern nobody.
            except FileNotFoundError:
                if is_link and _may_hold_photos(entry.name):
                    yield ScanProblem(entry.path, "broken symlink")
                continue  # (a file that vanished since the listing is simply gone)
            except OSError as exc:  # ELOOP (a link to itself), EACCES, I/O errors
                if _may_hold_photos(entry.name):
                    yield ScanProblem(entry.path, _reason(exc))
                continue
            if stat.S_ISDIR(st.st_mode):
                key = _key(st)
                if key in excluded:
                    continue
                if is_link:
                    sublinks.append((entry.path, chain, key, here[0]))
                elif key not in seen:  # (a bind mount can show a real folder twice)
                    seen.add(key)
                    subfolders.append((entry.path, chain | {key}, key))
                    if devices is not None and key[0] != here[0]:
                        devices[entry.path] = key[0]
            elif stat.S_ISREG(st.st_mode):
                if kind is None and _sniff(entry.path, st, sniffed):
                    kind = "image"
                if kind == "image":
                    yield FileEntry(entry.path, st.st_size, st.st_mtime_ns)
                elif ignored is not None:
                    ignored[kind or UNKNOWN] = ignored.get(kind or UNKNOWN, 0) + 1
        # Reversed so that pop() walks them in name order.
        pending.extend(reversed(subfolders))
        linked.extend(reversed(sublinks))


class Remembered(dict):
    """For ``scan_folder(sniffed=...)``: the remembered answers for the files of unknown type
    under one folder (path -> (size, mtime_ns, is_image)); ``used`` collects the answers the
    scan looked up or made, i.e. what is true of the files that exist now."""

    def __init__(self, loaded: dict):
        super().__init__(loaded)
        self.loaded = dict(loaded)
        self.used: dict = {}

    def get(self, key: Any, default: Any = None) -> Any:
        value = super().get(key, default)
        if value is not None:
            self.used[key] = value
        return value

    def __setitem__(self, key: str, value: tuple) -> None:
        super().__setitem__(key, value)
        self.used[key] = value


#: Bytes hashed at each end of a file by content_hash.
HASH_CHUNK = 64 * 1024


def content_hash(path: str) -> str:
    """Cheap fingerprint of a file's content, to recognise a photo that was moved or renamed.

    blake2b (hashlib, 128-bit digest) over the file size (8 bytes, little-endian), the first
    64 KiB and the last 64 KiB (the whole file when it is <= 128 KiB). Returns 32 hex chars.

    Why not the whole file: hashing every byte of a 100,000-photo library (~300 GB) would read
    all of it at disk speed, for every newly seen path; this reads at most 128 KiB per file
    (two seeks). For photos it is still specific: the head holds the EXIF block (capture time,
    camera serial, embedded thumbnail) and the start of the compressed pixels, the tail the
    end of the pixel data, and the size pins the rest; an edit that keeps the size and both
    ends identical is practically unheard of for camera files. It is only used together with
    size and mtime to pair a vanished path with a new one, never to decide that two different
    photos are the same for deletion.

    Raises OSError (FileNotFoundError, PermissionError, ...) for the caller to record.
    """
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        h.update(size.to_bytes(8, "little"))
        if size <= 2 * HASH_CHUNK:
            h.update(fh.read())
        else:
            h.update(fh.read(HASH_CHUNK))
            fh.seek(-HASH_CHUNK, os.SEEK_END)
            h.update(fh.read(HASH_CHUNK))
    return h.hexdigest()


def _key(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _sniff(path: str, st: os.stat_result, sniffed: MutableMapping[str, Sniffed] | None) -> bool:
    """Is this file of unknown type a photo? The remembered answer when size and mtime match,
    else its first bytes (remembered). An unreadable file is not a photo (and not remembered)."""
    known = sniffed.get(path) if sniffed is not None else None
    if known is not None and known[:2] == (st.st_size, st.st_mtime_ns):
        return known[2]
    try:
        is_image = sniff_file(path)
    except OSError:
        return False
    if sniffed is not None:
        sniffed[path] = (st.st_size, st.st_mtime_ns, is_image)
    return is_image


def _jpeg_stems(entries: Iterable[os.DirEntry[str]]) -> set[str]:
    """Lower-case name stems of the photos in a listing that are not RAW files: a RAW with
    one of these stems is the other half of a RAW + JPEG pair (clipcore.raw)."""
    if not RAW_EXTENSIONS:
        return set()
    stems = {os.path.splitext(e.name)[0].lower() for e in entries if is_raw_name(e.name)}
    if not stems:
        return set()
    return {stem for e in entries
            if (stem := os.path.splitext(e.name)[0].lower()) in stems
            and not is_raw_name(e.name) and kind_of_name(e.name) == "image"}


def _may_hold_photos(name: str) -> bool:
    """An image name, a name of unknown type, or a name without an extension (a folder?)."""
    return kind_of_name(name) in ("image", None)


def _reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    return f"I/O error: {exc.strerror or exc}"
