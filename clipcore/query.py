"""The query language: weighted sums of text and image terms.

Grammar (one string)::

    query   := [op] term (op term)*
    op      := "+" | "-"        a + or - standing alone, with whitespace (or the start/end of
                                the query) on both sides: "t-shirt", "-5 degrees" and "C++" stay
                                text; "beach + sunset - people" has three terms
    term    := [weight ":"] body
    weight  := a decimal number, e.g. 2, 0.5, .5, -1   ("2:cat" counts cat twice); a colon
               followed by a digit is not a weight, so "12:30" stays text
    body    := words; double quotes group and are removed: '"rock + roll" - guitar'

A term ``tag:NAME`` is a tag term: it keeps only the photos that have the tag (``- tag:NAME``:
only those that do not), see clipcore/tags.py; the other terms rank what is kept, and a query of
tag terms alone ranks by the tag. ``tag:receipt - tag:screenshot + 2023``.

A term whose body is the path of an existing file with an image extension (``~`` expanded,
relative to the current directory) is an image term; one that looks like such a path (it has a
``/``) but does not exist is a QueryError; everything else is text. The sign of the operator before a
term multiplies its weight: ``- 2:people`` has weight -2.

The combined query vector is ``sum(weight_i * embedding_i)`` over all terms, then L2-normalised
so that scores against the (L2-normalised) image embeddings are cosine similarities. This is how
rclip combines its queries (``Model.compute_features_for_queries`` and ``positive - negative``
in rclip/model.py, github.com/yurijmikhalevich/rclip); rclip ranks by the un-normalised dot
product, which gives the same order.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Literal, cast

import numpy as np

from . import imaging
from .errors import ImageError, QueryError
from .imaging import IMAGE_EXTENSIONS

if TYPE_CHECKING:
    import torch

    from .encoder import Encoder

__all__ = ["Term", "parse_query", "image_term", "query_vector"]

#: What a query term is: words (encoded as text), an image (encoded as a picture) or a tag
#: (a filter on the images the tag holds, see clipcore.tags).
TermKind = Literal["text", "image", "tag"]

_WORD = re.compile(r'"[^"]*"|[^\s"]+(?:"[^"]*"[^\s"]*)*')
_TAG = re.compile(r"^tag:(?P<name>[\w][\w.-]*)$", re.I)
_WEIGHT = re.compile(r"^(?P<w>[+-]?(?:\d+(?:\.\d*)?|\.\d+)):(?!\d)(?P<body>.*)$", re.S)


@dataclass(frozen=True)
class Term:
    """One part of a query.

    ``weight`` is signed (``"- people"`` -> -1.0, ``"2:cat"`` -> 2.0); ``kind`` is ``"text"``,
    ``"image"`` or ``"tag"`` (``value``: the tag name); ``value`` is the text (str) for text terms, and for image terms a path (str),
    a PIL image or the encoded file's bytes.
    """

    weight: float  # signed: "- people" -> -1.0, "2:cat" -> 2.0
    kind: TermKind
    value: object  # str for text; path str / PIL image / bytes for image


def image_term(image: imaging.ImageSource, weight: float = 1.0) -> Term:
    """An image term from a path (str/PathLike), a PIL image or encoded bytes."""
    if isinstance(image, os.PathLike):
        image = os.fspath(image)
    return Term(float(weight), "image", image)


def parse_query(text: str | None) -> list[Term]:
    """Parse ``'2:beach + sunset - people'`` into terms (see the module docstring for the grammar).

    Raises QueryError for an empty query, an operator without a term, a term without text, an
    unclosed quote, or a term that names an image file that does not exist.
    """
    if text is None or not text.strip():
        raise QueryError("The query is empty; type some words, e.g. 'beach at sunset'.")
    if text.count('"') % 2:
        raise QueryError('The query has an unclosed double quote ("); close it or remove it.')

    terms: list[Term] = []
    sign = 1.0  # sign of the term being read
    operator = None  # the last operator not yet followed by a term
    start = end = None  # span in `text` of the term being read
    for match in _WORD.finditer(text):
        word = match.group()
        if word not in ("+", "-"):
            start = match.start() if start is None else start
            end = match.end()
            operator = None
            continue
        if start is None and (terms or operator):
            raise QueryError(
                f"'{operator or word} {word}': put a term between two operators, "
                "as in 'beach + sunset - people'."
            )
        if start is not None:
            terms.append(_make_term(sign, text[start:end]))
            start = None
        sign, operator = (1.0 if word == "+" else -1.0), word
    if start is None:
        raise QueryError(
            f"The query ends with '{operator}'; put a term after it, or quote it to search for it."
        )
    terms.append(_make_term(sign, text[start:end]))
    return terms


def _make_term(sign: float, raw: str) -> Term:
    """One term from its source text: weight prefix, quotes removed, image path or text."""
    weight, body = 1.0, raw
    m = _WEIGHT.match(raw)
    if m:
        weight, body = float(m.group("w")), m.group("body")
    body = body.replace('"', "").strip()
    if not body:
        raise QueryError(f"The term '{raw}' has no words; write some, as in '2:beach'.")
    tag = _TAG.match(body) if '"' not in raw else None
    if tag:
        return Term(sign * weight, "tag", tag.group("name"))
    path = Path(body).expanduser()
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        if path.is_file():
            return Term(sign * weight, "image", str(path.resolve()))
        if os.path.lexists(path):          # a folder, a FIFO, a device, a broken link
            raise QueryError(f"The image file '{body}' is not a regular file; give the path "
                             "of a photo.")
        if os.sep in body or "/" in body or body.startswith("~"):
            raise QueryError(f"The image file '{body}' does not exist; check the path.")
    return Term(sign * weight, "text", body)


def query_vector(terms: list[Term], encoder: Encoder | None = None,
                 stored: Iterable[tuple[float, np.ndarray]] = (), *,
                 encoder_factory: Callable[[], Encoder] | None = None) -> np.ndarray:
    """Embed the terms and combine them: ``sum(weight_i * embedding_i)``, L2-normalised (see the
    module docstring; as in rclip).

    Give ``encoder`` (an Encoder), or ``encoder_factory`` (called once, only after every image
    term has been read, so a bad image fails before a model is loaded, and only when there are
    terms to embed). ``stored``: extra ``(weight, (D,) float32 embedding)`` pairs already
    embedded (an indexed photo's stored vector): they join the sum without any model, so
    "more like these" over indexed photos (weight 1 each) is the mean of their vectors,
    normalised. Image terms are decoded and preprocessed for the encoder's own input size by
    :func:`clipcore.imaging.decode_for_model` (the indexer's function, so an outside copy of an
    indexed photo gets its stored vector) and encoded in one ``encode_images`` batch, text
    terms in one ``encode_texts`` batch. Returns a (D,) float32 L2-normalised vector. Raises
    QueryError when there is nothing to combine or the weighted sum is zero (e.g.
    ``cat - cat``), ImageError when an image term cannot be read, and what
    ``encoder_factory`` raises.
    """
    stored = list(stored)
    if not terms and not stored:
        raise QueryError("The query is empty; type some words or give an image.")
    if encoder is not None and encoder_factory is not None:
        raise TypeError("query_vector takes an encoder or an encoder_factory, not both")
    texts = [t for t in terms if t.kind == "text"]
    images = [t for t in terms if t.kind == "image"]
    if not texts and not images and not stored:
        raise QueryError("The query has only tags; add words or an image to rank by.")
    sources = [imaging.read_image(cast(imaging.ImageSource, t.value)) for t in images]
    embeddings = [np.stack([np.asarray(v, np.float32) for _, v in stored])] if stored else []
    if texts or sources:
        if encoder is None:
            if encoder_factory is None:
                raise TypeError("query_vector needs an encoder (or encoder_factory) for its terms")
            encoder = encoder_factory()
        if texts:
            embeddings.append(encoder.encode_texts([str(t.value) for t in texts]))
        if sources:
            embeddings.append(encoder.encode_images(_model_inputs(images, sources, encoder)))
    weights = np.array([w for w, _ in stored] + [t.weight for t in texts + images],
                       dtype=np.float64)
    total = weights @ np.concatenate(embeddings).astype(np.float64)
    norm = float(np.linalg.norm(total))
    if not np.isfinite(norm) or norm < 1e-6:
        raise QueryError(
            "The query's terms cancel out (their weighted sum is zero); change a weight or a term."
        )
    return (total / norm).astype(np.float32)


def _model_inputs(images: list[Term], sources: list, encoder: Encoder) -> torch.Tensor:
    """(n, 3, S, S) float32 tensor of the image terms, decoded as the indexer decodes them."""
    import torch

    tensors = []
    for term, source in zip(images, sources):
        try:
            tensors.append(imaging.decode_for_model(source, encoder)[0])
        except ImageError as exc:
            where = term.value if isinstance(term.value, str) else None
            raise ImageError(exc.reason, exc.path or where) from exc
    return torch.stack(tensors)
