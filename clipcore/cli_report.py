"""What `clipcore` prints while it works and when an index run ends: the download bar and the
summary (kept apart from the command definitions in :mod:`clipcore.cli`)."""

from __future__ import annotations

import sys

from .textout import shown

__all__ = ["DownloadBar", "print_summary"]


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
    if not (s.new or s.changed or s.moved or s.removed or s.skipped):
        print(f"Nothing to do: {s.unchanged:,} photos unchanged ({s.seconds:.1f} s).")
    else:
        print(f"Done in {s.seconds:.1f} s ({s.images_per_second:.1f} images/s): {s.new:,} new, "
              f"{s.changed:,} changed, {s.moved:,} moved, {s.removed:,} removed, "
              f"{s.unchanged:,} unchanged, {s.skipped:,} skipped.")
    for reason, count in sorted(s.skip_reasons.items(), key=lambda kv: -kv[1]):
        print(f"  skipped {count:,}: {shown(reason)}")
    if s.skipped:
        print("  ('clipcore info' lists the skipped files.)")
    if s.ignored:
        kinds = sorted(s.ignored.items(), key=lambda kv: (-kv[1], kv[0]))
        total = sum(s.ignored.values())
        print(f"{total:,} other file{'s' * (total != 1)} ignored (not photos): "
              + ", ".join(f"{kind} {count:,}" for kind, count in kinds) + ".")
