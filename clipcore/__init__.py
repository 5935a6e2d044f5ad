"""clipcore: the Qt-free engine of clipdesk (find photos by meaning, offline).

The public API is re-exported here. Names are imported on first use (PEP 562 ``__getattr__``),
so ``import clipcore`` stays fast and does not import torch until a model is needed::

    from clipcore import Library, Searcher, index_folders, resolve_model_spec
"""

from __future__ import annotations

import importlib

from .errors import *  # noqa: F403  (small, no heavy imports)
from .errors import __all__ as _error_names

__version__ = "0.1.0"

_EXPORTS = {
    "config": ["ModelSpec", "IndexParams", "resolve_data_dir", "resolve_cache_dir"],
    "presets": ["Preset", "load_presets", "resolve_model_spec", "weights_present"],
    "encoder": ["Encoder", "pick_device"],
    "imaging": ["DecodedImage", "decode_image", "make_thumbnail", "IMAGE_EXTENSIONS"],
    "scanner": ["scan_folder"],
    "library": ["Library", "FolderInfo", "ImageRow", "ImageStatus"],
    "indexer": ["index_folders", "IndexSummary", "ProgressEvent", "Phase"],
    "query": ["Term", "parse_query", "query_vector"],
    "search": ["Searcher", "Hit", "Example"],
    "dates": ["DateRange"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = list(_error_names) + list(_MODULE_OF)


def __getattr__(name: str) -> object:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'clipcore' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
