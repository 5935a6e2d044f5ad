"""What the ``clipcore`` command prints about an index run and the library folders."""

from __future__ import annotations

import datetime
import shlex

__all__ = ["print_summary", "print_offline", "when"]


def print_summary(s) -> None:
    """The end-of-run report of a finished (not cancelled) index run."""
    for path, reason in s.offline.items():
        print(f"Offline: {path} ({reason}); its photos are kept and stay searchable. "
              f"'clipcore remove {shlex.quote(path)}' forgets them.")
    if not (s.new or s.restored or s.changed or s.moved or s.removed or s.skipped):
        print(f"Nothing to do: {s.unchanged:,} photos unchanged ({s.seconds:.1f} s).")
    else:
        restored = f"{s.restored:,} restored (not embedded again), " if s.restored else ""
        print(f"Done in {s.seconds:.1f} s ({s.images_per_second:.1f} images/s): {s.new:,} new, "
              f"{restored}{s.changed:,} changed, {s.moved:,} moved, {s.removed:,} removed, "
              f"{s.unchanged:,} unchanged, {s.skipped:,} skipped.")
    for reason, count in sorted(s.skip_reasons.items(), key=lambda kv: -kv[1]):
        print(f"  skipped {count:,}: {reason}")
    if s.skipped:
        print("  ('clipcore info' lists the skipped files.)")
    from .scanner import RAW_BESIDE_JPEG   # (imaging, Pillow: not at `clipcore --help` time)

    ignored = dict(s.ignored)
    pairs = ignored.pop(RAW_BESIDE_JPEG, 0)
    if pairs:
        print(f"{pairs:,} RAW file{'s' * (pairs != 1)} shown through the JPEG beside "
              f"{'them' if pairs != 1 else 'it'} (RAW + JPEG pairs).")
    if ignored:
        kinds = sorted(ignored.items(), key=lambda kv: (-kv[1], kv[0]))
        total = sum(ignored.values())
        print(f"{total:,} other file{'s' * (total != 1)} ignored (not photos): "
              + ", ".join(f"{kind} {count:,}" for kind, count in kinds) + ".")


def print_offline(library) -> None:
    """The offline folders (library folders or drives inside them) with when last seen."""
    for path, v in library.offline_folders().items():
        print(f"  {path}: [offline: {v.offline_reason}; last seen {when(v.last_seen_ns)}]")


def when(ns: int | None) -> str:
    """A wall-clock time (time.time_ns) as local 'YYYY-MM-DD HH:MM', or 'never'."""
    if ns is None:
        return "never"
    return datetime.datetime.fromtimestamp(ns / 1e9).strftime("%Y-%m-%d %H:%M")
