"""Look-alike checkpoints (issue 15, item 3): weights that differ anywhere get their own identity,
and the whole-file hash behind it is cached by (path, size, mtime, ctime, inode)."""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from clipcore import filehash
from clipcore.config import ModelSpec
from clipcore.library import Library
from clipcore.cli import main
from tests.helpers.e2e import TINY_CONFIG, make_photos

MIB = 1 << 20


def _last_tensor(path: Path) -> tuple[str, int]:
    """(name, file offset) of the tensor stored last in a safetensors file."""
    raw = path.read_bytes()
    header_len = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + header_len])
    name = max((k for k in header if k != "__metadata__"),
               key=lambda k: header[k]["data_offsets"][0])
    return name, 8 + header_len + header[name]["data_offsets"][0]


@pytest.fixture(scope="module")
def lookalikes(tmp_path_factory, tiny_spec):
    """Two checkpoints of the tiny model that differ only in the tensor stored last (past the
    first MiB): a fine-tune of the last layers."""
    import torch
    from safetensors.torch import load_file, save_file

    from clipcore.encoder import Encoder

    folder = tmp_path_factory.mktemp("ckpt")
    base = folder / "base.safetensors"
    state = {k: v.contiguous() for k, v in Encoder.load(tiny_spec).model.state_dict().items()}
    save_file(state, base)
    name, offset = _last_tensor(base)
    tuned = load_file(base)
    tuned[name] = tuned[name] + torch.linspace(-0.5, 0.5, tuned[name].numel()).reshape(
        tuned[name].shape)
    save_file(tuned, folder / "tuned.safetensors")
    a, b = base.read_bytes(), (folder / "tuned.safetensors").read_bytes()
    assert offset > MIB and len(a) == len(b) and a[:MIB] == b[:MIB] and a != b
    return base, folder / "tuned.safetensors"


def test_checkpoints_differing_after_the_first_mib_have_different_identities(lookalikes):
    base, tuned = lookalikes
    ids = {ModelSpec(str(TINY_CONFIG), checkpoint=str(p)).identity() for p in (base, tuned)}
    assert len(ids) == 2
    config_copy = base.parent / "tiny-clip.json"
    config_copy.write_text(TINY_CONFIG.read_text() + " ")    # same model, one byte more
    assert ModelSpec(str(config_copy)).identity() != ModelSpec(str(TINY_CONFIG)).identity()


def test_the_hash_is_cached_until_the_file_changes(tmp_path, monkeypatch):
    path = tmp_path / "weights.safetensors"
    path.write_bytes(b"a" * (3 * MIB))
    first = filehash.file_sha256(path)
    reads = []
    real_open = open

    def counting_open(file, mode="r", *args, **kwargs):
        if os.fspath(file) == os.path.realpath(path):
            reads.append(mode)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", counting_open)
    assert filehash.file_sha256(path) == first and reads == []        # cached: not read
    monkeypatch.setattr(filehash, "_memory", {})
    monkeypatch.setattr(filehash, "_disk", None)                     # a new process, as it were
    assert filehash.file_sha256(path) == first and reads == []        # from the disk cache
    stat = path.stat()
    with real_open(path, "r+b") as fh:                                # same size, mtime put back
        fh.seek(2 * MIB)
        fh.write(b"b")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert filehash.file_sha256(path) != first and reads == ["rb"]    # the ctime told


def test_indexing_with_a_lookalike_checkpoint_embeds_again(tmp_path, lookalikes, capsys):
    base, tuned = lookalikes
    photos = make_photos(tmp_path / "photos", 4, seed=3)
    data = tmp_path / "data"
    model = ["--model", str(TINY_CONFIG), "--data-dir", str(data)]
    assert main(["index", str(tmp_path / "photos"), *model, "--checkpoint", str(base)]) == 0
    assert "4 new" in capsys.readouterr().out
    assert main(["index", str(tmp_path / "photos"), *model, "--checkpoint", str(tuned)]) == 0
    second = capsys.readouterr().out
    assert "Nothing to do" not in second and "4 changed" in second, second
    with Library.open(data) as library:
        ids = [ModelSpec(str(TINY_CONFIG), checkpoint=str(p)).identity() for p in (base, tuned)]
        row = library.find_image(str(photos[0]))
        old, new = (library.vector(row.id, i) for i in ids)
        assert old is not None and new is not None and not np.allclose(old, new)
        assert library.model_identity() == ids[1]
    shutil.rmtree(data)
