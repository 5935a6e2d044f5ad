"""The library panel's model: library folders with their counts and state, and their
sub-folders (a tree; the sub-folders come from the catalog, never from a walk of the disk)."""

from __future__ import annotations

import datetime
import os

from PySide6.QtCore import QAbstractItemModel, QModelIndex, Qt
from PySide6.QtGui import QColor

__all__ = ["FoldersModel", "LibraryFolderRole", "PathRole", "folder_state"]

PathRole = Qt.ItemDataRole.UserRole + 1
LibraryFolderRole = Qt.ItemDataRole.UserRole + 2     # True for a library folder (not a sub-folder)


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


class _Node:
    """A row of the folder tree: a library folder (depth 1) or a sub-folder inside one."""

    __slots__ = ("path", "parent", "row", "children", "count")

    def __init__(self, path: str, parent: "_Node | None", row: int, count: int = 0):
        self.path, self.parent, self.row, self.count = path, parent, row, count
        self.children: list[_Node] = []


def _subtree(top: "_Node", counts: dict) -> None:
    """Hang ``counts`` ({sub-folder path: photos}, every ancestor listed) under ``top``."""
    nodes = {top.path.rstrip(os.sep): top}
    for path in sorted(counts, key=lambda p: (p.count(os.sep), os.path.basename(p).lower())):
        parent = nodes.get(os.path.dirname(path))
        if parent is None:
            continue
        node = _Node(path, parent, len(parent.children), counts[path])
        parent.children.append(node)
        nodes[path] = node


class FoldersModel(QAbstractItemModel):
    """Rows: library folders (FolderInfo), plus folders added but not yet in the catalog (being
    indexed, or queued for the next run); under
    each, its sub-folders that hold photos (from the catalog: :meth:`set_subfolders`)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._paths: list[str] = []
        self._info: dict[str, object] = {}
        self._indexing: set[str] = set()
        self._queued: set[str] = set()
        self._watch: dict[str, object] = {}
        self._subfolders: dict[str, dict[str, int]] = {}
        self._root = _Node("", None, 0)

    def set_folders(self, folders, indexing=()) -> None:
        """``folders``: FolderInfo list from the catalog; ``indexing``: paths being indexed."""
        self._info = {f.path: f for f in folders}
        known = set(self._info)

        def shown(path: str) -> str:
            # a folder inside a library folder (a watch run) shows as its library folder
            return next((k for k in known if path == k
                         or path.startswith(k.rstrip(os.sep) + os.sep)), path)

        self._indexing = {shown(p) for p in indexing}
        self._paths = sorted(known | self._indexing | {shown(p) for p in self._queued},
                             key=lambda p: os.path.basename(p).lower())
        self._rebuild()

    def set_queued(self, queued) -> None:
        """``queued``: folders waiting for the next index run (added while a run goes, or before
        the model is ready); new ones show at once, as "waiting to be indexed"."""
        self._queued = set(queued)
        self.set_folders(list(self._info.values()), self._indexing)

    def set_subfolders(self, subfolders: dict) -> None:
        """``subfolders``: {library folder: {sub-folder path: photos inside}} (Library.subfolders)."""
        self._subfolders = dict(subfolders)
        self._rebuild()

    def _rebuild(self) -> None:
        self.beginResetModel()
        self._root = _Node("", None, 0)
        for row, path in enumerate(self._paths):
            top = _Node(path, self._root, row)
            self._root.children.append(top)
            _subtree(top, self._subfolders.get(path, {}))
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

    # -- QAbstractItemModel --------------------------------------------------------------
    def _node(self, index) -> _Node:
        return index.internalPointer() if index.isValid() else self._root

    def index(self, row: int, column: int = 0, parent=QModelIndex()) -> QModelIndex:
        node = self._node(parent)
        if column != 0 or not 0 <= row < len(node.children):
            return QModelIndex()
        return self.createIndex(row, 0, node.children[row])

    def parent(self, index=QModelIndex()) -> QModelIndex:
        if not index.isValid():
            return QModelIndex()
        up = index.internalPointer().parent
        if up is None or up is self._root:
            return QModelIndex()
        return self.createIndex(up.row, 0, up)

    def rowCount(self, parent=QModelIndex()) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self._node(parent).children)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 1

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        node = index.internalPointer()
        path = node.path
        if node.parent is not self._root:           # a sub-folder
            if role == Qt.ItemDataRole.DisplayRole:
                return f"{os.path.basename(path)}  ·  {node.count:,}"
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"{path}\n{node.count:,} photo{'s' * (node.count != 1)}"
            if role == Qt.ItemDataRole.AccessibleTextRole:
                return f"{os.path.basename(path)}, {node.count} photos"
            return path if role == PathRole else None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            state = folder_state(self._info.get(path), path in self._indexing,
                                 self._watch.get(path))
            if role == Qt.ItemDataRole.DisplayRole:
                return f"{os.path.basename(path.rstrip(os.sep)) or path}\n{state}"
            # the panel is narrow: the row's state line is often cut short, the tooltip has it all
            info = self._info.get(path)
            if info is not None and getattr(info, "offline_reason", None):
                return (f"{path}\n{state}\nNot connected: its photos stay searchable. Connect "
                        "the drive to open them, or Remove the folder to forget them.")
            return f"{path}\n{state}"
        if role == Qt.ItemDataRole.ForegroundRole:
            info = self._info.get(path)
            if info is not None and getattr(info, "offline_reason", None):
                return QColor(Qt.GlobalColor.gray)
        if role == PathRole:
            return path
        if role == LibraryFolderRole:
            return True
        return None
