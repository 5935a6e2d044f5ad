"""The desktop's view of clipdesk: the app icon and the freedesktop launcher entry.

The icon is ``resources/icons/clipdesk.svg`` with PNG renderings (16-256 px) beside it, for
window managers and docks that want pixels. ``clipdesk --install-desktop-entry`` writes the
launcher (``resources/clipdesk.desktop``, with ``Exec`` set to this installation's
``clipdesk``) into ``$XDG_DATA_HOME/applications`` (default ``~/.local/share/applications``)
and the icons into the user's hicolor icon theme, as the freedesktop Desktop Entry and Icon
Theme specifications describe; nothing needs root.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from clipcore.config import resources_dir

__all__ = ["ICON_SIZES", "icon_files", "app_icon", "install_desktop_entry", "pictures_folder"]

ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)


def icon_files() -> dict[str, Path]:
    """"scalable" -> the SVG, "NxN" -> each PNG rendering, for the files that exist."""
    folder = resources_dir() / "icons"
    files = {"scalable": folder / "clipdesk.svg"}
    files.update({f"{n}x{n}": folder / f"clipdesk-{n}.png" for n in ICON_SIZES})
    return {size: path for size, path in files.items() if path.is_file()}


def app_icon():
    """The window icon (a QIcon holding every size; Qt picks the one that fits)."""
    from PySide6.QtGui import QIcon

    icon = QIcon()
    for path in icon_files().values():
        icon.addFile(str(path))
    return icon


def _data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def _launcher_command() -> str:
    """How the launcher starts this clipdesk: the ``clipdesk`` script of this installation."""
    script = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "clipdesk" and script.is_file():
        return str(script)
    found = shutil.which("clipdesk") or shutil.which("clipdesk", path=str(Path(sys.executable).parent))
    return found or f"{sys.executable} -m desktop.app"


def install_desktop_entry() -> Path:
    """Write the launcher and the icons for this user; returns the .desktop file's path.
    Raises OSError when the folders cannot be written."""
    data = _data_home()
    for size, path in icon_files().items():
        target = data / "icons" / "hicolor" / size / "apps" / ("clipdesk" + path.suffix)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    entry = (resources_dir() / "clipdesk.desktop").read_text(encoding="utf-8")
    command = _launcher_command()
    quoted = f'"{command}"' if " " in command and not command.endswith("-m desktop.app") else command
    entry = entry.replace("Exec=clipdesk", f"Exec={quoted}", 1)
    target = data / "applications" / "clipdesk.desktop"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(entry, encoding="utf-8")
    return target


def pictures_folder() -> str:
    """Where "Add folder…" starts: the user's Pictures folder (QStandardPaths), else home."""
    from PySide6.QtCore import QStandardPaths

    found = QStandardPaths.standardLocations(QStandardPaths.StandardLocation.PicturesLocation)
    return next((p for p in found if os.path.isdir(p)), os.path.expanduser("~"))
