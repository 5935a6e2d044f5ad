"""Searcher: a query (text, image, or an indexed photo) -> hits from a library, best first."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np

from .config import identity_label
from .errors import ClipcoreError, ImageError, NotIndexedError, QueryError
from .query import image_term, parse_query, query_vector

__all__ = ["Hit", "Searcher"]


@dataclass(frozen=True)
class Hit:
    """One result: catalog id, absolute path, cosine similarity in [-1, 1], and what the catalog
    knows about the photo (``date_taken`` ISO 8601 or None; ``width``/``height`` in pixels)."""

    id: int
    path: str
    score: float  # cosine similarity
    date_taken: str | None = None
    width: int | None = None
    height: int | None = None


class Searcher:
    """query -> hits over one library.

    ``encoder`` is an Encoder, a zero-argument callable returning one (called at most once, on
    the first query that needs the model, so "find similar" on an indexed photo never loads it),
    or None to load the library's own model on first need.
    ``model_identity`` picks which stored vectors to search (see ``ModelSpec.identity()``):
    default the given Encoder's identity, else the model the library was indexed with.
    Thread-safe.
    """

    def __init__(self, library, encoder=None, model_identity: str | None = None):
        self.library = library
        if encoder is not None and not callable(getattr(encoder, "encode_texts", None)):
            self._factory, self._encoder = encoder, None
        else:
            self._factory, self._encoder = None, encoder
        self._lock = threading.Lock()
        self._identity = model_identity or getattr(self._encoder, "identity", None)

    @property
    def model_identity(self) -> str:
        """The identity of the model whose vectors are searched.
        Raises NotIndexedError when no model is given and the library has never been indexed."""
        if self._identity is None:
            spec = self.library.model_spec()
            if spec is None:
                raise NotIndexedError(
                    "This library has no photos indexed yet; add a folder first "
                    "(clipcore index DIR)."
                )
            self._identity = spec.identity()
        return self._identity

    def encoder(self):
        """The Encoder, loaded on first call (from the factory, or the library's model spec).
        Raises what ``Encoder.load`` raises (ModelNotFoundError, WeightsMissingError, ...)."""
        with self._lock:
            if self._encoder is None:
                if self._factory is not None:
                    encoder = self._factory()
                else:
                    from .encoder import Encoder

                    self.model_identity  # raises NotIndexedError when there is no model
                    encoder = Encoder.load(self.library.model_spec())
                identity = getattr(encoder, "identity", None)
                if identity and identity != self.model_identity:
                    raise ClipcoreError(
                        f"The model loaded ({identity_label(identity)}) is not the one being "
                        f"searched ({identity_label(self.model_identity)}); search with the "
                        "model the library was "
                        "indexed with."
                    )
                self._encoder = encoder
            return self._encoder

    def search(self, text: str | None = None, *, image=None, k: int = 20,
               threshold: float | None = None, folder: str | None = None) -> list[Hit]:
        """Search by a text query (see :mod:`clipcore.query`) and/or an image (path, PIL image or
        encoded bytes; added with weight 1), combined as one L2-normalised vector.

        Returns at most ``k`` hits, best first, with ``score >= threshold`` when given, inside the
        library folder ``folder`` when given (a library folder or a folder inside one, else
        ClipcoreError before any work). Raises QueryError (empty or bad
        query), NotIndexedError (no vectors for the model), ImageError (unreadable image) and
        the model-loading errors.
        """
        if text is None and image is None:
            raise QueryError("There is nothing to search for; give a query text or an image.")
        terms = parse_query(text) if text and text.strip() or image is None else []
        if image is not None:
            terms.append(image_term(image))
        self._check(k)
        folder = self._library_folder(folder) if folder is not None else None
        return self._nearest(query_vector(terms, self.encoder), k, threshold, folder)

    def similar(self, target, *, k: int = 20, threshold: float | None = None,
                folder: str | None = None) -> list[Hit]:
        """Photos like ``target``: an image id, or a path. An indexed photo's stored vector is
        used (the model is not loaded), so it comes first with score ~1.0; any other image (path,
        PIL image, bytes) is encoded. Filters as in :meth:`search`.
        Raises NotIndexedError for an id with no vector, ImageError for an unreadable image."""
        self._check(k)
        folder = self._library_folder(folder) if folder is not None else None
        vector = self._stored_vector(target)
        if vector is None:
            if isinstance(target, (int, np.integer)):
                raise NotIndexedError(
                    f"Image #{int(target)} has no vector for this model; index its folder again."
                )
            if isinstance(target, (str, os.PathLike)) and os.path.isdir(target):
                raise ImageError("is a folder, not an image; give the path of one photo "
                                 "(to search inside a folder, use --folder)", os.fspath(target))
            if isinstance(target, (str, os.PathLike)) and not os.path.isfile(target):
                raise ImageError("no such file; check the path", os.fspath(target))
            vector = query_vector([image_term(target)], self.encoder)
        return self._nearest(vector, k, threshold, folder)

    def _check(self, k: int) -> None:
        """Raise before any work when k is invalid or there is nothing to search."""
        if k < 1:
            raise QueryError(f"The number of results must be at least 1, not {k}.")
        if not self.library.has_vectors(self.model_identity):
            raise NotIndexedError(
                f"No photos are indexed with the model {identity_label(self.model_identity)}; "
                "index a folder "
                "with it first (clipcore index DIR --model ...), or search with the model the "
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

    def _stored_vector(self, target) -> np.ndarray | None:
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

    def _nearest(self, vector: np.ndarray, k: int, threshold: float | None,
                 folder: str | None) -> list[Hit]:
        pairs = self.library.nearest(vector, self.model_identity, k, folder=folder)
        rows = {row.id: row for row in self.library.images([i for i, _ in pairs])}
        hits = []
        for image_id, score in pairs:
            row = rows.get(image_id)
            if row is None or (threshold is not None and score < threshold):
                continue
            score = min(1.0, max(-1.0, float(score)))     # float rounding can pass 1.0
            hits.append(Hit(row.id, row.path, score, row.date_taken, row.width, row.height))
        return hits
