"""Getting the model for real, against a local stand-in for the Hugging Face hub (127.0.0.1):
progress in order, the file in the cache, nothing fetched twice, resume, and a clear message
within 5 s when the hub is unreachable, hangs, or answers 404 / 500."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from clipcore.config import ModelSpec
from clipcore.download import DownloadCancelled, DownloadProgress, fetch, hub_files
from clipcore.errors import WeightsMissingError
from clipcore.presets import resolve_model_spec, weights_present
from tests.helpers.local_hub import SHAPES_REPO, LocalHub, shapes_repo

SPEC = resolve_model_spec(f"hf-hub:{SHAPES_REPO}", device="cpu")
WEIGHTS = shapes_repo()[SHAPES_REPO]["open_clip_model.safetensors"]
OFFLINE_LIMIT = 5.0   # seconds: the limit for knowing that the hub cannot be reached


@pytest.fixture
def online(tmp_path, monkeypatch):
    """An empty hub cache, downloads allowed; returns a function pointing the hub at a URL."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    return lambda url: monkeypatch.setattr(constants, "ENDPOINT", url)


def _fetch(**kwargs):
    return fetch(hub_files(SPEC), "the shapes demo", **kwargs)


def test_progress_arrives_in_order_and_the_files_land_in_the_cache(online):
    reports: list[DownloadProgress] = []
    with LocalHub(shapes_repo(), chunk=256 * 1024, pace=0.02) as hub:
        online(hub.url)
        config, weights = _fetch(progress=reports.append)
    assert weights.read_bytes() == WEIGHTS and config.name == "open_clip_config.json"
    assert weights_present(SPEC)
    mine = [r for r in reports if r.filename == "open_clip_model.safetensors"]
    assert len(mine) >= 3
    assert [r.done for r in mine] == sorted(r.done for r in mine)
    assert all(r.total == len(WEIGHTS) for r in mine)
    assert mine[-1].finished and mine[-1].done == len(WEIGHTS)
    assert not any(r.finished for r in mine[:-1])
    assert any(r.rate > 0 and r.eta_seconds is not None for r in mine[:-1])


def test_a_second_start_downloads_nothing(online):
    with LocalHub(shapes_repo()) as hub:
        online(hub.url)
        first = _fetch()
        asked = len(hub.requests)
        assert _fetch() == first
        assert len(hub.requests) == asked   # not even a HEAD


def test_a_cancelled_download_resumes_where_it_stopped(online):
    cancel = threading.Event()

    def stop_after_some(report: DownloadProgress) -> None:
        if report.filename.endswith(".safetensors") and report.done > 0:
            cancel.set()

    with LocalHub(shapes_repo(), chunk=64 * 1024, pace=0.01) as hub:
        online(hub.url)
        with pytest.raises(DownloadCancelled, match="resumes"):
            _fetch(progress=stop_after_some, cancel=cancel)
        partial = list(hub_cache_blobs(SPEC, ".incomplete"))
        assert len(partial) == 1 and 0 < partial[0].stat().st_size < len(WEIGHTS)
        kept = partial[0].stat().st_size
        reports: list[DownloadProgress] = []
        _, weights = _fetch(progress=reports.append)
    assert weights.read_bytes() == WEIGHTS
    assert hub.gets()[-1][1] == f"bytes={kept}-"
    assert reports[0].done >= kept   # the bar starts where the last try stopped


def test_a_broken_connection_keeps_what_arrived_and_the_next_try_resumes(online):
    with LocalHub(shapes_repo(), mode="drop", drop_after=300_000) as hub:
        online(hub.url)
        with pytest.raises(WeightsMissingError, match="broke off after 0.3 of 9.2 MB"):
            _fetch()
        hub.mode = "ok"
        _, weights = _fetch()
    assert weights.read_bytes() == WEIGHTS
    assert hub.gets()[-1][1] == "bytes=300000-"


@pytest.mark.parametrize("mode, why", [
    ("hang", "did not answer within 4 s"),
    ("404", "HTTP 404"),
    ("500", "HTTP 500"),
])
def test_a_hub_that_hangs_or_fails_gives_one_clear_message_in_time(online, mode, why):
    with LocalHub(shapes_repo(), mode=mode) as hub:
        online(hub.url)
        began = time.monotonic()
        with pytest.raises(WeightsMissingError) as info:
            _fetch()
        took = time.monotonic() - began
    assert took < OFFLINE_LIMIT, took
    _assert_clear(info.value, why)


def test_no_network_at_all_is_known_within_the_limit(online):
    with socket.socket() as sock:          # a port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        online(f"http://127.0.0.1:{sock.getsockname()[1]}")
        began = time.monotonic()
        with pytest.raises(WeightsMissingError) as info:
            _fetch()
    assert time.monotonic() - began < OFFLINE_LIMIT
    _assert_clear(info.value, "cannot be reached (this computer seems to be offline)")


