"""Shared fixtures. Tests never touch the network and never need a display."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
TINY_CONFIG = TESTS_DIR / "data" / "tiny-clip.json"


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    """Every test gets its own data and cache dirs, so nothing touches the user's."""
    base = tmp_path_factory.mktemp("clipdesk-home")
    monkeypatch.setenv("CLIPDESK_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("CLIPDESK_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_config() -> Path:
    """Path to a tiny open_clip model config (random weights, 32-d embeddings, 32 px input)."""
    return TINY_CONFIG


@pytest.fixture(scope="session")
def tiny_spec(tiny_config):
    from clipcore.config import ModelSpec

    return ModelSpec(name=str(tiny_config), device="cpu")
