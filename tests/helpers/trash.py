"""A Trash of the test's own (freedesktop layout) for code that calls send2trash."""

from __future__ import annotations

import os
from pathlib import Path


def trash_under(root: Path, monkeypatch) -> Path:
    """Make send2trash move files into ``root``'s Trash and return its ``files`` folder.

    send2trash reads ``XDG_DATA_HOME`` once, when it is first imported, so setting the variable
    is not enough after another test has imported it: its module-level paths are patched too.
    """
    from send2trash import plat_other

    monkeypatch.setenv("XDG_DATA_HOME", str(root))
    monkeypatch.setattr(plat_other, "XDG_DATA_HOME", os.fsencode(root))
    monkeypatch.setattr(plat_other, "HOMETRASH_B", os.fsencode(root / "Trash"))
    monkeypatch.setattr(plat_other, "HOMETRASH", str(root / "Trash"))
    return root / "Trash" / "files"
