"""The app's persisted settings (QSettings): model preset, device, number of results, exclusions.

Tests pass their own ``QSettings(path, QSettings.IniFormat)`` so nothing touches the user's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QSettings

from clipcore.config import APP_NAME

__all__ = ["AppSettings", "DEVICES", "load_settings", "save_settings", "default_qsettings",
           "available_devices"]

DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass
class AppSettings:
    """``preset``: a clipcore preset name; ``device``: one of :data:`DEVICES`;
    ``result_count``: how many hits a search asks for; ``exclude``: folders (absolute paths)
    the indexer skips; ``checkpoint``: a weights file the user chose for the preset ("" none);
    ``watch``: keep library folders up to date while the app runs (clipcore.watch);
    ``rescan_minutes``: where live events are unavailable, rescan this often;
    ``tombstone_days``: keep the vectors of deleted photos this long (clipcore catalog)."""

    preset: str = "default"
    device: str = "auto"
    result_count: int = 200
    exclude: list[str] = field(default_factory=list)
    checkpoint: str = ""
    watch: bool = True
    rescan_minutes: int = 5
    tombstone_days: int = 30


def default_qsettings() -> QSettings:
    """The user's settings store (registry / plist / ini, as the platform does it)."""
    return QSettings(APP_NAME, APP_NAME)


def load_settings(store: QSettings) -> AppSettings:
    """Read settings, falling back to the defaults for anything missing or malformed."""
    default = AppSettings()
    device = str(store.value("model/device", default.device))
    try:
        count = int(store.value("search/result_count", default.result_count))
    except (TypeError, ValueError):
        count = default.result_count
    def number(key: str, fallback: int, lo: int, hi: int) -> int:
        try:
            return max(lo, min(int(store.value(key, fallback)), hi))
        except (TypeError, ValueError):
            return fallback

    exclude = store.value("library/exclude", []) or []
    if isinstance(exclude, str):
        exclude = [exclude]
    return AppSettings(
        preset=str(store.value("model/preset", default.preset)) or default.preset,
        device=device if device in DEVICES else default.device,
        result_count=max(1, min(count, 10_000)),
        exclude=[str(p) for p in exclude],
        checkpoint=str(store.value("model/checkpoint", "") or ""),
        watch=str(store.value("library/watch", default.watch)).lower() not in ("false", "0"),
        rescan_minutes=number("library/rescan_minutes", default.rescan_minutes, 1, 24 * 60),
        tombstone_days=number("library/tombstone_days", default.tombstone_days, 0, 3650),
    )


def save_settings(store: QSettings, settings: AppSettings) -> None:
    store.setValue("model/preset", settings.preset)
    store.setValue("model/device", settings.device)
    store.setValue("search/result_count", settings.result_count)
    store.setValue("library/exclude", list(settings.exclude))
    store.setValue("model/checkpoint", settings.checkpoint)
    store.setValue("library/watch", settings.watch)
    store.setValue("library/rescan_minutes", settings.rescan_minutes)
    store.setValue("library/tombstone_days", settings.tombstone_days)
    store.sync()


def available_devices() -> set[str] | None:
    """The devices of :data:`DEVICES` this computer has, or None while torch is not imported
    yet (importing it takes seconds; the model loader does it in a worker)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return None
    found = {"auto", "cpu"}
    if torch.cuda.is_available():
        found.add("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.add("mps")
    return found
