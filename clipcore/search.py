"""CONTRACT STUB (owned by the search helper)."""
from __future__ import annotations
from dataclasses import dataclass


@dataclass(frozen=True)
class Hit:
    id: int
    path: str
    score: float              # cosine similarity
    date_taken: str | None = None
    width: int | None = None
    height: int | None = None


class Searcher:
    """query -> hits. ``encoder`` is an Encoder or a zero-arg callable returning one (loaded on
    first need, so "find similar" on an indexed photo never loads the model)."""

    def __init__(self, library, encoder, model_identity: str | None = None): ...

    def search(self, text: str | None = None, *, image=None, k: int = 20,
               threshold: float | None = None, folder: str | None = None) -> list["Hit"]:
        """Text query (query language) and/or an image (path, PIL image, bytes); combined."""
        raise NotImplementedError

    def similar(self, target, *, k: int = 20, threshold: float | None = None,
                folder: str | None = None) -> list["Hit"]:
        """target: an image id, or a path (stored vector when indexed, else encoded)."""
        raise NotImplementedError
