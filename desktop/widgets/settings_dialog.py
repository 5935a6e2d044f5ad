"""The settings dialog: model preset, device, number of results, folders to exclude, live
watch (on/off, rescan interval), how long deleted photos' vectors are kept."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog,
                               QFormLayout,
                               QHBoxLayout, QLabel, QListWidget, QPushButton, QSpinBox, QVBoxLayout,
                               QWidget)

from ..settings import DEVICES, AppSettings

__all__ = ["SettingsDialog"]


class SettingsDialog(QDialog):
    """Edits a copy of :class:`AppSettings`; :meth:`result` returns the edited settings.

    ``presets``: {name: note} to offer (the current preset is always offered). ``in_use``: the
    model actually loaded (or loading), as users name it; ``override``: the value of
    ``CLIPDESK_MODEL`` when it overrides the choice (the choice is then disabled);
    ``devices``: the devices this computer has (None: not known yet; checked on OK).
    """

    def __init__(self, settings: AppSettings, presets: dict[str, str], parent=None, *,
                 in_use: str = "", override: str = "", devices: set[str] | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._settings = settings
        self.in_use = QLabel(f"In use: {in_use}" if in_use else "In use: no model loaded yet",
                             wordWrap=True)
        self.in_use.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preset = QComboBox()
        self.preset.setAccessibleName("Model preset")
        notes = {**presets, **({} if settings.preset in presets else {settings.preset: ""})}
        self.preset.addItems(list(notes))
        self.preset.setCurrentText(settings.preset)
        self.note = QLabel(wordWrap=True)
        self.note.setMaximumWidth(420)
        self.preset.currentTextChanged.connect(lambda name: self.note.setText(
            notes.get(name, "") + "\nChanging the model re-indexes the library in the "
            "background; search keeps working meanwhile."))
        self.preset.currentTextChanged.emit(settings.preset)
        if override:   # show what is in use, not the setting it overrides
            if self.preset.findText(override) < 0:
                self.preset.addItem(override)
            self.preset.setCurrentText(override)
            self.preset.setEnabled(False)
            self.preset.setToolTip("Set by the CLIPDESK_MODEL environment variable")
            self.in_use.setText(self.in_use.text() + f"<br><b>CLIPDESK_MODEL={override}</b> "
                                "overrides this choice; unset it to choose here.")
        self.device = QComboBox()
        self.device.setAccessibleName("Device")
        self.device.addItems(DEVICES)
        for i, name in enumerate(DEVICES):
            if devices is not None and name not in devices:
                item = self.device.model().item(i)
                item.setEnabled(False)
                item.setToolTip("This computer does not have it")
                self.device.setItemText(i, f"{name} (not available)")
        self.device.setCurrentIndex(DEVICES.index(settings.device)
                                    if settings.device in DEVICES else 0)
        self.refusal = QLabel(wordWrap=True)
        self.refusal.hide()

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

        self.result_count.setAccessibleName("Number of results")
        self.exclude.setAccessibleName("Folders to exclude")
        add.setAccessibleName("Add a folder to exclude")
        remove.setAccessibleName("Remove the selected excluded folder")
        self.watch = QCheckBox("Index new, changed and removed photos as they happen")
        self.watch.setChecked(settings.watch)
        self.rescan_minutes = QSpinBox(minimum=1, maximum=24 * 60, suffix=" min")
        self.rescan_minutes.setValue(settings.rescan_minutes)
        self.rescan_minutes.setToolTip("For network folders, and when the system refuses more "
                                       "watched folders: look for changes this often")
        self.tombstone_days = QSpinBox(minimum=0, maximum=3650, suffix=" days")
        self.tombstone_days.setValue(settings.tombstone_days)
        self.tombstone_days.setToolTip("A photo deleted and then restored (from the Trash, or a "
                                       "drive plugged in again) within this time is not "
                                       "analysed again")

        form = QFormLayout()
        form.addRow("", self.in_use)
        form.addRow("Model", self.preset)
        form.addRow("", self.note)
        form.addRow("Device", self.device)
        form.addRow("", self.refusal)
        form.addRow("Number of results", self.result_count)
        form.addRow("Folders to exclude", exclude_box)
        form.addRow("Watch folders", self.watch)
        form.addRow("Rescan without live events every", self.rescan_minutes)
        form.addRow("Remember deleted photos for", self.tombstone_days)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._check_and_accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _add_exclude(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder to exclude")
        if path:
            self.exclude.addItem(path)

    def _check_and_accept(self) -> None:
        """Refuse a device this computer does not have, here rather than after every search."""
        device = DEVICES[self.device.currentIndex()]
        if device not in ("auto", "cpu"):
            from clipcore.encoder import pick_device   # imports torch: only for a GPU choice
            from clipcore.errors import ClipcoreError

            try:
                pick_device(device)
            except ClipcoreError as err:
                self.refusal.setText(str(err).split(";")[0] + "; choose auto or cpu.")
                self.refusal.show()
                return
        self.accept()

    def result_settings(self) -> AppSettings:
        preset = self.preset.currentText() if self.preset.isEnabled() else self._settings.preset
        return replace(
            self._settings,
            preset=preset,
            device=DEVICES[self.device.currentIndex()],
            result_count=self.result_count.value(),
            exclude=[self.exclude.item(i).text() for i in range(self.exclude.count())],
            checkpoint=self._settings.checkpoint if preset == self._settings.preset else "",
            watch=self.watch.isChecked(),
            rescan_minutes=self.rescan_minutes.value(),
            tombstone_days=self.tombstone_days.value(),
        )