def test_the_encoder_loads_a_hub_model_after_downloading_it(online):
    from clipcore.encoder import Encoder

    reports = []
    with LocalHub(shapes_repo()) as hub:
        online(hub.url)
        encoder = Encoder.load(SPEC, progress=reports.append)
    assert reports and reports[-1].finished
    local = Encoder.load(resolve_model_spec("shapes", device="cpu"))
    texts = ["a red circle", "a blue square"]
    assert abs(encoder.encode_texts(texts) - local.encode_texts(texts)).max() < 1e-5


def test_a_default_preset_without_internet_says_what_to_do(online):
    """The default preset's real weights (ViT-B-32-256), with the hub unreachable."""
    from clipcore.encoder import Encoder

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        online(f"http://127.0.0.1:{sock.getsockname()[1]}")
        with pytest.raises(WeightsMissingError) as info:
            Encoder.load(resolve_model_spec("default", device="cpu"))
    message = _assert_clear(info.value, "seems to be offline")
    assert message.startswith("The weights of default (ViT-B-32-256 / datacomp_s34b_b86k)")
    assert "models--laion--CLIP-ViT-B-32-256x256-DataComp-s34B-b86K" in message


def _assert_clear(err: WeightsMissingError, why: str) -> str:
    """One complete sentence-block: what, why, and the three ways out; attributes for the app."""
    message = str(err)
    assert why in err.why and why in message
    assert "\n" not in message and message.endswith(".")
    assert "--checkpoint FILE" in message and "--model shapes" in message
    assert str(err.folder.parent) in message and err.folder.name in message
    assert "Traceback" not in message and "error happened" not in message
    return message


def hub_cache_blobs(spec: ModelSpec, suffix: str):
    from huggingface_hub import constants

    from clipcore.hubcache import cache_folder

    del constants  # (the cache folder follows the patched constant)
    return (cache_folder(hub_files(spec)[1].repo_id) / "blobs").glob("*" + suffix)


DEFAULT_REPO = "laion/CLIP-ViT-B-32-256x256-DataComp-s34B-b86K"   # the default preset's hub repo
BEFORE_TORCH = """
import json, sys
from clipcore.errors import WeightsMissingError
from clipcore.presets import fetch_preset_weights, resolve_model_spec
reports, missing = [], None
try:
    fetch_preset_weights(resolve_model_spec("default"), progress=reports.append)
except WeightsMissingError as exc:
    missing = str(exc)
print(json.dumps({"reports": len(reports), "finished": bool(reports) and reports[-1].finished,
                  "missing": missing, "torch": "torch" in sys.modules,
                  "open_clip": "open_clip" in sys.modules}))
"""


def _before_torch(tmp_path, **env) -> dict:
    """Run fetch_preset_weights for the default preset in a fresh interpreter (as the app's
    model loader does first), with an empty hub cache; what it reported, and whether torch or
    open_clip got imported."""
    import json
    import os
    import subprocess
    import sys

    run_env = dict(os.environ, HF_HUB_CACHE=str(tmp_path / "hub"), **env)
    out = subprocess.run([sys.executable, "-c", BEFORE_TORCH], env=run_env, capture_output=True,
                         text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_presets_missing_weights_are_known_before_torch_is_imported(tmp_path, monkeypatch):
    """Offline, first run: the same message the model's loading gives, without the seconds
    that importing torch and open_clip takes."""
    from huggingface_hub import constants

    from clipcore.encoder import Encoder

    got = _before_torch(tmp_path, HF_HUB_OFFLINE="1")
    assert not got["torch"] and not got["open_clip"]
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsMissingError) as loading:
        Encoder.load(resolve_model_spec("default", device="cpu"))
    assert got["missing"] == str(loading.value)
    _assert_clear(loading.value, "HF_HUB_OFFLINE=1")


def test_a_presets_weights_download_before_torch_is_imported(tmp_path):
    """Online, first run: the download (with its progress) starts before torch is imported,
    and the file lands where the model's loading then finds it."""
    weights = b"\x00" * (3 * 1024 * 1024)
    with LocalHub({DEFAULT_REPO: {"open_clip_model.safetensors": weights}}, chunk=256 * 1024) as hub:
        got = _before_torch(tmp_path, HF_HUB_OFFLINE="0", HF_ENDPOINT=hub.url)
        asked = len(hub.requests)
        again = _before_torch(tmp_path, HF_HUB_OFFLINE="0", HF_ENDPOINT=hub.url)
        assert len(hub.requests) == asked            # already there: no request at all
    assert got["missing"] is None and got["reports"] >= 2 and got["finished"]
    assert not got["torch"] and not got["open_clip"]
    assert again["reports"] == 0 and again["missing"] is None
    blobs = list((tmp_path / "hub" / f"models--{DEFAULT_REPO.replace('/', '--')}" / "blobs").iterdir())
    assert [b.read_bytes() == weights for b in blobs] == [True]
