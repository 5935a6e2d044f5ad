"""CONTRACT STUB (owned by the storage helper). A data directory = catalog + ANN caches."""
from __future__ import annotations
from dataclasses import dataclass
import numpy as np
from .config import ModelSpec, IndexParams


@dataclass(frozen=True)
class FolderInfo:
    id: int
    path: str              # absolute
    image_count: int       # images known in this folder (any status)
    indexed_count: int     # images with a vector for the library's current model
    skipped_count: int     # images with a skip reason


@dataclass(frozen=True)
class ImageRow:
    id: int
    path: str
    size: int
    mtime_ns: int
    width: int | None
    height: int | None
    date_taken: str | None     # ISO 8601 or None
    status: str                # "ok" | "skipped" | "deleted" | "pending"
    skip_reason: str | None


class Library:
    """One data directory: ``catalog.sqlite`` (the truth) and ``ann-<model>.hnsw`` caches.

    Thread-safe: search may run in one thread while the indexer writes in another.
    """

    @classmethod
    def open(cls, data_dir=None, params: IndexParams | None = None) -> "Library":
        """Open (creating if needed). Raises CatalogVersionError, CatalogError."""
        raise NotImplementedError

    data_dir: "Path"

    def close(self) -> None: ...
    def __enter__(self): return self
    def __exit__(self, *exc): self.close()

    # folders
    def add_folder(self, path: str) -> FolderInfo: ...
    def remove_folder(self, path: str) -> None:
        """Forget the folder and its images (catalog rows, vectors, ANN entries). Never touches files."""
    def folders(self) -> list[FolderInfo]: ...

    # the model the library is indexed with (persisted; search/similar default to it)
    def model_spec(self) -> ModelSpec | None: ...
    def set_model_spec(self, spec: ModelSpec) -> None: ...

    # reads
    def count(self, model_identity: str | None = None) -> int:
        """Number of images with a vector for that model (default: the library's model)."""
    def images(self, ids) -> list[ImageRow]:
        """Rows for ids, same order, silently dropping ids that are gone/deleted."""
    def find_image(self, path: str) -> ImageRow | None: ...
    def vector(self, image_id: int, model_identity: str) -> np.ndarray | None:
        """(D,) float32, L2-normalised, or None."""
    def skipped(self) -> list[ImageRow]: ...

    def nearest(self, query: np.ndarray, model_identity: str, k: int,
                folder: str | None = None) -> list[tuple[int, float]]:
        """query (D,) float32 L2-normalised -> [(image_id, cosine)] best first; exact search for
        small libraries, HNSW otherwise; never returns deleted images."""
        raise NotImplementedError
