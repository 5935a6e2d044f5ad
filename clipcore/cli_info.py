"""``clipcore info``: the data directory, model, device, counts, folders and skipped files.

Skipped files are summarised by reason (most frequent first), then the first
:data:`SHOWN_SKIPPED` are listed; ``--all`` lists every one. Reasons that carry a number
("image too large (169 megapixels)", "extreme aspect ratio (60000x1)") are counted together
under their words. Every name is printed with control characters escaped
(:func:`clipcore.textout.shown`).

``--check`` also runs SQLite's ``PRAGMA quick_check`` on the catalog and reads every stored
vector of the library's model (finite, unit norm); damaged vectors are forgotten (their photos
are embedded again by the next index run) and a damaged file exits 1 naming ``clipcore repair``.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from .errors import CatalogDamagedError, ClipcoreError
from .cli_report import print_offline
from .textout import shown

__all__ = ["SHOWN_SKIPPED", "cmd_info", "reason_family"]

SHOWN_SKIPPED = 20

_NUMBERED = re.compile(r" \([^()]*\d[^()]*\)$")


def reason_family(reason: str | None) -> str:
    """A skip reason without a trailing parenthesis that holds a number (the file's own size,
    dimensions, ...), so such reasons are counted together."""
    return _NUMBERED.sub("", reason or "unknown")


def cmd_info(args) -> int:
    """Print the library's state (see the module docstring); returns the exit code."""
    from .cli import EXIT_OK, _model_label, _open_library
    from .encoder import pick_device

    with _open_library(args) as library:
        spec = library.model_spec()
        print(f"Data directory: {shown(library.data_dir)}")
        if spec is None:
            print("Model:          none yet (the first 'clipcore index DIR' sets it)")
        else:
            random_note = "  [results are meaningless]" if not spec.has_weights else ""
            print(f"Model:          {_model_label(spec)}{random_note}")
            try:
                device = str(pick_device(getattr(args, "device", None) or spec.device))
            except ClipcoreError as exc:
                device = f"unavailable ({exc})"
            print(f"Device:         {shown(device)}")
            photos, crops = library.cropped()
            also = (f" (+ {crops:,} crop vector{'s' * (crops != 1)} of {photos:,} wide or tall "
                    f"photo{'s' * (photos != 1)})" if crops else "")
            print(f"Indexed photos: {library.count():,}{also}")
        folders = library.folders()
        print(f"Folders ({len(folders)}):")
        for f in folders:
            left = f", {f.pending:,} not indexed yet" if f.pending else ""
            print(f"  {shown(f.path)}: {f.image_count:,} files, {f.indexed_count:,} indexed, "
                  f"{f.skipped_count:,} skipped{left}")
        waiting = sum(f.pending for f in folders)
        if waiting:
            print(f"{waiting:,} photo{'s' * (waiting != 1)} found by the last run "
                  f"{'are' if waiting != 1 else 'is'} not indexed yet (it was cancelled); run "
                  "'clipcore index' to finish.")
        print_offline(library)
        _print_skipped(library.skipped(), getattr(args, "all", False))
        if getattr(args, "check", False):
            _check(library)
    return EXIT_OK


def _check(library) -> None:
    """The ``--check`` part: raises CatalogDamagedError when SQLite finds the file damaged."""
    problems = library.catalog.quick_check()
    if problems:
        raise CatalogDamagedError(
            f"The catalog {library.catalog.path} is damaged (SQLite's check: "
            f"{shown('; '.join(problems[:3]))}); run 'clipcore repair' to rebuild it from what "
            "can still be read (the damaged file is kept aside).")
    model_id = library.catalog.model_id(library.model_identity() or "")
    damaged = (library.catalog.find_damaged_vectors(model_id) if model_id is not None
               else np.empty(0, np.int64))
    forgotten = library.forget_damaged_vectors()
    if not len(damaged):
        print("Check:          the catalog file is sound; every stored vector is usable")
        return
    what = ("forgotten: 'clipcore index' embeds those photos again" if forgotten else
            "left out of search ('clipcore index' embeds those photos again once the library "
            "can be written)")
    print(f"Check:          the catalog file is sound; {len(damaged):,} stored vector(s) were "
          f"damaged and are {what}")


def _print_skipped(skipped, show_all: bool) -> None:
    print(f"Skipped files ({len(skipped):,}):")
    if not skipped:
        return
    families = Counter(reason_family(row.skip_reason) for row in skipped)
    width = len(f"{max(families.values()):,}")
    for family, count in sorted(families.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {count:>{width},}  {shown(family)}")
    listed = skipped if show_all else skipped[:SHOWN_SKIPPED]
    if len(listed) < len(skipped):
        print(f"  The first {len(listed)} ('clipcore info --all' lists all {len(skipped):,}):")
    for row in listed:
        print(f"  {shown(row.path)}: {shown(row.skip_reason)}")
