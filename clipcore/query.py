"""CONTRACT STUB (owned by the search helper): the query language."""
from __future__ import annotations
from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    weight: float      # signed: "- people" -> -1.0, "2:cat" -> 2.0
    kind: str          # "text" | "image"
    value: object      # str for text; path str / PIL image / bytes for image


def parse_query(text: str) -> list[Term]:
    """'2:beach + sunset - people' -> terms. A term that is an existing image file path becomes an
    image term. Raises QueryError on an empty or malformed query."""
    raise NotImplementedError
