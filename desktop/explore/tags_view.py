"""Tags as smart albums: the library's tags with their photo counts (clipcore.tags, kept up to
date after every index run); opening one runs the query ``tag:NAME`` in the main window;
New / Edit open the :class:`~desktop.explore.tag_editor.TagEditor`; Remove deletes the tag
(never a photo)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QHBoxLayout, QListWidget, QListWidgetItem, QMessageBox,
                               QPushButton, QVBoxLayout, QWidget)

from .common import ExploreContext, JobBar
from .tag_editor import TagEditor

__all__ = ["TagsView"]

TagRole = Qt.ItemDataRole.UserRole + 1


class TagsView(QWidget):
    """Signals: ``loaded(int)`` tags listed; ``opened(str)`` the query run for a tag."""

    loaded = Signal(int)
    opened = Signal(str)

    def __init__(self, context: ExploreContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.editor: TagEditor | None = None
        self.list = QListWidget()
        self.list.setAccessibleName("Tags (smart albums)")
        self.new_button = QPushButton("New tag…")
        self.edit_button = QPushButton("Edit…")
        self.remove_button = QPushButton("Remove")
        self.job = JobBar()
        self.job.status.setText("Tags are smart albums: photos get a tag when they match its "
                                "words. Double-click one to see its photos.")
        row = QHBoxLayout()
        for b in (self.new_button, self.edit_button, self.remove_button):
            row.addWidget(b)
        row.addWidget(self.job, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.list, 1)
        self.new_button.clicked.connect(lambda: self.edit(None))
        self.edit_button.clicked.connect(lambda: self.edit(self._current()))
        self.remove_button.clicked.connect(self.remove)
        self.list.itemActivated.connect(lambda item: self.open_tag(item.data(TagRole).name))
        self.list.currentRowChanged.connect(self._enable)
        self._enable()

    def _current(self):
        item = self.list.currentItem()
        return item.data(TagRole) if item is not None else None

    def _enable(self, *_row) -> None:
        for b in (self.edit_button, self.remove_button):
            b.setEnabled(self._current() is not None)

    def refresh(self) -> None:
        """List the tags with their counts (read in a worker)."""
        from clipcore.tags import list_tags

        library = self.context.library
        self.job.run(lambda cancel, progress: list_tags(library), self._show)

    def _show(self, tags) -> None:
        self.list.clear()
        for tag, count in tags:
            item = QListWidgetItem(f"{tag.name}   ·   {count:,} photo{'s' * (count != 1)}   ·   "
                                   f"“{tag.words}”")
            item.setData(TagRole, tag)
            item.setToolTip(f"Search: tag:{tag.name}  (threshold {tag.threshold:g}"
                            + (f", {len(tag.examples)} example photos)" if tag.examples else ")"))
            self.list.addItem(item)
        self.job.status.setText(f"{len(tags)} tag(s). Double-click one to see its photos."
                                if tags else "No tags yet: New tag… defines one by words.")
        self._enable()
        self.loaded.emit(len(tags))

    def open_tag(self, name: str) -> None:
        """Show the tag's photos: the query ``tag:NAME`` in the main window."""
        query = f"tag:{name}"
        if self.context.search is not None:
            self.context.search(query)
        self.opened.emit(query)

    def edit(self, tag) -> TagEditor:
        """Open the tag editor (a new tag when ``tag`` is None); the list refreshes on save."""
        self.editor = TagEditor(self.context, tag, self)
        self.editor.saved.connect(lambda _name, _count: self.refresh())
        self.editor.show()
        return self.editor

    def remove(self) -> None:
        tag = self._current()
        if tag is None:
            return
        answer = QMessageBox.question(self, "Remove tag", f"Remove the tag '{tag.name}'? "
                                      "No photo is touched.")
        if answer != QMessageBox.StandardButton.Yes:
            return
        library = self.context.library

        def delete(cancel, progress):
            with library.writer_lock.hold():
                return library.catalog.delete_tag(tag.name)

        self.job.run(delete, lambda _gone: self.refresh())

    def shutdown(self) -> None:
        if self.editor is not None and self.editor.isVisible():
            self.editor.reject()
        self.job.wait()
