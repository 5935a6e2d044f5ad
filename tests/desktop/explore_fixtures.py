"""Fixtures of the exploring views' tests: a small indexed library with the tiny model, a view
context over it, and where screenshots go."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers.e2e import make_photos
from tests.helpers.trash import trash_under

SHOTS = Path(os.environ.get("CLIPDESK_SHOTS", "/work/notes/shots/explore13"))


def save_shot(widget, name: str) -> None:
    """Save a screenshot of ``widget`` where the team looks at them (if that folder exists)."""
    if SHOTS.parent.exists():
        SHOTS.mkdir(parents=True, exist_ok=True)
        assert widget.grab().save(str(SHOTS / name))


@pytest.fixture
def dup_library(tmp_path, tiny_spec, monkeypatch):
    """Five distinct photos, a 2x larger copy of the first and an identical copy of the second,
    indexed with the tiny model: two groups of duplicates. The Trash is under tmp_path."""
    from clipcore.indexer import index_folders
    from clipcore.library import Library

    trash_under(tmp_path / "xdg", monkeypatch)
    folder = tmp_path / "photos"
    photos = make_photos(folder, 5, size=96)
    Image.open(photos[0]).resize((192, 192)).save(folder / "img0000-large.png")
    shutil.copy(photos[1], folder / "copy-of-img0001.png")
    library = Library.open(tmp_path / "data")
    for _ in index_folders(library, [str(folder)], tiny_spec):
        pass
    yield library
    library.close()


@pytest.fixture
def context_for(tiny_spec):
    """``context_for(library)`` -> an ExploreContext with the tiny model and recorders of what
    the views ask the main window to show."""
    from desktop.explore.common import ExploreContext
    from desktop.workers import ModelLoader

    loader = ModelLoader(tiny_spec)

    def make(library):
        context = ExploreContext(library, encoder=loader.get, model_identity=tiny_spec.identity())
        context.shown, context.searched = [], []
        context.show_photos = lambda label, hits: context.shown.append((label, hits))
        context.search = context.searched.append
        return context

    return make


@pytest.fixture
def photo_library(tmp_path, tiny_spec):
    """36 distinct small photos indexed with the tiny model (several groups, a map)."""
    from clipcore.indexer import index_folders
    from clipcore.library import Library

    folder = tmp_path / "photos"
    make_photos(folder, 36, size=64)
    library = Library.open(tmp_path / "data")
    for _ in index_folders(library, [str(folder)], tiny_spec):
        pass
    yield library
    library.close()
