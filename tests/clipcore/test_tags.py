"""Auto-tags end to end with the shapes model: `clipcore tag add/list/show` as subprocesses,
the smart album following new photos, and `tag:` terms in queries."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clipcore.errors import ClipcoreError, QueryError
from clipcore.library import Library
from clipcore.query import parse_query
from clipcore.search import Searcher
from tests.helpers.e2e import assert_one_line_error, run_cli
from tools.shapes import write_labelled_folder

SHAPES = "shapes"   # the preset: the shipped config + its trained weights
pytestmark = pytest.mark.slow


def shape_of(path: str) -> str:
    return Path(path).name.split("-")[1]


@pytest.fixture(scope="module")
def tagged(tmp_path_factory):
    """Drawn shapes (10 per class), indexed, with a 'circles' tag defined by words."""
    root = tmp_path_factory.mktemp("tags")
    drawings = write_labelled_folder(root / "photos", np.random.default_rng(31), 10, max_side=256)
    data = root / "data"
    assert run_cli(["index", root / "photos", "--model", SHAPES], data, timeout=600).returncode == 0
    added = run_cli(["tag", "add", "circles", "circle"], data, timeout=300)
    assert added.returncode == 0, added.stderr
    return root, data, drawings


def test_a_circles_tag_tags_circles_and_not_other_shapes(tagged):
    root, data, drawings = tagged
    shown = run_cli(["tag", "show", "circles", "--json"], data)
    assert shown.returncode == 0, shown.stderr
    tagged_paths = set(json.loads(shown.stdout)["paths"])
    circles = {d.path for d in drawings if d.shape == "circle"}
    others = {d.path for d in drawings if d.shape != "circle"}
    assert len(tagged_paths & circles) >= 0.95 * len(circles), len(tagged_paths & circles)
    assert len(tagged_paths & others) <= 0.05 * len(others), sorted(tagged_paths & others)


def test_tag_list_counts_the_photos(tagged):
    root, data, drawings = tagged
    listed = run_cli(["tag", "list", "--json"], data)
    [tag] = json.loads(listed.stdout)
    shown = json.loads(run_cli(["tag", "show", "circles", "--json"], data).stdout)
    assert (tag["name"], tag["words"], tag["count"]) == ("circles", "circle", len(shown["paths"]))


def test_the_smart_album_follows_new_photos(tagged):
    root, data, drawings = tagged
    new = write_labelled_folder(root / "photos" / "new", np.random.default_rng(32), 1, max_side=256)
    assert run_cli(["index", root / "photos"], data, timeout=600).returncode == 0
    paths = set(json.loads(run_cli(["tag", "show", "circles", "--json"], data).stdout)["paths"])
    new_circles = {d.path for d in new if d.shape == "circle"}
    assert len(paths & new_circles) >= 5 and not paths & {d.path for d in new if d.shape == "star"}


def test_tag_terms_filter_a_search(tagged):
    root, data, drawings = tagged
    proc = run_cli(["search", "tag:circles", "+", "red", "-k", "5", "--json"], data)
    assert proc.returncode == 0, proc.stderr
    hits = json.loads(proc.stdout)
    members = set(json.loads(run_cli(["tag", "show", "circles", "--json"], data).stdout)["paths"])
    assert hits and all(h["path"] in members for h in hits)
    assert sum(Path(h["path"]).name.startswith("red-circle") for h in hits) >= 4
    with Library.open(data) as library:
        searcher = Searcher(library)
        only_tag = searcher.search("tag:circles", k=500)
        assert {h.path for h in only_tag} == members
        not_circles = searcher.search("blue - tag:circles", k=40)
        assert not_circles and not {h.path for h in not_circles} & members
        assert sum(shape_of(h.path) == "circle" for h in not_circles) <= 2
        with pytest.raises(ClipcoreError, match="no tag 'dogs'"):
            searcher.search("tag:dogs", k=5)
        with pytest.raises(QueryError):
            searcher.search("- tag:circles", k=5)


def test_tag_errors_are_one_line(tagged):
    root, data, drawings = tagged
    assert_one_line_error(run_cli(["tag", "show", "nope"], data), "no tag", "nope")
    assert_one_line_error(run_cli(["tag", "add", "two words", "x"], data), "tag name")
    assert_one_line_error(run_cli(["tag", "add", "x", "y", "--example", root / "missing.png"], data),
                          "does not exist")


def test_tag_terms_parse_and_quotes_keep_text():
    terms = parse_query('tag:receipt - tag:screenshot + 2023 + "tag:x"')
    assert [(t.kind, t.value, t.weight) for t in terms] == [
        ("tag", "receipt", 1.0), ("tag", "screenshot", -1.0), ("text", "2023", 1.0),
        ("text", "tag:x", 1.0)]
