"""Visual groups end to end: freshly drawn shapes (24 classes) indexed with the shapes model,
grouped and named by `clipcore groups --json` (a subprocess) against a shapes vocabulary."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.e2e import assert_one_line_error, run_cli
from tools.shapes import CLASSES, write_labelled_folder

pytestmark = pytest.mark.slow


def label(path: str) -> str:
    colour, shape, _ = Path(path).name.split("-")
    return f"{colour} {shape}"


def purity(clusters: list[list[str]]) -> float:
    """Share of items in their cluster's majority class (each cluster a list of labels)."""
    return sum(collections.Counter(c).most_common(1)[0][1] for c in clusters) / sum(map(len, clusters))


@pytest.fixture(scope="module")
def grouped(tmp_path_factory):
    root = tmp_path_factory.mktemp("groups")
    write_labelled_folder(root / "photos", np.random.default_rng(77), 12, max_side=256)
    vocabulary = root / "shapes.txt"
    vocabulary.write_text("\n".join(f"a {c} {s}" for c, s in CLASSES) + "\n")
    data = root / "data"
    assert run_cli(["index", root / "photos", "--model", "shapes"], data, timeout=600).returncode == 0
    proc = run_cli(["groups", "--json", "--vocabulary", vocabulary], data, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), data


def test_groups_are_pure_and_complete(grouped):
    groups, _ = grouped
    assert sum(len(g["paths"]) for g in groups) == 24 * 12
    clusters = [[label(p) for p in g["paths"]] for g in groups]
    by_class = collections.defaultdict(list)
    for n, c in enumerate(clusters):
        for lab in c:
            by_class[lab].append(n)
    assert purity(clusters) >= 0.9, purity(clusters)
    assert purity(list(by_class.values())) >= 0.9       # inverse purity


def test_groups_are_named_with_their_colour_and_shape(grouped):
    groups, _ = grouped
    right = 0
    for g in groups:
        majority = collections.Counter(label(p) for p in g["paths"]).most_common(1)[0][0]
        right += g["name"].split(" (")[0] == f"a {majority}"
    assert right >= 0.9 * len(groups), [g["name"] for g in groups]


def test_a_missing_vocabulary_is_one_line(grouped, tmp_path):
    _, data = grouped
    assert_one_line_error(run_cli(["groups", "--vocabulary", tmp_path / "nope.txt"], data),
                          "vocabulary")
