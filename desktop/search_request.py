"""What the window asks the controller to search for: one :class:`SearchRequest`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

__all__ = ["SearchRequest"]


@dataclass
class SearchRequest:
    """One search: text (query language) and/or image (path or encoded bytes), or
    ``similar_to`` (an image id), plus ``examples`` ((target, signed weight) pairs: image ids
    or paths, "more like these" / "less like this"). Filters: ``folder`` (absolute path),
    ``dates`` (a clipcore DateRange), ``threshold`` (sent to clipcore for the date sort, which
    covers every match above it), ``sort`` ("relevance" | "date"). ``offset``: results already
    shown (a further page). ``label`` is what the window shows for it."""

    text: str | None = None
    image: object | None = None
    similar_to: int | None = None
    label: str = ""
    k: int = 200
    examples: list = field(default_factory=list)
    folder: str | None = None
    dates: object | None = None
    threshold: float | None = None
    sort: str = "relevance"
    offset: int = 0

    @property
    def empty(self) -> bool:
        return not (self.text or self.image is not None or self.similar_to is not None
                    or self.examples)

    def next_page(self, shown: int) -> SearchRequest:
        """The same search for the results after the first ``shown``."""
        return dataclasses.replace(self, offset=shown)
