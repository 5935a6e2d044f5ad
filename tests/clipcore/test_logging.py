"""Logging around model loads: open_clip's chatter is hidden while a model is built, the root
logger is left alone, and an engine warning after a model load is printed once, not twice."""

from __future__ import annotations

import logging
import threading

from clipcore.config import ModelSpec
from clipcore.encoder import Encoder
from tests.helpers.e2e import TINY_CONFIG, make_photos, run_cli


def test_a_warning_after_a_model_load_is_printed_once(tmp_path):
    """`clipcore search` loads the model, then finds the vector index damaged and warns: one
    line, not a second copy from a handler that open_clip's root-logger calls would add."""
    data_dir = tmp_path / "data"
    make_photos(tmp_path / "photos", 6)
    assert run_cli(["index", tmp_path / "photos", "--model", TINY_CONFIG], data_dir).returncode == 0
    for ann in data_dir.glob("*.hnsw"):
        ann.write_bytes(b"damaged")
    found = run_cli(["search", "anything", "--model", TINY_CONFIG, "-k", 2], data_dir)
    assert found.returncode == 0, found.stderr
    lines = found.stderr.splitlines()
    assert len([line for line in lines if "rebuilding" in line]) == 1, found.stderr
    assert not [line for line in lines if "open_clip" in line or "initialized randomly" in line]


def test_a_model_load_leaves_the_root_logger_alone_and_hides_open_clips_warnings(caplog):
    """A random-weights config makes open_clip warn "No pretrained weights loaded"; clipcore
    says so itself (Encoder.random_weights), so that line is hidden, on every thread's load."""
    root = logging.getLogger()
    handlers, filters = list(root.handlers), list(root.filters)
    open_clip_level = logging.getLogger("open_clip").level
    caplog.set_level(logging.INFO)
    errors = []

    def load():
        try:
            assert Encoder.load(ModelSpec(name=str(TINY_CONFIG), device="cpu")).random_weights
        except Exception as err:  # noqa: BLE001 -- reported below
            errors.append(err)

    threads = [threading.Thread(target=load) for _ in range(2)]   # two loads at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    assert (list(root.handlers), list(root.filters)) == (handlers, filters)
    assert logging.getLogger("open_clip").level == open_clip_level
    assert not [r for r in caplog.records if r.name.startswith("open_clip") or
                "pretrained weights" in r.getMessage()]
    logging.getLogger("open_clip.factory").warning("after the load")   # not hidden any more
    assert [r.getMessage() for r in caplog.records] == ["after the load"]
