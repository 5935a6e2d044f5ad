"""Names cannot drive the terminal (issue 15, item 6), and the smaller things of item 7.

Item 6: file names with ESC / OSC sequences, newlines and raw C1 bytes (the zoo's
ESCAPE_NAMES) are shown escaped in every plain-text output of `clipcore`, exactly in --json,
and a name that is not UTF-8 comes back byte for byte from --json.
Item 7: `info` summarises skipped files by reason, an unreadable folder is not a skipped
"file", a FIFO given as a query image is "not a regular file", a legacy pickle checkpoint loads
without torch's raw warning.
"""

from __future__ import annotations

import base64
import json
import os
import re
import warnings
from pathlib import Path

import pytest
from PIL import Image

from clipcore import scanner
from clipcore.indexer import index_folders
from clipcore.library import Library
from clipcore.textout import path_fields, shown
from tests.helpers import zoo
from tests.helpers.e2e import TINY_CONFIG, cli_captured, make_photos, one_line_error, run_cli

# What may reach a terminal from a plain-text output: no C0 control but newline, no DEL, no
# C1 control, no lone surrogate (an undecodable byte printed raw).
_RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\udc80-\udcff]")


def test_shown_escapes_what_drives_a_terminal_and_nothing_else():
    assert shown("a\x1b]0;title\x07b") == "a\\x1b]0;title\\x07b"
    assert shown("fake\nline\ttab\rret") == "fake\\nline\\ttab\\rret"
    assert shown("c1\u009b2J del\x7f") == "c1\\x9b2J del\\x7f"
    assert shown(os.fsdecode(b"raw\x9b.png")) == "raw\\x9b.png"      # an undecodable byte
    assert shown("bidi\u202eevil") == "bidi\\u202eevil"
    assert shown("été 日本 back\\slash 100%") == "été 日本 back\\slash 100%"


def test_path_fields_are_exact_and_lossless():
    assert path_fields("/p/été\n.png") == {"path": "/p/été\n.png"}
    odd = os.fsdecode(b"/p/csi\x9b2J.png")
    fields = path_fields(odd)
    assert fields["path"] == odd
    assert base64.b64decode(fields["path_bytes"]) == b"/p/csi\x9b2J.png"


@pytest.fixture(scope="module")
def named_library(tmp_path_factory):
    """A library of the zoo's escape-named photos plus two broken files with escape names."""
    root = tmp_path_factory.mktemp("names")
    folder = root / "photos"
    made = zoo.make_zoo(root / "zoo")
    folder.mkdir()
    for kind in zoo.ESCAPE_NAMES:
        os.link(made[kind], folder / Path(made[kind]).name)
    (folder / "\x1b[31mred\nETC-SHADOW: file is empty.jpg").write_text("not a photo")
    data = root / "data"
    out = run_cli(["index", folder, "--model", TINY_CONFIG], data, timeout=600)
    assert out.returncode == 0, out.stderr
    return folder, data, out


def _assert_safe(text: str) -> None:
    raw = _RAW_CONTROL.findall(text)
    assert not raw, f"raw control characters reached the terminal: {raw!r}\n{text}"


def test_plain_text_outputs_show_names_escaped(named_library, capsys):
    folder, data, index_run = named_library
    _assert_safe(index_run.stdout + index_run.stderr.replace("\r", "\n"))   # (tqdm's \r)
    code, out, err = cli_captured(capsys, "search", "anything", "-k", "4", "--data-dir", data)
    assert code == 0, err
    _assert_safe(out + err)
    lines = out.splitlines()
    assert len(lines) == 1 + 4, lines          # the header and one line per hit: none faked
    assert not any(line.startswith("ETC-SHADOW") for line in lines)
    assert any("fake\\nETC-SHADOW: file is empty.png" in line for line in lines)
    code, info, err = cli_captured(capsys, "info", "--data-dir", data)
    _assert_safe(info + err)
    assert "\\x1b[31mred\\nETC-SHADOW: file is empty.jpg: not an image" in info
    assert not any(line.startswith("ETC-SHADOW") for line in info.splitlines())
    missing = cli_captured(capsys, "similar", folder / "gone\x1b]0;x\x07.png", "--data-dir", data)
    line = one_line_error(missing, "no such file")
    _assert_safe(missing[2])
    assert "gone\\x1b]0;x\\x07.png" in line


