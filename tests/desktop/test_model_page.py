"""The model as the window shows it: the download page, the page when there is no model (and its
buttons), switching presets on an empty library, and the settings dialog's model and device.

Screenshots of each state go to $CLIPDESK_SHOTS when it is set (to look at as a user would)."""

from __future__ import annotations

import os
import socket
from dataclasses import replace

import pytest

from clipcore.config import ModelSpec
from clipcore.presets import resolve_model_spec
from desktop.settings import AppSettings
from tests.helpers.local_hub import SHAPES_REPO, LocalHub, shapes_repo

MISSING = ModelSpec("ViT-B-32-256", "datacomp_s34b_b86k", device="cpu", preset="default")


def shot(widget, name: str) -> None:
    folder = os.environ.get("CLIPDESK_SHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        widget.grab().save(os.path.join(folder, name + ".png"))


def by_preset(tiny_spec, **specs):
    """resolve_spec for the window: the settings' preset -> a spec (tiny for "tiny")."""
    return lambda settings: specs.get(settings.preset, tiny_spec)


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_switching_preset_on_an_empty_library_loads_it_and_drops_the_missing_page(
        qtbot, launch, tiny_spec, empty_hub_cache):
    window = launch(resolve_spec=by_preset(tiny_spec, default=MISSING))
    qtbot.waitUntil(lambda: window.model_driver.missing, timeout=180_000)
    assert window.pages.currentWidget() is window.model_page
    assert window.model_page.buttons["use_demo"].isVisibleTo(window)
    assert "HF_HUB_OFFLINE" in window.model_page.body.text()
    shot(window, "missing-offline-flag")

    with qtbot.waitSignal(window.controller.model_state, timeout=180_000,
                          check_params_cb=lambda state, _m: state == "ready"):
        window.apply_settings(replace(window.controller.settings, preset="tiny"))
    assert window.pages.currentWidget() is not window.model_page
    assert window.model_label.text().startswith("Model: ")
    assert not window.message_bar.isVisible()      # no "re-indexing" with nothing indexed


def test_the_demo_button_switches_to_the_bundled_shapes_model(qtbot, launch, tiny_spec,
                                                               empty_hub_cache):
    shapes = resolve_model_spec("shapes", device="cpu")
    window = launch(resolve_spec=by_preset(tiny_spec, default=MISSING, shapes=shapes))
    qtbot.waitUntil(lambda: window.model_driver.missing, timeout=180_000)
    with qtbot.waitSignal(window.controller.model_state, timeout=180_000,
                          check_params_cb=lambda state, _m: state == "ready"):
        window.model_page.buttons["use_demo"].click()
    assert window.controller.settings.preset == "shapes"
    assert window.controller.active_spec.preset == "shapes"
    assert "shapes" in window.model_label.text()


@pytest.fixture
def online(empty_hub_cache, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    return lambda url: monkeypatch.setattr(constants, "ENDPOINT", url)


def test_download_page_shows_progress_cancel_and_resume(qtbot, launch, tiny_spec, online):
    hub_spec = resolve_model_spec(f"hf-hub:{SHAPES_REPO}", device="cpu")
    with LocalHub(shapes_repo(), chunk=64 * 1024, pace=0.05) as hub:
        online(hub.url)
        window = launch(resolve_spec=by_preset(tiny_spec, default=hub_spec))
        page = window.model_page
        # the weights file (the repo's small config may come first, with a progress of its own)
        qtbot.waitUntil(lambda: window.model_driver.downloading and page.bar.value() > 0
                        and "of 9.2 MB" in page.detail.text(), timeout=180_000)
        assert window.pages.currentWidget() is page
        assert page.buttons["cancel"].isVisibleTo(window)
        shot(window, "download-in-progress")

        page.buttons["cancel"].click()
        qtbot.waitUntil(lambda: window.model_driver.missing, timeout=30_000)
        assert page.title.text() == "Download paused"
        assert page.buttons["retry"].isVisibleTo(window)
        shot(window, "download-paused")

        hub.pace = 0
        with qtbot.waitSignal(window.controller.model_state, timeout=180_000,
                              check_params_cb=lambda state, _m: state == "ready"):
            page.buttons["retry"].click()
        assert window.pages.currentWidget() is not page
        assert any(rng and rng.startswith("bytes=") for _p, rng in hub.gets())   # resumed


def test_offline_page_says_why_and_what_to_do(qtbot, launch, tiny_spec, online):
    with socket.socket() as sock:   # nobody listens there: like a computer without internet
        sock.bind(("127.0.0.1", 0))
        online(f"http://127.0.0.1:{sock.getsockname()[1]}")
        window = launch(resolve_spec=by_preset(tiny_spec, default=MISSING))
        qtbot.waitUntil(lambda: window.model_driver.missing, timeout=180_000)
    page = window.model_page
    assert "seems to be offline" in page.body.text()
    assert "models--laion--CLIP-ViT-B-32-256x256-DataComp-s34B-b86K" in page.body.text()
    for name in ("retry", "choose_file", "open_folder", "use_demo"):
        assert page.buttons[name].isVisibleTo(window), name
    assert "only knows coloured shapes" in page.body.text()
    assert "--checkpoint" not in page.body.text()     # the app's words, not the CLI's
    shot(window, "missing-offline")


def test_settings_dialog_shows_the_model_in_use_and_an_override(qtbot, tiny_spec, monkeypatch):
    from desktop.widgets.settings_dialog import SettingsDialog

    monkeypatch.setenv("CLIPDESK_MODEL", "shapes")
    dialog = SettingsDialog(AppSettings(), {"default": "the default", "shapes": "demo"},
                            in_use="shapes (shapes-clip.json / shapes-clip.safetensors)",
                            override="shapes", devices={"auto", "cpu"})
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.preset.isEnabled()
    assert "In use: shapes" in dialog.in_use.text()
    assert "CLIPDESK_MODEL=shapes" in dialog.in_use.text()
    cuda = dialog.device.model().item(dialog.device.findText("cuda (not available)"))
    assert cuda is not None and not cuda.isEnabled()
    shot(dialog, "settings-override")


def test_settings_dialog_refuses_a_device_the_computer_lacks(qtbot):
    import torch

    from desktop.widgets.settings_dialog import SettingsDialog

    if torch.cuda.is_available():
        pytest.skip("this computer has CUDA")
    dialog = SettingsDialog(AppSettings(), {"default": ""}, devices=None)   # not known yet
    qtbot.addWidget(dialog)
    dialog.device.setCurrentIndex(dialog.device.findText("cuda"))
    dialog._check_and_accept()
    assert dialog.result() != dialog.DialogCode.Accepted
    assert dialog.refusal.isVisibleTo(dialog)
    assert "not available" in dialog.refusal.text()


def test_every_control_has_a_name_and_a_long_query_does_not_widen_the_window(qtbot, launch):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import (QAbstractButton, QAbstractItemView, QAbstractSlider,
                                   QComboBox, QLineEdit)

    window = launch()
    controls = [w for kind in (QAbstractButton, QLineEdit, QComboBox, QAbstractSlider,
                               QAbstractItemView) for w in window.findChildren(kind)]
    unnamed = [type(w).__name__ for w in controls
               if w.isVisibleTo(window) and w.focusPolicy() != Qt.FocusPolicy.NoFocus
               and not (w.accessibleName() or getattr(w, "text", lambda: "")())]
    assert not unnamed
    skipped = window.library_panel.skipped_link
    assert skipped.focusPolicy() & Qt.FocusPolicy.TabFocus   # reachable with Tab

    width = window.width()
    window.result_info.setText("12 results for “" + "a very long query " * 40 + "”")
    assert window.minimumSizeHint().width() < width
    assert window.result_info.text().startswith("12 results")
