"""Every part of a photo is searchable (issue 14, item 1): square crops of wide and tall photos.

The shapes model, configured here to centre-crop like most open_clip models, never sees a
shape at the far end of a 3:1 image through its whole-image vector; the crop vectors find it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clipcore.config import ModelSpec
from clipcore.crops import crop_boxes
from clipcore.indexer import index_folders
from clipcore.library import Library
from clipcore.search import Searcher
from tests.helpers.e2e import run_cli
from tools.shapes import draw_shape
from tests.helpers.sqlite import open_db

MODELS = Path(__file__).resolve().parents[2] / "resources" / "models"


@pytest.fixture(scope="module")
def centre_crop_spec(tmp_path_factory) -> ModelSpec:
    """The shipped shapes model with open_clip's usual preprocess: resize the short side,
    keep the centre square (the shipped config letterboxes instead)."""
    cfg = json.loads((MODELS / "shapes-clip.json").read_text())
    cfg["preprocess_cfg"]["resize_mode"] = "shortest"
    path = tmp_path_factory.mktemp("model") / "shapes-centre-crop.json"
    path.write_text(json.dumps(cfg))
    return ModelSpec(name=str(path), checkpoint=str(MODELS / "shapes-clip.safetensors"),
                     device="cpu")


def _photos(folder: Path) -> Path:
    """A 3:1 panorama with a red star at its far left end and a green circle in its middle,
    and square photos of other shapes and colours."""
    rng = np.random.default_rng(14)
    folder.mkdir(parents=True)
    panorama = draw_shape(rng, "red", "star", (576, 192), "solid", scale=0.7, centre=(0.0, 0.5))
    panorama.paste(draw_shape(rng, "green", "circle", (192, 192), "solid", scale=0.6), (192, 0))
    panorama.save(folder / "panorama.png")
    others = [("red", "circle"), ("red", "square"), ("blue", "star"), ("yellow", "star"),
              ("green", "triangle"), ("purple", "circle"), ("orange", "square"),
              ("blue", "triangle"), ("green", "circle"), ("yellow", "square")]
    for colour, shape in others:
        draw_shape(rng, colour, shape, (192, 192), "solid", scale=0.6).save(
            folder / f"{colour}-{shape}.png")
    return folder


def _top3(data: Path, folder: Path, spec: ModelSpec, crops: bool) -> list[str]:
    with Library.open(data) as library:
        list(index_folders(library, [str(folder)], spec, crops=crops))
        searcher = Searcher(library)
        hits = searcher.search("a photo of a red star", k=3)
        return [Path(h.path).name for h in hits]


def test_a_shape_at_the_far_end_of_a_panorama_is_found_with_crops_only(tmp_path,
                                                                       centre_crop_spec):
    folder = _photos(tmp_path / "photos")
    without = _top3(tmp_path / "without", folder, centre_crop_spec, crops=False)
    with_crops = _top3(tmp_path / "with", folder, centre_crop_spec, crops=True)
    assert "panorama.png" not in without, without
    assert "panorama.png" in with_crops, with_crops


def test_a_photo_is_returned_once_and_similar_uses_its_whole_image(tmp_path, centre_crop_spec):
    """Crops map to their photo: one hit per photo with its best score; "find similar" from
    the panorama starts from its whole-image vector (its own best match, score ~1); crops go
    with the photo when it is removed, and an index rebuilt from the catalog has them too."""
    folder = _photos(tmp_path / "photos")
    data = tmp_path / "data"
    with Library.open(data) as library:
        list(index_folders(library, [str(folder)], centre_crop_spec))
        identity = centre_crop_spec.identity()
        pano = library.find_image(str(folder / "panorama.png"))
        model_id = library.catalog.model_id(identity)
        assert library.catalog.crop_count(pano.id, model_id) == len(crop_boxes(576, 192))
        assert library.catalog.crop_count(library.find_image(
            str(folder / "red-circle.png")).id, model_id) == 0
        searcher = Searcher(library)
        hits = searcher.search("a photo of a red star", k=11)
        names = [Path(h.path).name for h in hits]
        assert len(names) == len(set(names)) == 11
        similar = searcher.similar(pano.id, k=3)
        assert similar[0].id == pano.id and similar[0].score == pytest.approx(1.0, abs=1e-5)
        scores = dict((Path(h.path).name, h.score) for h in hits)
    for f in data.glob("ann-*"):
        f.unlink()
    with Library.open(data) as library:     # rebuilt from the catalog: the same answers
        hits = Searcher(library).search("a photo of a red star", k=11)
        assert {Path(h.path).name: h.score for h in hits} == pytest.approx(scores, abs=1e-5)
        (folder / "panorama.png").unlink()
        list(index_folders(library, [str(folder)], centre_crop_spec))
        names = [Path(h.path).name for h in Searcher(library).search("a photo of a red star", k=11)]
        assert "panorama.png" not in names and len(names) == len(set(names)) == 10
    with open_db(data / "catalog.sqlite") as db:
        assert db.execute("SELECT count(*) FROM crop_vectors").fetchone()[0] == 0


def test_crops_cover_the_whole_photo_with_overlap():
    for width, height in ((300, 200), (576, 192), (192, 576), (1170, 2532), (4000, 1000),
                          (1000, 9000)):
        long, short = max(width, height), min(width, height)
        boxes = crop_boxes(width, height, skip_middle=False)
        assert all(b[2] - b[0] == b[3] - b[1] == short for b in boxes)
        starts = sorted(b[0] if width >= height else b[1] for b in boxes)
        assert starts[0] == 0 and starts[-1] + short == long         # both ends
        overlaps = [short - (b - a) for a, b in zip(starts, starts[1:])]
        if long <= 7 * short:
            assert min(overlaps) >= 0.25 * short - 1
        assert len(boxes) % 2 == 1 and len(crop_boxes(width, height)) == len(boxes) - 1
    assert crop_boxes(1400, 1000) == [] and crop_boxes(1000, 1000) == []


@pytest.mark.timeout(900)     # three CLI processes, each loading the model
def test_the_cli_indexes_and_finds_the_edge_of_a_panorama(tmp_path, centre_crop_spec):
    """The user's entry point: `clipcore index` then `clipcore search` in subprocesses."""
    folder = _photos(tmp_path / "photos")
    data = tmp_path / "data"
    index = run_cli(["index", folder, "--model", centre_crop_spec.name, "--checkpoint",
                     centre_crop_spec.checkpoint, "--device", "cpu"], data, timeout=280)
    assert index.returncode == 0, index.stderr
    found = run_cli(["search", "a photo of a red star", "-k", "3", "--json"], data, timeout=280)
    assert found.returncode == 0, found.stderr
    assert "panorama.png" in {Path(h["path"]).name for h in json.loads(found.stdout)}
    info = run_cli(["info"], data, timeout=280)
    assert info.returncode == 0, info.stderr
    assert (f"Indexed photos: 11 (+ {len(crop_boxes(576, 192))} crop vectors of 1 wide or "
            "tall photo)") in info.stdout, info.stdout


def test_a_panorama_indexed_before_crops_gets_them_at_the_next_run(tmp_path, centre_crop_spec):
    """A library indexed without crops (an older clipdesk) gains them at the next index run;
    only the wide photo is embedded again, and the run after that has nothing to do."""
    folder = _photos(tmp_path / "photos")
    data = tmp_path / "data"
    with Library.open(data) as library:
        list(index_folders(library, [str(folder)], centre_crop_spec, crops=False))
        again = list(index_folders(library, [str(folder)], centre_crop_spec))[-1].summary
        assert (again.changed, again.unchanged) == (1, 10)
        pano = library.find_image(str(folder / "panorama.png"))
        model_id = library.catalog.model_id(centre_crop_spec.identity())
        assert library.catalog.crop_count(pano.id, model_id) == len(crop_boxes(576, 192))
        last = list(index_folders(library, [str(folder)], centre_crop_spec))[-1].summary
        assert (last.changed, last.new, last.unchanged) == (0, 0, 11)
