"""The library panel's model: folders with their counts and state."""

from __future__ import annotations

import os

from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt

__all__ = ["FoldersModel", "PathRole", "folder_state"]

PathRole = Qt.ItemDataRole.UserRole + 1


def folder_state(info, indexing: bool) -> str:
    """One line for a folder: '1,234 photos · indexed · 3 skipped', '320 photos · indexing…',
    '48 of 600 indexed · paused' (the last run was cancelled; a rescan resumes it).

    ``info`` is a :class:`clipcore.library.FolderInfo` or None for a folder that the indexer
    has not registered yet.
    """
    if info is None:
        return "indexing…" if indexing else "waiting to be indexed"
    if not info.image_count and not indexing:   # empty, or not scanned yet (no model loaded)
        return "no photos yet"
    pending = getattr(info, "pending", 0)
    if pending and not indexing:   # the last run stopped early: "48 of 600 indexed · paused"
        parts = [f"{info.indexed_count:,} of {info.indexed_count + pending:,} indexed", "paused"]
    else:
        complete = info.indexed_count + info.skipped_count >= info.image_count
        parts = [f"{info.indexed_count:,} photo{'s' * (info.indexed_count != 1)}"]
        parts.append("indexing…" if indexing else "indexed" if complete else "not fully indexed")
    if info.skipped_count:
        parts.append(f"{info.skipped_count:,} skipped")
    return " · ".join(parts)


class FoldersModel(QAbstractListModel):
    """Rows: library folders (FolderInfo), plus folders added but not yet in the catalog."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._paths: list[str] = []
        self._info: dict[str, object] = {}
        self._indexing: set[str] = set()

    def set_folders(self, folders, indexing=()) -> None:
        """``folders``: FolderInfo list from the catalog; ``indexing``: paths being indexed."""
        self.beginResetModel()
        self._info = {f.path: f for f in folders}
        self._indexing = set(indexing)
        known = set(self._info)
        self._paths = sorted(known | self._indexing, key=lambda p: os.path.basename(p).lower())
        self.endResetModel()

    def set_indexing(self, indexing) -> None:
        self.set_folders(list(self._info.values()), indexing)

    @property
    def skipped_total(self) -> int:
        return sum(f.skipped_count for f in self._info.values())

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._paths)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        path = self._paths[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            name = os.path.basename(path.rstrip(os.sep)) or path
            return f"{name}\n{folder_state(self._info.get(path), path in self._indexing)}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return path
        if role == PathRole:
            return path
        return None
