"""Helpers for end-to-end robustness tests: generated photo folders, the `clipcore` command in a
subprocess, and snapshots of a folder tree (to prove nothing in it was touched)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO_ROOT / "tests" / "data" / "tiny-clip.json"

# `python -c` program that runs the CLI; PRELUDE lets a test patch the engine first.
_CLI_PROGRAM = "import sys\n{prelude}\nfrom clipcore.cli import main\nsys.exit(main())\n"


def make_photos(folder: Path, n: int, *, seed: int = 0, size: int = 24, prefix: str = "img") -> list[Path]:
    """Write ``n`` small distinct PNG images (``size`` x ``size`` px, random colour blocks) into
    ``folder`` and return their paths, sorted. Distinct content gives distinct embeddings."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        blocks = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
        pixels = np.kron(blocks, np.ones((size // 4, size // 4, 1), dtype=np.uint8))
        path = folder / f"{prefix}{i:04d}.png"
        Image.fromarray(pixels, "RGB").save(path)
        paths.append(path)
    return paths


def cli_command(args, prelude: str = "") -> list[str]:
    """argv that runs ``clipcore ARGS`` with this interpreter, after running ``prelude`` code."""
    return [sys.executable, "-c", _CLI_PROGRAM.format(prelude=prelude), *map(str, args)]


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a `clipcore` subprocess: offline, its own data dir, few threads."""
    env = dict(os.environ)
    env.update(
        CLIPDESK_DATA_DIR=str(data_dir),
        HF_HUB_OFFLINE="1",
        OMP_NUM_THREADS="1",
        PYTHONPATH=str(REPO_ROOT),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def run_cli(args, data_dir: Path, *, prelude: str = "", cwd: Path | None = None,
            timeout: float = 120, **extra_env: str) -> subprocess.CompletedProcess:
    """Run ``clipcore ARGS`` to completion in a subprocess; returns the CompletedProcess (text)."""
    return subprocess.run(
        cli_command(args, prelude), env=cli_env(data_dir, **extra_env), cwd=cwd or REPO_ROOT,
        capture_output=True, text=True, errors="surrogateescape", timeout=timeout,
    )


def cli(*args) -> tuple[int, str, str]:
    """Run `clipcore ARGS` in this process; returns (exit code, stdout, stderr)."""
    from clipcore.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def cli_captured(capsys, *args) -> tuple[int, str, str]:
    """Run `clipcore ARGS` in this process, its output taken from pytest's ``capsys``:
    (exit code, stdout, stderr)."""
    from clipcore.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(result: tuple[int, str, str], *words: str) -> str:
    """Check an in-process failure, ``result`` = (exit code, stdout, stderr): exit 1, no
    traceback, one `clipcore: error:` line containing each of ``words`` (case-insensitive).
    Returns that line."""
    code, _, err = result
    lines = [line for line in err.splitlines() if line.startswith("clipcore: error:")]
    assert code == 1 and len(lines) == 1 and "Traceback" not in err, err
    assert all(w.lower() in lines[0].lower() for w in words), lines[0]
    return lines[0]


def assert_one_line_error(proc: subprocess.CompletedProcess, *words: str) -> str:
    """Check a user-facing failure: exit 1, no traceback, one `clipcore: error:` line containing
    each of ``words`` (case-insensitive). Returns that line."""
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("clipcore: error:")]
    assert len(errors) == 1, proc.stderr
    for word in words:
        assert word.lower() in errors[0].lower(), errors[0]
    return errors[0]


def tree_state(root: Path) -> dict[str, tuple]:
    """Every entry under ``root`` (itself included) -> (type+mode, size, mtime_ns, ctime_ns).

    ctime changes on any write, rename, chmod or new link, so equal states mean nothing in the
    tree was written, created, renamed or re-permissioned (reads only change atime, not kept).
    Symlinks are not followed.
    """
    state = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [".", *dirnames, *filenames]:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            state[os.path.normpath(path)] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return state
