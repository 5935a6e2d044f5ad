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


@pytest.fixture(scope="module")
def encoder(tiny_spec):
    """The tiny model, loaded once per module; its encode calls are counted in
    ``encoder.encoded`` (images per call)."""
    from clipcore.encoder import Encoder

    enc = Encoder.load(tiny_spec)
    real = enc.encode_images
    enc.encoded = []

    def counting(images):
        out = real(images)
        enc.encoded.append(len(out))
        return out

    enc.encode_images = counting
    return enc


@pytest.fixture
def restore_cpu_settings():
    """torch's CPU thread count and denormal flushing as they were before the test (loading
    a CPU model changes both, process-wide: clipcore.devices.configure_cpu)."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
    torch.set_flush_denormal(False)


@pytest.fixture
def library(tmp_path):
    """A fresh library in ``tmp_path / "data"``, closed after the test."""
    from clipcore.library import Library

    with Library.open(tmp_path / "data") as lib:
        yield lib
