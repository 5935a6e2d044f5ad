"""Nothing is ever written, created, renamed or re-permissioned inside the photo folders.

The tree is made read-only (chmod -R a-w). Tests may run as root, where that does not stop
writes, so the proof is a full listing (mode, size, mtime, ctime) compared before and after
indexing, re-indexing, searching, "find similar" and `info`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from clipcore.cli import main
from tests.helpers.e2e import TINY_CONFIG, make_photos, tree_state


def _set_writable(root: Path, writable: bool) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                continue
            mode = os.stat(path).st_mode
            bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
            os.chmod(path, (mode | stat.S_IWUSR) if writable else (mode & ~bits))


@pytest.fixture
def readonly_photos(tmp_path):
    root = tmp_path / "photos"
    make_photos(root / "2023" / "summer", 6, seed=1)
    make_photos(root / "2024", 6, seed=2)
    (root / "2024" / "notes.jpg").write_text("not an image")      # skipped, not deleted
    (root / "empty.jpg").touch()                                   # skipped, not deleted
    (root / "link-to-summer").symlink_to(root / "2023" / "summer")
    _set_writable(root, False)
    yield root
    _set_writable(root, True)  # so pytest can clean up as a normal user


def test_indexing_and_searching_never_touch_the_photo_tree(readonly_photos, tmp_path, capsys):
    before = tree_state(readonly_photos)
    model = ["--model", str(TINY_CONFIG)]
    some_photo = readonly_photos / "2024" / "img0003.png"

    assert main(["index", str(readonly_photos), *model]) in (0, None)
    assert main(["index", str(readonly_photos), *model]) in (0, None)   # the unchanged re-run
    assert main(["search", "a photo of summer", "--json"]) in (0, None)
    assert main(["similar", str(some_photo), "--json"]) in (0, None)
    assert main(["info"]) in (0, None)
    err = capsys.readouterr().err
    assert "Traceback" not in err

    assert tree_state(readonly_photos) == before
    # ...and the work went where it belongs: the catalog in the data directory.
    data_dir = Path(os.environ["CLIPDESK_DATA_DIR"])
    assert any(data_dir.iterdir())
