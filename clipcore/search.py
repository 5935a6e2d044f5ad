"""Searcher: a query (text, images, indexed photos as examples for and against) -> hits from a
library, best first or newest first, inside a folder and a date range.

The filters (folder, date range) are applied inside :meth:`AnnCache.nearest`, before the k
nearest are taken, so a filter never returns fewer than k hits while more exist.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, TypeAlias, cast

import numpy as np

from .config import identity_label
from .dates import DateRange
from .errors import ClipcoreError, ImageError, NotIndexedError, QueryError
from .query import image_term, parse_query, query_vector

if TYPE_CHECKING:
    import datetime

    from .imaging import ImageSource
    from .encoder import Encoder
    from .library import Library

__all__ = ["Hit", "Example", "Searcher", "SORT_RELEVANCE", "SORT_DATE"]

NO_MODEL = "This library has no photos indexed yet; add a folder first (clipcore index DIR)."

SORT_RELEVANCE, SORT_DATE = "relevance", "date"
DATE_POOL = 200     # without a threshold, a date sort orders this many best matches


#: An ISO date or a date (clipcore.dates.parse_date), or None.
DateLike: TypeAlias = "str | datetime.date | None"


@dataclass(frozen=True)
class Hit:
    """One result: catalog id, absolute path, cosine similarity in [-1, 1], and what the catalog
    knows about the photo (``date_taken`` ISO 8601 or None, ``date_source`` "exif" or "file"
    (the file's modification time: no EXIF date) or None; ``width``/``height`` in pixels).
    ``offline``: its folder is offline (drive not connected): it cannot be opened now."""

    id: int
    path: str
    score: float  # cosine similarity
    date_taken: str | None = None
    width: int | None = None
    height: int | None = None
    date_source: str | None = None
    offline: bool = False


@dataclass(frozen=True)
class Example:
    """An example photo in a query: ``target`` is an image id (int), a path, a PIL image or
    encoded bytes; ``weight`` is signed (+1 "more like this", -1 "less like this"). An indexed
    photo contributes its stored vector (no model load); anything else is encoded."""

    target: object
    weight: float = 1.0


class Searcher:
    """query -> hits over one library.

    ``encoder_factory``: a zero-argument callable returning the Encoder (called at most once,
    on the first query that needs the model, so "find similar" on an indexed photo never loads
    it), or None to load the library's own model on first need. To search with an Encoder
    already loaded, pass ``lambda: encoder``.
    ``model_identity`` picks which stored vectors to search (see ``ModelSpec.identity()``):
    default the model the library was indexed with.
    Thread-safe.
    """

    def __init__(self, library: Library, encoder_factory: Callable[[], Encoder] | None = None,
                 model_identity: str | None = None):
        self.library = library
        self._factory = encoder_factory
        self._encoder: Encoder | None = None
        self._lock = threading.Lock()
        self._identity = model_identity

    @property
    def model_identity(self) -> str:
        """The identity of the model whose vectors are searched.
        Raises NotIndexedError when no model is given and the library has never been indexed."""
        if self._identity is None:
            spec = self.library.model_spec()
            if spec is None:
                raise NotIndexedError(NO_MODEL)
            self._identity = spec.identity()
        return self._identity

    def encoder(self) -> Encoder:
        """The Encoder, loaded on first call (from the factory, or the library's model spec).
        Raises what ``Encoder.load`` raises (ModelNotFoundError, WeightsMissingError, ...)."""
        with self._lock:
            if self._encoder is None:
                if self._factory is not None:
                    encoder = self._factory()
                else:
                    from .encoder import Encoder

                    _ = self.model_identity  # raises NotIndexedError when there is no model
                    spec = self.library.model_spec()
                    if spec is None:
                        raise NotIndexedError(NO_MODEL)
                    encoder = Encoder.load(spec)
                identity = encoder.identity
                if identity != self.model_identity:
                    raise ClipcoreError(
                        f"The model loaded ({identity_label(identity)}) is not the one being "
                        f"searched ({identity_label(self.model_identity)}); search with the "
                        "model the library was indexed with."
                    )
                self._encoder = encoder
            return self._encoder

    def search(self, text: str | None = None, *, image: ImageSource | None = None,
               examples: Iterable[Example | object] = (), k: int = 20,
               offset: int = 0, threshold: float | None = None, folder: str | None = None,
               dates: DateRange | None = None, after: DateLike = None, before: DateLike = None,
               sort: str = SORT_RELEVANCE) -> list[Hit]:
        """Search by a text query (see :mod:`clipcore.query`), an image (path, PIL image or
        encoded bytes; added with weight 1) and/or ``examples`` (:class:`Example` or bare
        targets, weight 1), combined as ``sum(weight_i * embedding_i)``, L2-normalised.

        Returns at most ``k`` hits after skipping ``offset`` (for loading further pages), with
        ``score >= threshold`` when given, inside the library folder ``folder`` (an absolute
        path, or any folder inside one) and taken within ``dates`` (or ``after``/``before``:
        inclusive ISO dates, see :class:`clipcore.dates.DateRange`) when given; a ``folder``
        that is neither a library folder nor inside one is a ClipcoreError before any work.
        ``sort``: "relevance" (best first) or "date" (newest first, undated last, ties best
        first) over *all* matches above ``threshold`` (without a threshold: the
        :data:`DATE_POOL` best). Raises QueryError (empty or bad query, bad date),
        NotIndexedError (no vectors for the model), ImageError (unreadable image) and the
        model-loading errors.
        """
        if text is None and image is None and not examples:
            raise QueryError("There is nothing to search for; give a query text or an image.")
        dates = _dates(dates, after, before)
        self._check(k, sort)
        folder = self._library_folder(folder) if folder is not None else None
        only, tag_vector = self._tag_scope(text)
        vector = self.query_vector(text, image=image, examples=examples, fallback=tag_vector)
        bounds = dates.bounds() if dates is not None and dates.active else None
        offset = max(0, int(offset))
        if only is not None and not len(only):
            return []
        words = bool(text and text.strip())     # a text query: the wider HNSW beam
        if sort == SORT_DATE:
            return self._by_date(vector, k, offset, threshold, folder, bounds, only, words)
        # straight to the ANN cache: search -> AnnCache.nearest -> HnswIndex.search -> hnswlib
        pairs = self.library.ann.nearest(vector, self.model_identity, k + offset, folder,
                                         only=only, dates=bounds, text=words)[offset:]
        return [h for h in self._rows(pairs) if threshold is None or h.score >= threshold]

    def _tag_scope(self, text: str | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        """What ``tag:`` terms of ``text`` keep (ids, or None for no tag term) and the vector to
        rank by when the query is tags only (see tags.tag_filter)."""
        if not text or "tag:" not in text.lower():
            return None, None
        terms = parse_query(text)
        if not any(t.kind == "tag" for t in terms):
            return None, None
        from .tags import tag_filter

        only, vector = tag_filter(self.library, terms, self.model_identity)
        if vector is None and all(t.kind == "tag" for t in terms):
            raise QueryError("That tag was defined with another model; define it again "
                             "(clipcore tag add) to search it with this one.")
        return only, vector

    def query_vector(self, text: str | None = None, *, image: ImageSource | None = None,
                     examples: Iterable[Example | object] = (),
                     fallback: np.ndarray | None = None) -> np.ndarray:
        """The combined (D,) float32 L2-normalised query vector (see :meth:`search`). The model
        is loaded only when a text or a not-indexed image needs encoding."""
        wanted = bool(text and text.strip()) or (image is None and not examples)
        terms = parse_query(text) if wanted else []
        if image is not None:
            terms.append(image_term(image))
        stored = []
        for example in examples:
            example = example if isinstance(example, Example) else Example(example)
            vector = self._stored_vector(example.target)
            if vector is not None:
                stored.append((float(example.weight), vector))
                continue
            target = example.target
            if isinstance(target, (int, np.integer)):
                raise NotIndexedError(
                    f"Image #{int(target)} has no vector for this model; index its folder again.")
            if isinstance(target, (str, os.PathLike)) and os.path.isdir(target):
                raise ImageError("is a folder, not an image; give the path of one photo "
                                 "(to search inside a folder, use --folder)", os.fspath(target))
            if isinstance(target, (str, os.PathLike)) and not os.path.isfile(target):
                if os.path.lexists(target):     # a FIFO, a device, a broken symlink
                    raise ImageError("not a regular file; give the path of a photo",
                                     os.fspath(target))
                raise ImageError("no such file; check the path", os.fspath(target))
            terms.append(image_term(cast("ImageSource", target), example.weight))
        terms = [t for t in terms if t.kind != "tag"]     # tag terms filter (see _tag_scope)
        if not terms and not stored and fallback is not None:
            return fallback
        return query_vector(terms, stored=stored, encoder_factory=self.encoder)

    def similar(self, target: object, *, k: int = 20, **filters: Any) -> list[Hit]:
        """Photos like ``target``: an image id, or a path. An indexed photo's stored vector is
        used (the model is not loaded), so it comes first with score ~1.0; any other image (path,
        PIL image, bytes) is encoded. Filters as in :meth:`search`.
        Raises NotIndexedError for an id with no vector, ImageError for an unreadable image."""
        return self.search(examples=[Example(target)], k=k, **filters)

    def _check(self, k: int, sort: str = SORT_RELEVANCE) -> None:
        """Raise before any work when k or sort is invalid or there is nothing to search."""
        if k < 1:
            raise QueryError(f"The number of results must be at least 1, not {k}.")
        if sort not in (SORT_RELEVANCE, SORT_DATE):
            raise QueryError(f"Unknown sort order {sort!r}; use 'relevance' or 'date'.")
        if not self.library.has_vectors(self.model_identity):
            raise NotIndexedError(
                f"No photos are indexed with the model {identity_label(self.model_identity)}; "
                "index a folder with it first (clipcore index DIR --model ...), or search with the model the "
                "library was indexed with."
            )

    def _library_folder(self, folder: str) -> str:
        """``folder`` as an absolute path; ClipcoreError when it is neither a library folder nor
        inside one (a filter on it could only ever find nothing)."""
        path = os.path.abspath(os.path.expanduser(folder))
        roots = [f.path for f in self.library.folders()]
        if not any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots):
            raise ClipcoreError(f"{path} is not a library folder (nor inside one), so no result "
                                "can be in it; 'clipcore info' lists the library folders.")
        return path

    def _stored_vector(self, target: object) -> np.ndarray | None:
        if isinstance(target, (int, np.integer)):
            image_id = int(target)
        elif isinstance(target, (str, os.PathLike)):
            row = self.library.find_image(os.path.abspath(os.path.expanduser(os.fspath(target))))
            if row is None:
                return None
            image_id = row.id
        else:
            return None
        return self.library.vector(image_id, self.model_identity)

    def _by_date(self, vector: np.ndarray, k: int, offset: int, threshold: float | None,
                 folder: str | None, bounds: tuple[str | None, str | None] | None,
                 only: np.ndarray | None = None, words: bool = False) -> list[Hit]:
        """Newest first over every match above ``threshold`` (see :meth:`search`)."""
        pairs = self._above(vector, threshold, folder, bounds, only, words)
        hits = self._rows(pairs)      # best first; the stable sort keeps that for equal dates
        hits.sort(key=lambda h: h.date_taken[:19] if h.date_taken else "", reverse=True)
        return hits[offset:offset + k]

    def _above(self, vector: np.ndarray, threshold: float | None, folder: str | None,
               bounds: tuple[str | None, str | None] | None, only: np.ndarray | None = None,
               words: bool = False
               ) -> list[tuple[int, float]]:
        """Every (id, score) with score >= threshold in scope, best first (no threshold: the
        DATE_POOL best): the k nearest with k growing 4x until the last is below it."""
        if threshold is None:
            return self.library.ann.nearest(vector, self.model_identity, DATE_POOL, folder,
                                            only=only, dates=bounds, text=words)
        k = 256
        while True:
            pairs = self.library.ann.nearest(vector, self.model_identity, k, folder,
                                             only=only, dates=bounds, text=words)
            if len(pairs) < k or pairs[-1][1] < threshold:
                return [p for p in pairs if p[1] >= threshold]
            k *= 4

    def _rows(self, pairs: Iterable[tuple[int, float]]) -> list[Hit]:
        rows = {row.id: row for row in self.library.images([i for i, _ in pairs])}
        away = tuple(p.rstrip(os.sep) + os.sep for p in self.library.offline_folders())
        hits = []
        for image_id, score in pairs:
            row = rows.get(image_id)
            if row is None:
                continue
            score = min(1.0, max(-1.0, float(score)))     # float rounding can pass 1.0
            hits.append(Hit(row.id, row.path, score, row.date_taken, row.width, row.height,
                            getattr(row, "date_source", None),
                            bool(away) and row.path.startswith(away)))
        return hits


def _dates(dates: DateRange | None, after: DateLike, before: DateLike) -> DateRange | None:
    if after is not None or before is not None:
        if dates is not None:
            raise QueryError("Give either a date range or after/before dates, not both.")
        dates = DateRange(after, before)  # type: ignore[arg-type]  # ISO strings parsed there
    return dates
