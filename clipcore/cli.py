"""The ``clipcore`` command: index folders, search them, inspect the library.

Exit codes: 0 success; 1 a user-facing error (one line on stderr, ``clipcore: error: ...``);
2 bad usage (argparse); 130 indexing cancelled with Ctrl+C (what was done is kept).
Results go to stdout; progress, warnings and errors to stderr.
Plain-text output shows file names with control characters escaped (``\\n``, ``\\x1b``, ...)
and ``--json`` gives them exactly; see :mod:`clipcore.textout` for both encodings.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import logging
import os
import shlex
import sys
import threading
import traceback
from collections.abc import Set as AbstractSet
from typing import cast

from .cli_report import DownloadBar, print_summary
from .cli_search import add_search_commands
from .download import DownloadCancelled
from .errors import ClipcoreError, NotIndexedError
from .interrupts import CancelOnSignals
from .textout import SafeFormatter, shown

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


def _positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (argparse prefixes the option: "argument -k: ...")."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, not '{text}'")
    return value


def _similarity(text: str) -> float:
    """argparse type: a cosine similarity, a number in [-1, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not -1.0 <= value <= 1.0:   # (also refuses nan)
        raise argparse.ArgumentTypeError(
            f"must be a cosine similarity between -1 and 1 (e.g. 0.25), not '{text}'")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser. Shared options are accepted before or after the command name."""
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--data-dir", metavar="DIR",
                        help="library data directory (default: $CLIPDESK_DATA_DIR or the "
                             "platform's user data folder)")
    common.add_argument("--model", metavar="NAME",
                        help="a preset name, an open_clip model name, or a model config .json "
                             "(default: the model the library was indexed with, else the "
                             "'default' preset)")
    common.add_argument("--pretrained", metavar="TAG", help="open_clip pretrained tag")
    common.add_argument("--checkpoint", metavar="FILE",
                        help="local weights file (.safetensors, or .pt/.bin loaded weights-only)")
    common.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"],
                        help="where to run the model (default: auto)")
    common.add_argument("--debug", action="store_true",
                        help="show debug logging and tracebacks")

    parser = argparse.ArgumentParser(
        prog="clipcore", parents=[common],
        description="Find photos in your own library by meaning (OpenCLIP + HNSW, offline).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("index", parents=[common],
                       help="add folders and index their photos (no DIR: rescan every library "
                            "folder)")
    p.add_argument("folders", nargs="*", metavar="DIR")
    p.add_argument("--batch-size", type=_positive_int, metavar="N",
                   help="images per model batch (default: chosen for the device)")
    p.set_defaults(run=_cmd_index)

    add_search_commands(sub, common)

    p = sub.add_parser("watch", parents=[common],
                       help="keep folders indexed as photos are added, changed, moved or "
                            "removed, until Ctrl+C")
    p.add_argument("folders", nargs="*", metavar="DIR",
                   help="folders to watch (default: every library folder)")
    p.add_argument("--rescan-minutes", type=float, default=5.0, metavar="M",
                   help="where live events are unavailable (network folders, the system's "
                        "watch limit), rescan every M minutes (default: 5)")
    p.set_defaults(run=_cmd_watch)

    p = sub.add_parser("info", parents=[common],
                       help="data directory, model, device, counts and skipped files")
    p.add_argument("--all", action="store_true",
                   help="list every skipped file (default: a summary and the first 20)")
    p.add_argument("--check", action="store_true",
                   help="also check the catalog file and every stored vector for damage")
    p.set_defaults(run=_cmd_info)
    p = sub.add_parser("models", parents=[common],
                       help="list model presets and whether their weights are present")
    p.set_defaults(run=_cmd_models)
    p = sub.add_parser("repair", parents=[common],
                       help="rebuild a damaged catalog from what can still be read (the "
                            "damaged file is kept aside)")
    p.set_defaults(run=_cmd_repair)
    p = sub.add_parser("remove", parents=[common],
                       help="forget folders (their files on disk are not touched)")
    p.add_argument("folders", nargs="+", metavar="DIR")
    p.set_defaults(run=_cmd_remove)
    from .cli_explore import add_commands

    add_commands(sub, common)   # duplicates, groups, map, tag
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script passes it to sys.exit)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or bad usage (2)
        return int(exc.code or 0)
    if getattr(args, "run", None) is None:
        parser.print_usage(sys.stderr)
        print("clipcore: error: give a command, e.g. 'clipcore index DIR'", file=sys.stderr)
        return EXIT_USAGE
    debug = getattr(args, "debug", False)
    _print_paths_as_bytes()
    handler = _log_to_stderr(debug)
    try:
        code = args.run(args)
        sys.stdout.flush()  # a closed pipe (`| head`) is met here, not in Python's exit flush
        return code
    except DownloadCancelled as exc:
        print(f"clipcore: {exc}", file=sys.stderr)
        return EXIT_CANCELLED
    except ClipcoreError as exc:
        if debug:
            traceback.print_exc()
        print(f"clipcore: error: {shown(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("clipcore: interrupted", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:  # stdout closed early, e.g. `clipcore info | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as exc:  # a bug: still one line unless --debug
        if debug:
            traceback.print_exc()
        print(f"clipcore: error: unexpected {type(exc).__name__}: {shown(exc)} "
              "(run with --debug for details)", file=sys.stderr)
        return EXIT_ERROR
    finally:
        logging.getLogger("clipcore").removeHandler(handler)


def _print_paths_as_bytes() -> None:
    """A file name that is not valid UTF-8 (a surrogate-escaped str, see os.fsdecode) prints as
    its original bytes instead of failing with UnicodeEncodeError on a strict UTF-8 terminal."""
    for stream in (sys.stdout, sys.stderr):
        try:
            cast(io.TextIOWrapper, stream).reconfigure(errors="surrogateescape")
        except (AttributeError, ValueError):  # not a TextIOWrapper (e.g. io.StringIO), or closed
            pass


def _log_to_stderr(debug: bool) -> logging.Handler:
    """Show the engine's warnings (debug: everything) on stderr, one line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter("clipcore: %(levelname)s: %(message)s"))
    logger = logging.getLogger("clipcore")
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    logger.addHandler(handler)
    return handler


# ---------------------------------------------------------------------------- shared helpers

def _open_library(args):
    from .library import Library

    return Library.open(getattr(args, "data_dir", None))


def _model_spec(args, library, *, indexed: bool):
    """The ModelSpec to use: the one named on the command line, else the library's own.

    ``indexed``: the command needs vectors (search/similar), so a library that was never
    indexed is an error; otherwise (index) it falls back to the default preset.
    """
    from .presets import resolve_model_spec

    device = getattr(args, "device", None)
    named = {k: getattr(args, k, None) for k in ("model", "pretrained", "checkpoint")}
    spec = library.model_spec() if not any(named.values()) else None
    if spec is None:
        if indexed and not any(named.values()):
            raise NotIndexedError(
                f"No photos are indexed in {library.data_dir} yet; run 'clipcore index DIR' first.")
        spec = resolve_model_spec(named["model"], named["pretrained"], named["checkpoint"],
                                  device=device or "auto")
    elif device:
        spec = dataclasses.replace(spec, device=device)
    if not spec.has_weights:
        print(
            "clipcore: WARNING: *** the model config {0} has no weights: the model has RANDOM "
            "weights and search results are MEANINGLESS (use it for tests and benchmarks "
            "only) ***".format(shown(spec.name)), file=sys.stderr)
    return spec


def _model_label(spec) -> str:
    """'default (ViT-B-32-256 / datacomp_s34b_b86k)': preset, model and weights, for people."""
    return shown(spec.full_label)


def _folder_args(folders: list[str], known: AbstractSet[str] = frozenset()) -> list[str]:
    """Absolute paths of the folder arguments; each must be a folder, or a library folder
    (``known``) that may be offline right now. Raises ClipcoreError."""
    paths = [os.path.abspath(os.path.expanduser(f)) for f in folders]
    for path in paths:
        if not os.path.isdir(path) and path not in known:
            raise ClipcoreError(f"{path} is not a folder; give the path of a folder of photos.")
    return paths


# ---------------------------------------------------------------------------- commands

def _cmd_index(args) -> int:
    from tqdm import tqdm

    from .indexer import Phase, index_folders

    with _open_library(args) as library:
        folders = _folder_args(args.folders or [], {f.path for f in library.folders()})
        if not folders:
            folders = [f.path for f in library.folders()]
            if not folders:
                raise ClipcoreError(f"The library in {library.data_dir} has no folders yet; give "
                                    "one: clipcore index DIR.")
            print(f"Rescanning {len(folders)} library folder{'s' * (len(folders) != 1)} ...",
                  file=sys.stderr)
        spec = _model_spec(args, library, indexed=False)
        cancel = threading.Event()
        bar = summary = last = None
        stopping = ("clipcore: cancelling after the current batch (Ctrl+C again to stop now) "
                    "...")
        with CancelOnSignals(cancel, message=stopping), DownloadBar() as download:
            events = index_folders(library, folders, spec, cancel=cancel,
                                   batch_size=getattr(args, "batch_size", None),
                                   download=download)
            for event in events:
                if event.phase == Phase.LOAD_MODEL:
                    print(f"Loading model {_model_label(spec)} ...", file=sys.stderr)
                elif event.phase in (Phase.ENCODE, Phase.COMMIT) and event.total:
                    if bar is None:
                        bar = tqdm(total=event.total, unit="img", desc="Indexing",
                                   file=sys.stderr, dynamic_ncols=True)
                    bar.update(event.done - bar.n)
                    last = event
                elif event.phase == Phase.DONE:
                    summary = event.summary
        if bar is not None:
            bar.close()
    assert summary is not None, "an index run ends with its DONE event"
    if summary.cancelled:
        processed = f"after {last.done} of {last.total} images" if last else "during the scan"
        again = ["clipcore", "index", *args.folders]
        for option in ("model", "pretrained", "checkpoint"):
            if getattr(args, option, None):
                again += [f"--{option}", getattr(args, option)]
        print(f"Cancelled {processed} ({summary.seconds:.1f} s); what was indexed is saved. "
              f"Run {shown(shlex.join(again))} again to finish.")
        return EXIT_CANCELLED
    print_summary(summary)
    return EXIT_OK


def _cmd_watch(args) -> int:
    from .live import watch_command

    return watch_command(args, _open_library, _folder_args, _model_spec, _model_label)


def _cmd_info(args) -> int:
    from .cli_info import cmd_info

    return cmd_info(args)


def _cmd_models(args) -> int:
    from .presets import DEFAULT_PRESET, load_presets, resolve_model_spec, weights_present

    presets = load_presets()
    width = max([len(name) for name in presets] + [4]) + 2
    print(f"{'NAME':<{width}} {'WEIGHTS':<8} MODEL / NOTE")
    for name, preset in presets.items():
        present = weights_present(resolve_model_spec(name))
        label = f"{name}{' *' if name == DEFAULT_PRESET else ''}"
        model = preset.model + (f" ({preset.pretrained})" if preset.pretrained else "")
        print(f"{label:<{width}} {'present' if present else 'missing':<8} {model}")
        print(f"{'':<{width}} {'':<8} {preset.note}")
    print("* the default preset. Missing weights are downloaded on first use unless "
          "HF_HUB_OFFLINE=1.")
    return EXIT_OK


def _cmd_repair(args) -> int:
    from .config import resolve_data_dir
    from .repair import repair_catalog

    report = repair_catalog(resolve_data_dir(getattr(args, "data_dir", None)))
    kept, dropped = report.salvage.kept, report.salvage.dropped
    print(f"Repaired the catalog: kept {kept.get('folders', 0):,} folders, "
          f"{kept.get('images', 0):,} photos and {kept.get('vectors', 0) + report.from_index:,} "
          f"vectors ({report.from_index:,} of them from the vector index files); "
          f"{sum(dropped.values()):,} damaged rows dropped. The damaged file is kept as "
          f"{shown(report.aside)}. Run 'clipcore index' to find what was lost again.")
    return EXIT_OK


def _cmd_remove(args) -> int:
    paths = [os.path.abspath(os.path.expanduser(f)) for f in args.folders]
    with _open_library(args) as library:
        known = {f.path for f in library.folders()} | set(library.offline_folders())
        for path in paths:
            if path not in known:
                raise ClipcoreError(
                    f"{path} is not a library folder; 'clipcore info' lists the folders.")
        for path in paths:
            library.remove_folder(path)
            print(f"Removed {shown(path)} from the library (no files on disk were touched).")
    return EXIT_OK
