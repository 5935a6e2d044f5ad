"""The settings dialog: model preset, device, number of results, folders to exclude."""

from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QLabel, QListWidget, QPushButton, QSpinBox, QVBoxLayout,
                               QWidget)

from ..settings import DEVICES, AppSettings

__all__ = ["SettingsDialog"]


class SettingsDialog(QDialog):
    """Edits a copy of :class:`AppSettings`; :meth:`result` returns the edited settings.

    ``presets``: {name: note} to offer (the current preset is always offered).
    """

    def __init__(self, settings: AppSettings, presets: dict[str, str], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.preset = QComboBox()
        notes = {**presets, **({} if settings.preset in presets else {settings.preset: ""})}
        self.preset.addItems(list(notes))
        self.preset.setCurrentText(settings.preset)
        self.note = QLabel(wordWrap=True)
        self.note.setMaximumWidth(420)
        self.preset.currentTextChanged.connect(lambda name: self.note.setText(
            notes.get(name, "") + "\nChanging the model re-indexes the library in the "
            "background; search keeps working meanwhile."))
        self.preset.currentTextChanged.emit(settings.preset)
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.device.setCurrentText(settings.device)
        self.result_count = QSpinBox(minimum=1, maximum=10_000, singleStep=50)
        self.result_count.setValue(settings.result_count)
        self.exclude = QListWidget()
        self.exclude.addItems(settings.exclude)
        add = QPushButton("Add…")
        add.clicked.connect(self._add_exclude)
        remove = QPushButton("Remove")
        remove.clicked.connect(lambda: [self.exclude.takeItem(self.exclude.row(i))
                                        for i in self.exclude.selectedItems()])
        exclude_box = QWidget()
        exclude_layout = QVBoxLayout(exclude_box)
        exclude_layout.setContentsMargins(0, 0, 0, 0)
        exclude_layout.addWidget(self.exclude)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        exclude_layout.addLayout(row)

        form = QFormLayout()
        form.addRow("Model", self.preset)
        form.addRow("", self.note)
        form.addRow("Device", self.device)
        form.addRow("Number of results", self.result_count)
        form.addRow("Folders to exclude", exclude_box)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _add_exclude(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder to exclude")
        if path:
            self.exclude.addItem(path)

    def result_settings(self) -> AppSettings:
        return AppSettings(
            preset=self.preset.currentText(),
            device=self.device.currentText(),
            result_count=self.result_count.value(),
            exclude=[self.exclude.item(i).text() for i in range(self.exclude.count())],
        )
