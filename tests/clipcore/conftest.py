"""Fixtures shared by the clipcore tests."""

from __future__ import annotations

import os

import pytest

from tests.helpers import zoo


@pytest.fixture(scope="module")
def kinds(tmp_path_factory) -> dict[str, str]:
    """The zoo of odd and broken files (tests/helpers/zoo.py): kind -> path."""
    root = tmp_path_factory.mktemp("zoo")
    made = zoo.make_zoo(root)
    yield made
    os.chmod(made["unreadable"], 0o644)
