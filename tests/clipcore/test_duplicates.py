"""Duplicates end to end: photos indexed by the real indexer, found by `clipcore duplicates`
(a subprocess), reviewed and moved to the Trash through the public API.

Quality: a set built at run time from scikit-image's sample photos (never committed): each
photo with a 60% JPEG-q70 copy and a copy cropped by 3% on every side, mixed with photos that
have no copy. Pair precision and recall must be >= 0.95 with the shapes model and with random
weights (the perceptual hashes confirm what the embedding proposes)."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipcore.duplicates import find_duplicates, trash_others
from clipcore.library import Library
from tests.helpers.e2e import TINY_CONFIG, assert_one_line_error, make_photos, run_cli
from tests.helpers.trash import trash_under

SHAPES = "shapes"   # the preset: the shipped config + its trained weights
SAMPLES = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field",
           "immunohistochemistry", "retina", "colorwheel", "camera", "coins", "clock", "text",
           "grass", "gravel", "cell")
ALONE = ("moon", "page", "brick")       # photos without copies


def _photo(name: str) -> Image.Image:
    import skimage.data

    a = np.asarray(getattr(skimage.data, name)())
    if a.dtype != np.uint8:
        a = (a * 255 if a.max() <= 1 else a).astype(np.uint8)
    return Image.fromarray(a).convert("RGB")


@pytest.fixture(scope="module")
def copies(tmp_path_factory) -> tuple[Path, set]:
    """(folder, the true duplicate pairs as frozensets of paths)."""
    pytest.importorskip("skimage", reason="the real-photo set is built from scikit-image's data")
    folder = tmp_path_factory.mktemp("real-photos")
    truth = set()
    for name in SAMPLES + ALONE:
        image = _photo(name)
        paths = [folder / f"{name}.png"]
        image.save(paths[0])
        if name in SAMPLES:
            w, h = image.size
            paths.append(folder / f"{name}-small.jpg")
            image.resize((round(w * 0.6), round(h * 0.6)), Image.LANCZOS).save(paths[-1], quality=70)
            dx, dy = round(w * 0.03), round(h * 0.03)
            paths.append(folder / f"{name}-crop.png")
            image.crop((dx, dy, w - dx, h - dy)).save(paths[-1])
        truth |= {frozenset(map(str, p)) for p in itertools.combinations(paths, 2)}
    return folder, truth


@pytest.mark.slow
@pytest.mark.parametrize("config", [SHAPES, TINY_CONFIG], ids=["shapes", "random-weights"])
def test_pair_precision_and_recall_on_real_photos(copies, config, tmp_path):
    folder, truth = copies
    data = tmp_path / "data"
    indexed = run_cli(["index", folder, "--model", config], data, timeout=600)
    assert indexed.returncode == 0, indexed.stderr
    proc = run_cli(["duplicates", "--json"], data, timeout=600)
    assert proc.returncode == 0, proc.stderr
    groups = json.loads(proc.stdout)
    found = {frozenset(p) for g in groups for p in itertools.combinations(g["paths"], 2)}
    tp = len(found & truth)
    precision, recall = tp / max(1, len(found)), tp / len(truth)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall, found ^ truth)
    for g in groups:   # the JSON promise: keep first, the largest photo, similarity a cosine
        assert g["keep"] == g["paths"][0] and len(g["paths"]) >= 2
        sizes = []
        for p in g["paths"]:
            with Image.open(p) as img:
                sizes.append(img.size)
        assert sizes[0][0] * sizes[0][1] == max(w * h for w, h in sizes)
        assert -1.0 <= g["similarity"] <= 1.0


def test_identical_files_are_duplicates_and_the_others_go_to_the_trash(tmp_path, monkeypatch, tiny_spec):
    from clipcore.indexer import index_folders

    trash_under(tmp_path / "xdg", monkeypatch)   # the Trash lives here
    photos = make_photos(tmp_path / "photos", 6, size=64)
    shutil.copy(photos[0], tmp_path / "photos" / "copy-of-0.png")
    shutil.copy(photos[0], tmp_path / "photos" / "another-copy.png")
    with Library.open(tmp_path / "data") as library:
        list(index_folders(library, [str(tmp_path / "photos")], tiny_spec))
        groups = find_duplicates(library)
        assert len(groups) == 1 and groups[0].exact and len(groups[0].paths) == 3
        moved = trash_others(library, groups[0])
        assert len(moved) == 2 and all(not Path(p).exists() for p in moved)
        assert Path(groups[0].paths[0]).exists()
        trashed = list((tmp_path / "xdg" / "Trash" / "files").iterdir())
        assert len(trashed) == 2                        # in the Trash, not deleted
        assert library.count() == 6 and find_duplicates(library) == []


def test_cli_duplicates_without_an_index_says_what_to_do(tmp_path):
    proc = run_cli(["duplicates"], tmp_path / "data")
    assert_one_line_error(proc, "index")


def test_cli_rejects_a_threshold_that_is_not_a_similarity(tmp_path):
    proc = run_cli(["duplicates", "--threshold", "7"], tmp_path / "data")
    assert proc.returncode == 2 and "cosine similarity" in proc.stderr
