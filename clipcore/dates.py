"""Dates taken: how a photo's date is chosen and how a date range is written and compared.

A photo's date taken is EXIF ``DateTimeOriginal`` (with ``OffsetTimeOriginal`` when present;
:func:`clipcore.imaging.decode_image` reads it from the one decode the indexer does), else the
file's modification time in the computer's time zone, *marked as such* (``source`` "file").
Both are stored as ISO 8601 text whose first 19 characters are the local wall-clock time
("2021-07-04T18:30:05", optionally followed by "+02:00"), so a date range is a plain string
comparison on an indexed column, and "2021" means the year on the photographer's clock.

:class:`DateRange` bounds are inclusive days: ``DateRange(after=2021-01-01,
before=2021-12-31)`` is the whole of 2021.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from .errors import QueryError

__all__ = ["DateRange", "parse_date", "file_date", "year_range", "SOURCE_EXIF", "SOURCE_FILE"]

SOURCE_EXIF = "exif"   # date_taken came from the photo's EXIF
SOURCE_FILE = "file"   # no EXIF date: the file's modification time


def parse_date(text: str | _dt.date | None, what: str = "date") -> _dt.date | None:
    """An ISO date ("2021-07-04"; also "2021-07" = its first day and "2021" = 1 January) ->
    ``datetime.date``; None/"" -> None. Raises QueryError with a one-line message otherwise."""
    if text is None or isinstance(text, _dt.date):
        return text.date() if isinstance(text, _dt.datetime) else text
    raw = str(text).strip()
    if not raw:
        return None
    padded = {4: raw + "-01-01", 7: raw + "-01"}.get(len(raw), raw)
    try:
        return _dt.date.fromisoformat(padded)
    except ValueError:
        raise QueryError(f"'{raw}' is not a date; write it as YYYY-MM-DD, e.g. 2021-07-04, "
                         f"for the {what}.") from None


def file_date(mtime_ns: int) -> str:
    """A file modification time (ns since the epoch) as local ISO 8601 with its UTC offset,
    e.g. "2021-07-04T18:30:05+02:00" (the form EXIF dates with an offset take)."""
    when = _dt.datetime.fromtimestamp(mtime_ns / 1e9).astimezone().replace(microsecond=0)
    return when.isoformat()


@dataclass(frozen=True)
class DateRange:
    """Photos taken on or after ``after`` and on or before ``before`` (inclusive days, local
    wall-clock time; either may be None = open). Raises QueryError when after > before."""

    after: _dt.date | None = None
    before: _dt.date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "after", parse_date(self.after, "start of the date range"))
        object.__setattr__(self, "before", parse_date(self.before, "end of the date range"))
        if self.after and self.before and self.after > self.before:
            raise QueryError(f"The date range starts ({self.after}) after it ends "
                             f"({self.before}); swap the two dates.")

    @property
    def active(self) -> bool:
        return self.after is not None or self.before is not None

    def bounds(self) -> tuple[str | None, str | None]:
        """``[lo, hi)`` ISO strings to compare stored dates with (``lo <= date < hi``)."""
        lo = self.after.isoformat() if self.after else None
        hi = (self.before + _dt.timedelta(days=1)).isoformat() if self.before else None
        return lo, hi

    def contains(self, iso: str | None) -> bool:
        """Whether a stored date (ISO text) falls in the range; an unknown date never does
        unless the range is open on both sides."""
        if not self.active:
            return True
        if not iso:
            return False
        lo, hi = self.bounds()
        return (lo is None or iso >= lo) and (hi is None or iso < hi)

    def label(self) -> str:
        """For people: "2021", "from 2021-03-01", "2021-01-01 – 2021-06-30", ..."""
        a, b = self.after, self.before
        if a and b and a.month == 1 and a.day == 1 and (b.month, b.day) == (12, 31) \
                and a.year == b.year:
            return str(a.year)
        if a and b:
            return f"{a} – {b}"
        return f"from {a}" if a else f"until {b}" if b else "any date"


def year_range(year: int) -> DateRange:
    """1 January to 31 December of ``year``."""
    return DateRange(_dt.date(year, 1, 1), _dt.date(year, 12, 31))
