"""Visual groups as a list of cover thumbnails with names and counts (clipcore.group_cache:
clustered once per model, updated as photos are added); opening a group shows its photos,
closest to the group's centre first, in the main window's results grid."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QHBoxLayout, QListView, QListWidget, QListWidgetItem,
                               QPushButton, QVBoxLayout, QWidget)

from .common import ExploreContext, JobBar, Thumbs, hits_for

__all__ = ["GroupsView"]

COVER = 160
GroupRole = Qt.ItemDataRole.UserRole + 1


def _groups(context: ExploreContext, refit: bool, cancel, progress):
    from clipcore.group_cache import library_groups

    groups = library_groups(context.library, context.encoder,
                            model_identity=context.model_identity, refit=refit,
                            cancel=cancel, progress=progress)
    covers = {r.id: r.path for r in context.library.images([g.ids[0] for g in groups])}
    return groups, covers


class GroupsView(QWidget):
    """Signals: ``loaded(int)`` (groups shown), ``opened(str, list[Hit])`` (a group's photos,
    also handed to ``context.show_photos``)."""

    loaded = Signal(int)
    opened = Signal(str, list)

    def __init__(self, context: ExploreContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.groups: list = []
        self.thumbs = Thumbs(context.cache, COVER * 2, self)
        self.thumbs.ready.connect(self._cover)
        self._items: dict[str, QListWidgetItem] = {}
        self._covered: set[str] = set()
        self._placeholder = QPixmap(COVER, COVER)
        self._placeholder.fill(QColor("#e4e4e4"))
        self.refresh_button = QPushButton("Show groups")
        self.regroup_button = QPushButton("Regroup")
        self.regroup_button.setToolTip("Cluster all photos again instead of updating the groups "
                                       "with the photos added since")
        self.job = JobBar()
        self.job.status.setText("Photos that look alike, grouped and named. Double-click a group "
                                "to see its photos.")
        top = QHBoxLayout()
        top.addWidget(self.refresh_button)
        top.addWidget(self.regroup_button)
        top.addWidget(self.job, 1)
        self.list = QListWidget()
        self.list.setAccessibleName("Visual groups")
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setIconSize(QSize(COVER, COVER))
        self.list.setGridSize(QSize(COVER + 24, COVER + 48))
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(True)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.list, 1)
        self.refresh_button.clicked.connect(lambda: self.start())
        self.regroup_button.clicked.connect(lambda: self.start(refit=True))
        self.list.itemActivated.connect(self._open_item)
        self.job.finished.connect(lambda _o: self._buttons(True))

    def _buttons(self, enabled: bool) -> None:
        self.refresh_button.setEnabled(enabled)
        self.regroup_button.setEnabled(enabled)

    def start(self, refit: bool = False) -> None:
        """Read (or make) the groups in a worker; ``refit`` clusters again."""
        context = self.context
        self._buttons(False)
        self.job.run(lambda cancel, progress: _groups(context, refit, cancel, progress),
                     self._show, "Grouping photos…" if refit else "Reading the groups…")

    def _show(self, result) -> None:
        self.groups, covers = result
        self.list.clear()
        self._items, self._covered = {}, set()
        self.thumbs.forget()
        for n, group in enumerate(self.groups):
            count = len(group.ids)
            item = QListWidgetItem(f"{group.name}\n{count:,} photo{'s' * (count != 1)}")
            item.setData(GroupRole, n)
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            item.setIcon(QIcon(self._placeholder))
            path = covers.get(group.ids[0])
            item.setToolTip(f"{group.name}: {count} photos; cover {path}")
            if path:
                self._items[path] = item
                pixmap = self.thumbs.request(path)
                if pixmap is not None:
                    self._cover(path, pixmap)
            self.list.addItem(item)
        self.job.status.setText(f"{len(self.groups)} groups. Double-click one to see its photos."
                                if self.groups else "No photos are indexed yet.")
        self.loaded.emit(len(self.groups))

    def _cover(self, path: str, pixmap) -> None:
        item = self._items.get(path)
        if item is not None:
            side = round(COVER * self.devicePixelRatio())
            item.setIcon(QIcon(pixmap.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation)))
            self._covered.add(path)

    def covers_loaded(self) -> bool:
        """True once every group shows its cover thumbnail (tests, screenshots)."""
        return self._covered >= set(self._items)

    def _open_item(self, item: QListWidgetItem) -> None:
        self.open_group(item.data(GroupRole))

    def open_group(self, index: int) -> None:
        """Show group ``index``'s photos (closest to its centre first) in the results grid."""
        group = self.groups[index]
        library = self.context.library
        label = f"group “{group.name}”"
        self.job.run(lambda cancel, progress: hits_for(library, group.ids, group.closeness or None),
                     lambda hits: self._opened(label, hits), f"Opening {label}…")

    def _opened(self, label: str, hits: list) -> None:
        if self.context.show_photos is not None:
            self.context.show_photos(label, hits)
        self.opened.emit(label, hits)

    def shutdown(self) -> None:
        self.job.wait()
        self.thumbs.shutdown()
