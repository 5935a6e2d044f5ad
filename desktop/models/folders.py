"""The library panel's model: folders with their counts and state."""

from __future__ import annotations

import datetime
import os

from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt
from PySide6.QtGui import QColor

__all__ = ["FoldersModel", "PathRole", "folder_state"]

PathRole = Qt.ItemDataRole.UserRole + 1


def folder_state(info, indexing: bool, watch=None) -> str:
    """One line for a folder: '1,234 photos · indexed · watching', '320 photos · indexing…',
    '48 of 600 indexed · paused' (the last run was cancelled; a rescan resumes it),
    '1,200 photos · offline: drive not connected, last seen 2026-11-30 14:02'.

    ``info`` is a :class:`clipcore.library.FolderInfo` or None for a folder that the indexer
    has not registered yet; ``watch`` its :class:`clipcore.watch.FolderWatch` or None.
    """
    if info is None:
        return "indexing…" if indexing else "waiting to be indexed"
    if getattr(info, "offline_reason", None):
        count = f"{info.image_count:,} photo{'s' * (info.image_count != 1)}"
        return (f"{count} · offline: drive not connected ({info.offline_reason}), "
                f"last seen {_when(info.last_seen_ns)}")
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
    if watch is not None and watch.mode == "watching":
        parts.append("watching")
    elif watch is not None and watch.mode == "rescanning":
        parts.append(f"rescanning every {max(1, round((watch.interval_s or 60) / 60))} min")
    return " · ".join(parts)


def _when(ns) -> str:
    if not ns:
        return "never"
    return datetime.datetime.fromtimestamp(ns / 1e9).strftime("%Y-%m-%d %H:%M")


class FoldersModel(QAbstractListModel):
    """Rows: library folders (FolderInfo), plus folders added but not yet in the catalog."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._paths: list[str] = []
        self._info: dict[str, object] = {}
        self._indexing: set[str] = set()
        self._watch: dict[str, object] = {}

    def set_folders(self, folders, indexing=()) -> None:
        """``folders``: FolderInfo list from the catalog; ``indexing``: paths being indexed."""
        self.beginResetModel()
        self._info = {f.path: f for f in folders}
        known = set(self._info)
        # a folder inside a library folder (a watch run) shows as its library folder
        self._indexing = {next((k for k in known if p == k or p.startswith(k.rstrip(os.sep)
                                                                          + os.sep)), p)
                          for p in indexing}
        self._paths = sorted(known | self._indexing, key=lambda p: os.path.basename(p).lower())
        self.endResetModel()

    def set_indexing(self, indexing) -> None:
        self.set_folders(list(self._info.values()), indexing)

    def set_watch(self, states) -> None:
        """``states``: {path: clipcore.watch.FolderWatch} from the controller's watch."""
        self._watch = dict(states)
        if self._paths:
            self.dataChanged.emit(self.index(0), self.index(len(self._paths) - 1))

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
            state = folder_state(self._info.get(path), path in self._indexing,
                                 self._watch.get(path))
            return f"{name}\n{state}"
        if role == Qt.ItemDataRole.ToolTipRole:
            info = self._info.get(path)
            if info is not None and getattr(info, "offline_reason", None):
                return (f"{path}\nNot connected: its photos stay searchable. Connect the drive "
                        "to open them, or Remove the folder to forget them.")
            return path
        if role == Qt.ItemDataRole.ForegroundRole:
            info = self._info.get(path)
            if info is not None and getattr(info, "offline_reason", None):
                return QColor(Qt.GlobalColor.gray)
        if role == PathRole:
            return path
        return None
