"""Which model the app uses: the ``$CLIPDESK_MODEL`` override or the settings' preset, and
the short name the window shows for a model."""

from __future__ import annotations

import os

from .settings import AppSettings

__all__ = ["MODEL_ENV", "default_spec_resolver", "spec_label"]

MODEL_ENV = "CLIPDESK_MODEL"


def default_spec_resolver(settings: AppSettings):
    """ModelSpec for the settings: ``$CLIPDESK_MODEL`` (preset, open_clip name or config JSON)
    when set, else the preset chosen in the settings, on the chosen device.

    Raises :class:`~clipcore.errors.ModelNotFoundError` for an unknown preset or model.
    """
    from clipcore.presets import resolve_model_spec

    override = os.environ.get(MODEL_ENV)
    return resolve_model_spec(override or settings.preset, device=settings.device,
                              checkpoint=None if override else settings.checkpoint or None)


def spec_label(spec) -> str:
    """A ModelSpec as the window names it: its preset, else the model name (a config JSON's
    file name)."""
    if getattr(spec, "preset", None):
        return spec.preset
    return os.path.basename(spec.name) if spec.name.endswith(".json") else spec.name
