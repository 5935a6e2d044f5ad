"""Damaged catalogs, read-only and full disks (issue 15, items 4 and 5).

Item 4: a damaged stored vector is never returned (it would score 1.000 against anything), is
reported and its photo embedded again; SQLite corruption gives the catalog's own message naming
`clipcore repair`; `info --check` finds damage `info` alone does not; a zero-byte catalog next
to vector-index files is refused, not silently replaced by an empty library.
Item 5: search, similar and info work on a read-only data directory and on a full disk.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from clipcore.indexer import index_folders
from clipcore.library import Library
from tests.helpers.e2e import (TINY_CONFIG, assert_one_line_error, cli_captured, cli_command,
                               cli_env, make_photos, one_line_error)
from tests.helpers.sqlite import open_db


def _cli(capsys, data, *args) -> tuple[int, str, str]:
    """`clipcore ARGS --data-dir DATA` in this process: (exit code, stdout, stderr)."""
    return cli_captured(capsys, *args, "--data-dir", data)


def _index(folder, data, tiny_spec):
    with Library.open(data) as library:
        events = list(index_folders(library, [str(folder)], tiny_spec))
    return events[-1].summary


def _damage_vector(data, image_id: int, payload: bytes) -> None:
    """Overwrite the first bytes of an image's stored vector, as a bad disk block would."""
    with open_db(data / "catalog.sqlite") as db:
        (blob,) = db.execute("SELECT vector FROM vectors WHERE image_id = ?", (image_id,)).fetchone()
        db.execute("UPDATE vectors SET vector = ? WHERE image_id = ?",
                   (payload + blob[len(payload):], image_id))


def test_a_damaged_vector_is_never_returned_and_is_embedded_again(tmp_path, tiny_spec, caplog):
    photos = make_photos(tmp_path / "p", 6, seed=2)
    data = tmp_path / "data"
    _index(photos[0].parent, data, tiny_spec)
    identity = tiny_spec.identity()
    with Library.open(data) as library:
        huge, nan = (library.find_image(str(photos[i])).id for i in (1, 4))
        good = library.vector(huge, identity)
    _damage_vector(data, huge, np.full(16, 3e38, "<f4").tobytes())     # 64 bytes: finite, huge
    _damage_vector(data, nan, b"\xff" * 64)                             # 64 bytes of NaN

    with Library.open(data) as library:
        hits = library.nearest(-good, identity, 10)          # a query unlike either photo
        assert {i for i, _ in hits}.isdisjoint({huge, nan}) and len(hits) == 4
        assert all(s < 0.999 for _, s in hits)
        assert library.vector(huge, identity) is None
        assert library.count(identity) == 4                   # forgotten: embedded again later
    assert "damaged" in caplog.text
    summary = _index(photos[0].parent, data, tiny_spec)
    assert summary.changed == 2
    with Library.open(data) as library:
        assert library.count(identity) == 6
        np.testing.assert_allclose(library.vector(huge, identity), good, atol=1e-6)


def test_damaged_vectors_are_reported_by_search_and_info_check(tmp_path, tiny_spec, capsys):
    photos = make_photos(tmp_path / "p", 4, seed=3)
    data = tmp_path / "data"
    _index(photos[0].parent, data, tiny_spec)
    with Library.open(data) as library:
        victim = library.find_image(str(photos[2])).id
    _damage_vector(data, victim, b"\x00\x00\xc0\x7f" * 16)
    code, out, err = _cli(capsys, data, "info", "--check")
    assert code == 0, err
    assert "1 stored vector(s) were damaged" in out, out
    assert "damaged" in err and "Traceback" not in err


def _corrupt_table(data, table: str) -> None:
    """Overwrite the root page of ``table`` with garbage (a bad sector, a torn write)."""
    path = data / "catalog.sqlite"
    with open_db(path) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    with open(path, "r+b") as fh:
        fh.seek((root - 1) * page_size)
        fh.write(bytes([0xAB]) * page_size)


def test_damaged_pages_give_the_catalogs_message_naming_repair(tmp_path, tiny_spec, capsys):
    make_photos(tmp_path / "p", 5)
    data = tmp_path / "data"
    _index(tmp_path / "p", data, tiny_spec)
    _corrupt_table(data, "vectors")
    line = one_line_error(_cli(capsys, data, "search", "anything"), "damaged", "clipcore repair")
    assert "unexpected" not in line and "--debug" not in line
    one_line_error(_cli(capsys, data, "info", "--check"), "damaged", "clipcore repair")


def test_a_zero_byte_catalog_beside_index_files_is_refused(tmp_path, tiny_spec, capsys):
    make_photos(tmp_path / "p", 3)
    data = tmp_path / "data"
    _index(tmp_path / "p", data, tiny_spec)
    assert list(data.glob("ann-*"))
    (data / "catalog.sqlite").write_bytes(b"")
    for args in (["search", "anything"], ["info"], ["index", tmp_path / "p", "--model", TINY_CONFIG]):
        one_line_error(_cli(capsys, data, *args), "empty (0 bytes)", "lost")
    assert (data / "catalog.sqlite").stat().st_size == 0


# -- item 5: read-only data directory, full disk ------------------------------------------------

