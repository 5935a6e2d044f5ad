"""Drives the window's model page: the download in progress, or why there is no model and the
buttons that fix it (try again, a weights file, the weights folder, the demo model)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog

from clipcore.download import DownloadCancelled

from .model_choice import MODEL_ENV
from .widgets.model_page import ModelPage

__all__ = ["ModelPageDriver", "DEMO_PRESET"]

DEMO_PRESET = "shapes"


class ModelPageDriver(QObject):
    """Keeps ``page`` in step with ``window.controller``; ``wanted`` says whether the window
    should show it (a download runs, or the model is missing) instead of its empty states."""

    def __init__(self, window, page: ModelPage):
        super().__init__(window)
        self.window, self.page = window, page
        self.downloading = self.missing = False
        controller = window.controller
        controller.download_progress.connect(self._on_progress)
        controller.model_state.connect(self._on_state)
        page.action.connect(self._on_action)

    @property
    def wanted(self) -> bool:
        return self.downloading or self.missing

    def _on_progress(self, progress) -> None:
        self.downloading = not progress.finished
        if self.downloading:
            self.missing = False
            self.page.show_download(progress)
        self.window._update_page()

    def _on_state(self, state: str, _message: str) -> None:
        err = self.window.controller.model_error
        self.missing = state == "missing" and err is not None
        if state != "loading":
            self.downloading = False
        if self.missing:
            folder = getattr(err, "folder", None)
            self.page.show_missing(getattr(err, "model", "") or _active_label(self.window),
                                   getattr(err, "why", "") or str(err),
                                   str(folder) if folder else "",
                                   cancelled=isinstance(err, DownloadCancelled))

    def _on_action(self, name: str) -> None:
        controller = self.window.controller
        if name == "cancel":
            controller.cancel_download()
        elif name == "retry":
            self.missing = False
            controller.retry_model()
        elif name == "open_folder":
            folder = Path(str(getattr(controller.model_error, "folder", "") or ""))
            folder.parent.mkdir(parents=True, exist_ok=True)
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder if folder.is_dir()
                                                            else folder.parent)))
        elif self._overridden():
            return
        elif name == "choose_file":
            path, _ = QFileDialog.getOpenFileName(
                self.window, "Choose a weights file", "",
                "Weights (*.safetensors *.pt *.pth *.bin);;All files (*)")
            if path:
                self.window.apply_settings(replace(controller.settings, checkpoint=path))
        elif name == "use_demo":
            self.window.apply_settings(replace(controller.settings, preset=DEMO_PRESET,
                                               checkpoint=""))

    def _overridden(self) -> bool:
        value = os.environ.get(MODEL_ENV)
        if value:
            self.window.show_message(f"{MODEL_ENV}={value} sets the model; unset it and start "
                                     "clipdesk again to choose another one.")
        return bool(value)


def _active_label(window) -> str:
    spec = window.controller.active_spec
    return getattr(spec, "full_label", "") if spec is not None else ""
