"""A stand-in for the Hugging Face hub on 127.0.0.1, for testing downloads without internet.

It serves files as hub repos the way huggingface_hub expects (HEAD and GET on
``/ORG/REPO/resolve/REVISION/FILE`` with ``X-Repo-Commit``, ``ETag`` and ``Content-Length``,
``Range`` requests for resuming). Point huggingface_hub at it with ``HF_ENDPOINT=hub.url``.

Modes (``hub.mode``): "ok"; "hang" (accepts the connection, never answers until the hub
stops); "404" / "500" (answers that status); "drop" (a GET sends ``drop_after`` bytes of the
body, then closes the connection: an interrupted download). ``chunk`` bytes are sent per
write, each after ``pace`` seconds (server-side pacing, so a download takes a while).
Every request is recorded in ``hub.requests`` as (method, path, Range header or None).
"""

from __future__ import annotations

import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0" * 40


class LocalHub:
    """``LocalHub({"org/repo": {"file.name": b"bytes"}})``; a context manager (start / stop)."""

    def __init__(self, repos: dict[str, dict[str, bytes]], mode: str = "ok",
                 drop_after: int = 0, chunk: int = 64 * 1024, pace: float = 0.0):
        self.repos, self.mode, self.drop_after = repos, mode, drop_after
        self.chunk, self.pace = chunk, pace
        self.requests: list[tuple[str, str, str | None]] = []
        self.stopping = threading.Event()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):   # quiet
                pass

            def do_HEAD(self):
                hub._serve(self, body=False)

            def do_GET(self):
                hub._serve(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = False
        self.server.block_on_close = True      # server_close() joins every handler thread
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "LocalHub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    def gets(self) -> list[tuple[str, str | None]]:
        """(path, Range) of every GET so far."""
        return [(path, rng) for method, path, rng in self.requests if method == "GET"]

    # -- serving ------------------------------------------------------------------------------
    def _find(self, path: str) -> bytes | None:
        parts = path.split("?", 1)[0].strip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return None
        return self.repos.get("/".join(parts[:2]), {}).get("/".join(parts[4:]))

    def _serve(self, req: BaseHTTPRequestHandler, body: bool) -> None:
        self.requests.append(("GET" if body else "HEAD", req.path, req.headers.get("Range")))
        if self.mode == "hang":
            self.stopping.wait(60)
            return
        if self.mode in ("404", "500"):
            self._status(req, int(self.mode))
            return
        data = self._find(req.path)
        if data is None:
            self._status(req, 404)
            return
        start = 0
        rng = req.headers.get("Range")
        if body and rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0] or 0)
        req.send_response(206 if start else 200)
        req.send_header("X-Repo-Commit", COMMIT)
        req.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
        req.send_header("Accept-Ranges", "bytes")
        req.send_header("Connection", "close")   # no idle keep-alive handler left to join
        req.close_connection = True
        req.send_header("Content-Length", str(len(data) - start))
        if start:
            req.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        req.end_headers()
        if not body:
            return
        end = len(data)
        if self.mode == "drop":
            end = min(end, start + self.drop_after)
        for pos in range(start, end, self.chunk):
            if self.stopping.is_set():
                return
            if self.pace:
                time.sleep(self.pace)   # server-side pacing of the transfer, not a test wait
            try:
                req.wfile.write(data[pos:min(pos + self.chunk, end)])
                req.wfile.flush()
            except OSError:
                return
        if end < len(data):
            req.close_connection = True
            req.connection.shutdown(2)

    @staticmethod
    def _status(req: BaseHTTPRequestHandler, code: int) -> None:
        message = b"not found" if code == 404 else b"server error"
        req.send_response(code)
        req.send_header("Content-Length", str(len(message)))
        req.send_header("Connection", "close")
        req.close_connection = True
        req.end_headers()
        if req.command == "GET":
            req.wfile.write(message)


SHAPES_REPO = "clipdesk/shapes-clip"


def shapes_repo() -> dict[str, dict[str, bytes]]:
    """The bundled shapes model laid out as an open_clip hub repo (config + safetensors), under
    the repo id :data:`SHAPES_REPO`; load it as ``hf-hub:clipdesk/shapes-clip``."""
    import json

    from clipcore.config import resources_dir
    from clipcore.encoder import read_model_config

    models = resources_dir() / "models"
    model_cfg, preprocess_cfg = read_model_config(models / "shapes-clip.json")
    config = {"model_cfg": model_cfg, "preprocess_cfg": preprocess_cfg}
    return {SHAPES_REPO: {
        "open_clip_config.json": json.dumps(config).encode(),
        "open_clip_model.safetensors": (models / "shapes-clip.safetensors").read_bytes(),
    }}