_READ_ONLY = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && shift && exec "$@"'
# A 2 MiB tmpfs over the data directory holding a copy of the library, then filled up.
_FULL = ('mount -t tmpfs -o size=2m tmpfs "$1" && cp -a "$2"/. "$1"/ && '
         '(dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null || true) && shift 2 && exec "$@"')


def _in_namespace(script: str, places: list, args, data) -> subprocess.CompletedProcess:
    """Run `clipcore ARGS` inside a private mount namespace prepared by ``script``."""
    command = ["unshare", "-m", "sh", "-c", script, "sh", *map(str, places),
               *cli_command(args)]
    return subprocess.run(command, env=cli_env(data), capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def mounts_allowed(tmp_path_factory):
    probe = tmp_path_factory.mktemp("probe")
    out = subprocess.run(["unshare", "-m", "sh", "-c", _READ_ONLY, "sh", str(probe), "true"],
                         capture_output=True)
    if out.returncode:
        pytest.skip("this machine does not allow private mounts (needs root / user namespaces)")


@pytest.fixture
def indexed(tmp_path, tiny_spec):
    photos = make_photos(tmp_path / "p", 5, seed=7)
    data = tmp_path / "data"
    _index(tmp_path / "p", data, tiny_spec)
    return photos, data


@pytest.mark.parametrize("disk", ["read-only", "full"])
def test_search_similar_and_info_work_without_writing(mounts_allowed, indexed, tmp_path, disk):
    photos, data = indexed
    for ann in data.glob("ann-*"):          # the vector index must be rebuilt, and cannot be saved
        ann.unlink()
    if disk == "read-only":
        script, places = _READ_ONLY, [data]
    else:
        staged = tmp_path / "staged"
        shutil.copytree(data, staged)
        script, places = _FULL, [data, staged]
    outputs = {}
    for args in (["search", "anything", "-k", "3", "--json"], ["similar", photos[1], "-k", "1"],
                 ["info"]):
        out = _in_namespace(script, places, args, data)
        assert out.returncode == 0, (args, out.stderr)
        assert "Traceback" not in out.stderr and "error" not in out.stderr, out.stderr
        outputs[args[0]] = out.stdout
    assert len(json.loads(outputs["search"])) == 3
    assert str(photos[1]) in outputs["similar"]
    assert "Indexed photos: 5" in outputs["info"]
    index = _in_namespace(script, places, ["index", tmp_path / "p", "--model", TINY_CONFIG], data)
    assert index.returncode == 0 or assert_one_line_error(
        index, "read-only" if disk == "read-only" else "full")


# -- recovery ------------------------------------------------------------------------------------

def test_repair_rebuilds_the_catalog_from_readable_rows_and_the_vector_index(tmp_path,
                                                                           tiny_spec, capsys):
    photos = make_photos(tmp_path / "p", 8, seed=5)
    data = tmp_path / "data"
    _index(tmp_path / "p", data, tiny_spec)
    _corrupt_table(data, "vectors")                 # every stored vector unreadable
    damaged = (data / "catalog.sqlite").read_bytes()
    code, out, err = _cli(capsys, data, "repair")
    assert code == 0, err
    assert "8 photos and 8 vectors (8 of them from the vector index files)" in out, out
    aside = list(data.glob("catalog.damaged-*.sqlite"))
    assert len(aside) == 1 and aside[0].read_bytes() == damaged     # kept, unchanged
    code, out, err = _cli(capsys, data, "info", "--check")
    assert code == 0 and "sound" in out, out + err
    code, out, err = _cli(capsys, data, "similar", photos[3], "-k", "8", "--json")
    hits = json.loads(out)
    assert len(hits) == 8 and hits[0]["path"] == str(photos[3]) and hits[0]["score"] > 0.999


def test_a_hand_edited_sidecar_cannot_pass_off_another_index(tmp_path, tiny_spec, caplog):
    """Library A's vector-index file replaced by library B's (same model, other photos, same
    ids), with A's description edited to match the file: A must not search B's vectors."""
    from clipcore.ann_file import checksums

    for name, seed in (("a", 1), ("b", 2)):
        make_photos(tmp_path / name, 6, seed=seed)
        _index(tmp_path / name, tmp_path / f"data-{name}", tiny_spec)
    index_a = next((tmp_path / "data-a").glob("ann-*.hnsw"))
    shutil.copy(next((tmp_path / "data-b").glob("ann-*.hnsw")), index_a)
    sidecar = index_a.with_suffix(".json")
    info = json.loads(sidecar.read_text())
    size, crc, blocks = checksums(index_a)       # the whole file's and each block's CRC
    info.update(bytes=size, crc32=crc, blocks=blocks)
    sidecar.write_text(json.dumps(info))
    with Library.open(tmp_path / "data-a", params=_hnsw_always()) as library:
        identity = tiny_spec.identity()
        row = library.find_image(str(tmp_path / "a" / "img0002.png"))
        hits = library.nearest(library.vector(row.id, identity), identity, 3)
        assert hits[0][0] == row.id and hits[0][1] > 0.999
    assert "is not the catalog's" in caplog.text or "lacks image" in caplog.text


def _hnsw_always():
    from clipcore.config import IndexParams

    return IndexParams(exact_below=0)        # search through the HNSW index, not the catalog