def test_json_gives_every_name_exactly(named_library, capsys):
    folder, data, _ = named_library
    code, out, err = cli_captured(capsys, "search", "anything", "-k", "10", "--json", "--data-dir", data)
    assert code == 0, err
    hits = json.loads(out)
    names = {os.fsencode(h["path"]) for h in hits}
    assert names == {os.fsencode(folder / n) for n in zoo.ESCAPE_NAMES.values()}
    for h in hits:
        exact = os.fsencode(h["path"])
        if b"\x9b" in exact:
            assert base64.b64decode(h["path_bytes"]) == exact
        else:
            assert "path_bytes" not in h


# -- item 7 ------------------------------------------------------------------------------------

def test_info_summarises_skipped_files_by_reason(tmp_path, capsys):
    folder = tmp_path / "photos"
    make_photos(folder, 2)
    for i in range(25):
        (folder / f"notes{i:02d}.jpg").write_text("not a photo")
    for size in ((60000, 1), (1, 60000)):
        Image.new("RGB", size).save(folder / f"thin_{size[0]}x{size[1]}.png")
    data = ["--data-dir", tmp_path / "data"]
    assert cli_captured(capsys, "index", folder, "--model", TINY_CONFIG, *data)[0] == 0
    info = cli_captured(capsys, "info", *data)[1]
    assert re.search(r"^\s+25\s+not an image \(unrecognised format\)$", info, re.M), info
    assert re.search(r"^\s+2\s+extreme aspect ratio$", info, re.M), info
    listed = [line for line in info.splitlines() if line.startswith(f"  {folder}/")]
    assert len(listed) == 20 and "--all" in info
    every = cli_captured(capsys, "info", "--all", *data)[1]
    assert len([line for line in every.splitlines() if line.startswith(f"  {folder}/")]) == 27


def test_an_unreadable_folder_is_not_a_skipped_file(tmp_path, tiny_spec, monkeypatch, caplog):
    folder = tmp_path / "photos"
    make_photos(folder, 2)
    make_photos(folder / "private", 2, seed=3)
    real = os.scandir

    def scandir(path="."):
        if isinstance(path, (str, os.PathLike)) and os.fspath(path) == str(folder / "private"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(scanner.os, "scandir", scandir)
    with Library.open(tmp_path / "data") as library:
        events = list(index_folders(library, [str(folder)], tiny_spec))
        summary = events[-1].summary
        assert library.skipped() == [] and summary.skipped == 0
        assert summary.unreadable_folders == {str(folder / "private"): "permission denied"}
        assert library.count() == 2
    assert "Could not read the folder" in caplog.text


def test_a_fifo_query_image_is_not_a_regular_file(tmp_path, capsys):
    folder = tmp_path / "photos"
    make_photos(folder, 2)
    data = ["--data-dir", tmp_path / "data"]
    assert cli_captured(capsys, "index", folder, "--model", TINY_CONFIG, *data)[0] == 0
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    one_line_error(cli_captured(capsys, "similar", fifo, *data), "not a regular file")
    one_line_error(cli_captured(capsys, "search", f"beach + {fifo}", *data), "not a regular file")


def test_legacy_pickle_checkpoints_give_no_raw_torch_warning(tmp_path, tiny_spec):
    """torch's loader warns ("Detected pickle protocol 4 in the checkpoint ...") about legacy
    pickles: the user gets clipcore's one message, or the loaded model, and nothing else."""
    import torch

    from clipcore.encoder import Encoder
    from clipcore.errors import ModelNotFoundError
    from clipcore.weights import check_checkpoint, load_checkpoint_into

    model = Encoder.load(tiny_spec).model
    protocol2, protocol4 = tmp_path / "legacy2.pt", tmp_path / "legacy4.pt"
    torch.save(model.state_dict(), protocol2, _use_new_zipfile_serialization=False)
    torch.save(model.state_dict(), protocol4, _use_new_zipfile_serialization=False,
               pickle_protocol=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # a warning that escaped would raise here
        check_checkpoint(protocol2)
        load_checkpoint_into(model, protocol2)
        with pytest.raises(ModelNotFoundError, match="not a PyTorch weights file"):
            check_checkpoint(protocol4)
