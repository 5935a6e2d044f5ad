"""The indexer's per-image steps, each failure confined to its image.

:func:`prepare` runs in a decode thread: stat, decode once (``imaging.decode_image``, thumbnail
from the same decode), the model's preprocess, the content hash. :func:`encode_batch` runs the
encoder over a batch and, if that fails, over each image alone. A problem with one file -- an
ImageError, a decoder or preprocess exception, MemoryError, an image the model fails on, a
vector that is not finite or not of unit norm -- becomes that file's skip reason (a short,
stable phrase the catalog counts); only a model that fails on a plain grey image too stops the
run, since then no photo could be indexed.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from . import imaging, scanner
from .errors import ClipcoreError, ImageError
from .imaging import CHANGED_WHILE_READ
from .vectorcheck import vector_ok

__all__ = ["Prepared", "encode_batch", "encode_crops", "prepare"]

log = logging.getLogger("clipcore.indexer")


@dataclass
class Prepared:
    work: object               # the indexer's planned file (.entry: scanner.FileEntry)
    size: int = 0
    mtime_ns: int = 0
    tensor: Any = None          # the model's input (a torch tensor)
    decoded: object = None
    digest: str | None = None
    perceptual: tuple[int, int] | None = None   # (pHash, dHash) of the decode, duplicates.py
    skip: str | None = None       # reason
    gone: bool = False
    crops: list | None = None     # model inputs of the square crops (clipcore/crops.py)
    crop_vectors: object = None   # (c, D) float32 once encoded (None: no crops)


def prepare(w, encoder, thumbnails, thumb_size: int, crops: bool = True) -> Prepared:
    """Runs in a decode thread: stat, decode once, preprocess, hash; ``crops``: also the
    model inputs of a wide or tall photo's square crops, from the same decode. Any failure
    of this one file (a bad file, or a decoder / preprocess error on it) becomes a skip
    reason; nothing raised here can stop the run."""
    out = Prepared(w)
    path = w.entry.path
    try:
        before = os.stat(path)
        out.size, out.mtime_ns = before.st_size, before.st_mtime_ns
        out.tensor, decoded = _decode_for_model(path, encoder,
                                                thumb_size if thumbnails else None)
        out.digest = scanner.content_hash(path)
        after = os.stat(path)
    except FileNotFoundError:
        out.gone = True
        return out
    except ImageError as exc:
        out.gone = not os.path.lexists(path)
        out.skip = exc.reason
        return out
    except OSError as exc:
        out.skip = (exc.strerror or str(exc)).lower()
        return out
    except MemoryError:
        out.skip = "image too large (out of memory)"
        return out
    except Exception as exc:  # a library bug met on this file: skip it, keep going
        log.warning("Skipped %s: unexpected %s: %s.", path, type(exc).__name__, exc)
        log.debug("The error met on %s:", path, exc_info=True)
        out.skip = f"unexpected error ({type(exc).__name__})"
        return out
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        out.skip = CHANGED_WHILE_READ
        return out
    out.perceptual = _perceptual_hash(decoded.image)
    if crops:
        out.crops = _crop_inputs(decoded, encoder)
    decoded.image = None                 # keep only what the catalog needs
    out.decoded = decoded
    if thumbnails is not None and decoded.thumbnail is not None:
        try:
            thumbnails(path, decoded.thumbnail)
        except Exception:  # a thumbnail cache problem must not stop indexing
            log.warning("Could not store the thumbnail of %s.", path, exc_info=True)
        decoded.thumbnail = None
    return out


def _crop_inputs(decoded, encoder) -> list | None:
    """The crops' model inputs (crops.crop_inputs, chosen on the full-resolution size); None
    when there are none or they fail (the photo is then indexed by its whole image alone)."""
    from .crops import crop_inputs

    try:
        return crop_inputs(decoded.image, encoder, (decoded.width, decoded.height)) or None
    except Exception:  # a crop problem must not cost the photo
        log.debug("No crops for an image.", exc_info=True)
        return None


def encode_crops(encoder, batch: list[Prepared], failures: dict[int, str]) -> None:
    """Encode the crops of the batch's photos (those not in ``failures``) in one call, into
    each one's ``crop_vectors`` (c, D) float32. If that fails, or a photo's crop vectors are
    not usable embeddings, that photo keeps only its whole-image vector."""
    import torch

    from .vectorcheck import bad_rows

    todo = [(p, p.crops) for i, p in enumerate(batch) if p.crops and i not in failures]
    if not todo:
        return
    try:
        vectors = encoder.encode_images(torch.stack([t for _, crops in todo for t in crops]))
    except Exception:
        log.warning("Could not encode the crops of %d wide or tall photos; they are found by "
                    "their whole image only.", len(todo), exc_info=True)
        return
    at = 0
    for p, crops in todo:
        mine = vectors[at:at + len(crops)]
        at += len(crops)
        p.crop_vectors = None if bad_rows(mine).any() else mine
        p.crops = None


def _perceptual_hash(image) -> tuple[int, int] | None:
    """The duplicate finder's (pHash, dHash) from the decode already made; None if it fails."""
    from .duplicates import perceptual_hash

    try:
        return perceptual_hash(image)
    except Exception:  # a hash problem must not stop indexing; duplicates then skip the photo
        log.debug("No perceptual hash for an image.", exc_info=True)
        return None


def _decode_for_model(path: str, encoder, thumb_size: int | None):
    """imaging.decode_for_model; the decode raises only ImageError, so any other exception is
    the model's preprocess failing on this image: the image's ImageError too."""
    try:
        return imaging.decode_for_model(path, encoder, thumb_size)
    except (ImageError, MemoryError):
        raise
    except Exception as exc:
        raise ImageError(f"could not prepare the image for the model ({type(exc).__name__})") \
            from exc


def encode_batch(encoder, batch: list[Prepared]) -> tuple[list, dict[int, str]]:
    """Encode a batch -> (vectors, {position: skip reason}). A batch that fails is retried image
    by image, so one image the model cannot take costs only itself; a vector that is not finite
    or not of unit norm is refused too. When every image of the batch fails alone, a plain grey
    image is tried: if the model fails on that too the problem is the model or the device, not
    the photos, and the error is raised (nothing of this batch is recorded)."""
    import torch

    try:
        vectors = list(encoder.encode_images(torch.stack([p.tensor for p in batch])))
    except Exception:   # (KeyboardInterrupt and the like go through)
        vectors, failures = [], {}
        for i, p in enumerate(batch):
            try:
                vectors.append(encoder.encode_images(p.tensor.unsqueeze(0))[0])
            except Exception as exc:
                vectors.append(None)
                failures[i] = f"the model failed on this image ({type(exc).__name__})"
        if len(failures) == len(batch):
            _probe(encoder)
    else:
        failures = {}
    for i, vec in enumerate(vectors):
        if vec is not None and not vector_ok(vec):
            failures[i] = "the model gave an invalid vector for this image"
    return vectors, failures


def _probe(encoder) -> None:
    """Raise ClipcoreError when the model cannot encode even a plain grey image."""
    from PIL import Image

    try:
        grey = encoder.preprocess(Image.new("RGB", (encoder.image_size,) * 2, (128, 128, 128)))
        encoder.encode_images(grey.unsqueeze(0))
    except Exception as exc:
        raise ClipcoreError(
            f"The model {encoder.spec.preset or encoder.spec.name} fails on every image "
            f"({type(exc).__name__}: {str(exc)[:200]}); what was indexed before is kept. Check "
            "the model and device (try --device cpu).") from exc
