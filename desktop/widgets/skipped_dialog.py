"""A list of the files that were skipped while indexing, with the reason for each."""

from __future__ import annotations

from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel,
                               QTableWidget, QTableWidgetItem, QVBoxLayout)

__all__ = ["SkippedDialog"]


class SkippedDialog(QDialog):
    """Non-modal table of ``(path, reason)`` rows (from ``Library.skipped()``)."""

    def __init__(self, rows, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Skipped files")
        self.resize(760, 420)
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["File", "Reason"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(
            1, QHeaderView.ResizeMode.ResizeToContents)
        for i, row in enumerate(rows):
            self.table.setItem(i, 0, QTableWidgetItem(row.path))
            self.table.setItem(i, 1, QTableWidgetItem(row.skip_reason or "unknown"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        one = len(rows) == 1
        layout.addWidget(QLabel(f"{len(rows):,} file{'' if one else 's'} could not be indexed. "
                                f"Fix or remove {'it' if one else 'them'}, then rescan (F5)."))
        layout.addWidget(self.table)
        layout.addWidget(buttons)
