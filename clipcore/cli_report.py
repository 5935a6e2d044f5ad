"""What `clipcore` prints while it works and when an index run ends: the download bar and the
summary (kept apart from the command definitions in :mod:`clipcore.cli`)."""

from __future__ import annotations

import datetime
import shlex
import sys

from .textout import shown

__all__ = ["DownloadBar", "print_summary", "print_offline", "when"]


class DownloadBar:
    """Context manager giving a ``progress`` callback for Encoder.load: a tqdm bar on stderr
    (bytes, MB/s, time left) per file downloaded, closed when the file is complete."""

    def __init__(self):
        self.bar = None

    def __enter__(self):
        return self

    def __call__(self, p) -> None:
        from tqdm import tqdm

        if p.total is not None and p.total < 1_000_000:
            return   # a config file: no bar for a blink
        if self.bar is None:
            size = f" ({p.total / 1e6:,.0f} MB)" if p.total else ""
            print(f"Downloading the weights of {p.what}{size}, once ...", file=sys.stderr)
            self.bar = tqdm(total=p.total, initial=p.done, unit="B", unit_scale=True,
                            unit_divisor=1000, desc=p.filename, file=sys.stderr,
                            dynamic_ncols=True)
        self.bar.update(p.done - self.bar.n)
        if p.finished:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __exit__(self, *exc):
        self.close()


def print_summary(s) -> None:
    """The end-of-run report of a finished (not cancelled) index run."""
    for path, reason in s.offline.items():
        print(f"Offline: {shown(path)} ({shown(reason)}); its photos are kept and stay "
              f"searchable. 'clipcore remove {shown(shlex.quote(path))}' forgets them.")
    if not (s.new or s.restored or s.changed or s.moved or s.removed or s.skipped):
        print(f"Nothing to do: {s.unchanged:,} photos unchanged ({s.seconds:.1f} s).")
    else:
        restored = f"{s.restored:,} restored (not embedded again), " if s.restored else ""
        print(f"Done in {s.seconds:.1f} s ({s.images_per_second:.1f} images/s): {s.new:,} new, "
              f"{restored}{s.changed:,} changed, {s.moved:,} moved, {s.removed:,} removed, "
              f"{s.unchanged:,} unchanged, {s.skipped:,} skipped.")
    for reason, count in sorted(s.skip_reasons.items(), key=lambda kv: -kv[1]):
        print(f"  skipped {count:,}: {shown(reason)}")
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
        print(f"  {shown(path)}: [offline: {shown(v.offline_reason)}; "
              f"last seen {when(v.last_seen_ns)}]")


def when(ns: int | None) -> str:
    """A wall-clock time (time.time_ns) as local 'YYYY-MM-DD HH:MM', or 'never'."""
    if ns is None:
        return "never"
    return datetime.datetime.fromtimestamp(ns / 1e9).strftime("%Y-%m-%d %H:%M")
