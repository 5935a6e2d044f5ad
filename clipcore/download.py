"""Fetching model weights from the Hugging Face hub: progress, cancel, resume, and "offline" fast.

What is fetched: for an open_clip pretrained tag, the file its registry names in a hub repo
(``open_clip.get_pretrained_cfg(model, tag)["hf_hub"]``, the ``.safetensors`` twin first, as
open_clip's ``download_pretrained_from_hf`` does); for an ``hf-hub:ORG/REPO`` model, the repo's
``open_clip_config.json`` and its weights (open_clip's hub layout). Files land in the
huggingface_hub cache (``HF_HUB_CACHE``, default ``~/.cache/huggingface/hub``), exactly where
open_clip itself would put them, so a copied cache folder works on another machine.

How: one HEAD request per file with a short timeout (:data:`PROBE_TIMEOUT`,
``huggingface_hub.get_hf_file_metadata``) answers "is the hub reachable, does it have the file,
its size, version (commit) and ETag" before anything else, so a computer without internet knows
within 5 s (instead of the minute of retries of a plain download). Then one streamed GET writes
``blobs/ETAG.incomplete`` in the hub cache, continuing with an HTTP ``Range`` request after the
bytes an earlier, interrupted try left there (huggingface_hub's own download starts over each
time), reports :class:`DownloadProgress` and checks the cancel event as the bytes arrive;
the finished blob gets the cache's ``snapshots/COMMIT/NAME`` link and ``refs/main``, the
layout ``huggingface_hub.try_to_load_from_cache`` and open_clip read.
``HF_ENDPOINT`` (read by huggingface_hub) points all of it at another server (a mirror, or the
tests' local stand-in for the hub). Usage headers are switched off: clipdesk sends nothing but
the file requests (huggingface_hub's side request for them would also delay "offline").
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from .errors import ClipcoreError, WeightsMissingError
from .hubcache import (OFFLINE_WHY, SAFE_WEIGHTS_NAME, WEIGHTS_NAME, cache_folder, hub_weight_names,
                       missing_weights_error)

__all__ = ["PROBE_TIMEOUT", "HubFile", "DownloadProgress", "DownloadCancelled", "hub_files",
           "hub_file", "cached_path", "fetch", "HUB_SCHEMA"]

#: Seconds to wait for the hub's first answer (connect + headers) before calling it offline.
PROBE_TIMEOUT = 4.0
#: Model names of this form are open_clip hub repos (config + weights): ``hf-hub:ORG/REPO``.
HUB_SCHEMA = "hf-hub:"
#: Reports reach the callback at most this often (plus the first and the last).
REPORT_SECONDS = 0.1
#: Seconds without a byte before a running download is called stalled.
READ_TIMEOUT = 10.0

HUB_CONFIG_NAME = "open_clip_config.json"


@dataclass(frozen=True)
class HubFile:
    """One file to fetch: ``repo_id`` ("org/name") and candidate ``filenames``, best first (the
    first one the hub has is fetched)."""

    repo_id: str
    filenames: tuple[str, ...]


@dataclass(frozen=True)
class DownloadProgress:
    """One progress report. ``what``: the model as users name it; ``filename``: the file;
    ``done`` / ``total``: bytes of this file (``total`` None when the server did not say;
    ``done`` includes bytes kept from an earlier, interrupted download); ``rate``: bytes/s over
    this download; ``eta_seconds``: None when unknown; ``finished``: the file is complete."""

    what: str
    filename: str
    done: int
    total: int | None
    rate: float
    eta_seconds: float | None
    finished: bool = False


class DownloadCancelled(ClipcoreError):
    """The user cancelled a download; what was downloaded is kept and the next try resumes."""


def hub_files(spec) -> list[HubFile]:
    """The hub files ``spec`` (a ModelSpec) needs, or [] when it needs none (a local
    checkpoint, a config file, or a tag whose weights are a plain URL, left to open_clip).
    Raises ModelNotFoundError for an unknown model or tag."""
    if spec.checkpoint or spec.is_config_file:
        return []
    if spec.name.startswith(HUB_SCHEMA):
        repo = spec.name[len(HUB_SCHEMA):]
        return [HubFile(repo, (HUB_CONFIG_NAME,)), HubFile(repo, (SAFE_WEIGHTS_NAME, WEIGHTS_NAME))]
    if not spec.pretrained:
        return []
    from .weights import _tag_cfg

    cfg = _tag_cfg(spec.name, spec.pretrained)
    if cfg.get("file") or not cfg.get("hf_hub"):
        return []
    return [hub_file(cfg["hf_hub"])]


def hub_file(hf_hub: str) -> HubFile:
    """The HubFile of an open_clip registry ``hf_hub`` entry ("ORG/REPO/" or "ORG/REPO/NAME")."""
    repo, filename = os.path.split(hf_hub)
    return HubFile(repo, tuple(hub_weight_names(filename)))


def cached_path(file: HubFile) -> Path | None:
    """The file in the local hub cache (first candidate found), or None. Never networks."""
    from huggingface_hub import try_to_load_from_cache

    for name in file.filenames:
        hit = try_to_load_from_cache(file.repo_id, name)
        if isinstance(hit, str) and os.path.isfile(hit):
            return Path(hit)
    return None


def fetch(files: list[HubFile], what: str, *, progress: Callable[[DownloadProgress], None] | None
          = None, cancel=None) -> list[Path]:
    """Make sure every file is in the hub cache, downloading what is missing; returns their
    paths in order. Cached files cost no request at all.

    ``progress(DownloadProgress)`` is called from this thread while a file downloads;
    ``cancel`` (a threading.Event) stops it between chunks with :class:`DownloadCancelled`
    (the partial file is kept and the next fetch resumes it). Raises
    :class:`~clipcore.errors.WeightsMissingError` with ``why`` saying what went wrong (offline,
    no answer within :data:`PROBE_TIMEOUT` s, HTTP status) and ``folder`` where the files go.
    """
    paths = []
    for file in files:
        found = cached_path(file)
        if found is None:
            found = _download(file, what, progress, cancel)
        paths.append(found)
    return paths


def _download(file: HubFile, what: str, progress, cancel) -> Path:
    """Download one file into the hub cache's own layout (``blobs/ETAG``, a
    ``snapshots/COMMIT/NAME`` link to it, ``refs/main``), resuming ``blobs/ETAG.incomplete``."""
    name, meta = _probe(file, what)
    if not (meta.commit_hash and meta.etag):
        raise _failure(file, what, "the hub's answer did not name the file's version")
    repo = cache_folder(file.repo_id)
    blob = repo / "blobs" / meta.etag
    try:
        if not blob.is_file():
            blob.parent.mkdir(parents=True, exist_ok=True)
            part = blob.with_name(meta.etag + ".incomplete")
            _get(meta.location, part, meta.size, DownloadProgress(what, name, 0, meta.size, 0, None),
                 progress, cancel, lambda why: _failure(file, what, why))
            os.replace(part, blob)
        pointer = repo / "snapshots" / meta.commit_hash / name
        pointer.parent.mkdir(parents=True, exist_ok=True)
        if not pointer.exists():
            try:
                pointer.symlink_to(os.path.relpath(blob, pointer.parent))
            except OSError:   # no symlinks (Windows without developer mode): a copy
                shutil.copyfile(blob, pointer)
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / "main").write_text(meta.commit_hash)
    except OSError as exc:
        raise _failure(file, what, f"it cannot be saved in {repo} ({exc.strerror or exc})") from None
    if progress is not None:
        size = blob.stat().st_size
        progress(DownloadProgress(what, name, size, size, 0.0, 0.0, finished=True))
    return pointer


def _get(url: str, part: Path, size: int | None, start: DownloadProgress, progress, cancel,
         failure) -> None:
    """GET ``url`` into ``part``, continuing after the bytes it already holds (HTTP Range)."""
    from huggingface_hub.utils import build_hf_headers, get_session

    done = part.stat().st_size if part.exists() else 0
    if size is not None and done >= size:
        return
    headers = build_hf_headers()
    headers["Accept-Encoding"] = "identity"
    if done:
        headers["Range"] = f"bytes={done}-"
    began, first, last = time.monotonic(), done, 0.0
    try:
        with get_session().stream("GET", url, headers=headers, timeout=READ_TIMEOUT,
                                  follow_redirects=True) as response:
            if response.status_code not in (200, 206):
                raise failure(_describe_status(response.status_code))
            if response.status_code == 200:   # the server ignored the Range: start over
                done = first = 0
            with open(part, "ab" if done else "wb") as fh:
                for chunk in response.iter_bytes():   # as it arrives
                    if cancel is not None and cancel.is_set():
                        raise DownloadCancelled(
                            f"The download of {start.what} was cancelled; what was downloaded "
                            "is kept and the next try resumes it.")
                    fh.write(chunk)
                    done += len(chunk)
                    now = time.monotonic()
                    if progress is not None and (now - last >= REPORT_SECONDS or done == size):
                        last = now
                        rate = (done - first) / (now - began) if now > began else 0.0
                        eta = (size - done) / rate if rate > 0 and size else None
                        progress(dataclasses.replace(start, done=done, rate=rate,
                                                     eta_seconds=eta))
    except (DownloadCancelled, WeightsMissingError):
        raise
    except Exception as exc:  # noqa: BLE001 -- network errors of the HTTP client
        why = _describe(exc)
        if done:
            why = (f"the download broke off after {done / 1e6:,.1f} of {(size or 0) / 1e6:,.1f} "
                   f"MB ({why.split(' (')[0]}; what arrived is kept and the next try resumes)")
        raise failure(why) from None
    if size is not None and done != size:
        raise failure(f"the download stopped after {done / 1e6:,.1f} of {size / 1e6:,.1f} MB "
                      "(kept: the next try resumes)")


def _probe(file: HubFile, what: str):
    """HEAD each candidate until the hub has one: (filename, HfFileMetadata)."""
    from huggingface_hub import constants, get_hf_file_metadata

    constants.HF_HUB_DISABLE_TELEMETRY = True
    missing = []
    for name in file.filenames:
        try:
            url = f"{constants.ENDPOINT.rstrip('/')}/{file.repo_id}/resolve/main/{quote(name)}"
            meta = get_hf_file_metadata(url, timeout=PROBE_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 -- httpx / huggingface_hub errors
            if _status(exc) == 404:
                missing.append(name)
                continue
            raise _failure(file, what, _describe(exc)) from None
        return name, meta
    raise _failure(file, what, f"the hub has no {' or '.join(missing)} in {file.repo_id} "
                               "(HTTP 404)")


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _describe(exc: BaseException) -> str:
    """A short phrase for what went wrong on the network."""
    from huggingface_hub import constants

    host = constants.ENDPOINT.split("://", 1)[-1].rstrip("/")
    status = _status(exc)
    if status is not None:
        return _describe_status(status)
    text = f"{type(exc).__name__} {exc}".lower()
    if "timeout" in text or "timed out" in text:
        return f"{host} did not answer within {PROBE_TIMEOUT:g} s"
    if "offline" in text:
        return OFFLINE_WHY
    return f"{host} cannot be reached (this computer seems to be offline)"


def _describe_status(status: int) -> str:
    from huggingface_hub import constants

    host = constants.ENDPOINT.split("://", 1)[-1].rstrip("/")
    return f"{host} answered HTTP {status}"


def _failure(file: HubFile, what: str, why: str) -> WeightsMissingError:
    return missing_weights_error(what, cache_folder(file.repo_id), why)
