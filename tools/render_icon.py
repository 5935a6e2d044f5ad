"""Render resources/icons/clipdesk.svg to the PNG sizes beside it (run after editing the SVG):
``QT_QPA_PLATFORM=offscreen python tools/render_icon.py``."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from clipcore.config import resources_dir
from desktop.integration import ICON_SIZES


def main() -> None:
    app = QGuiApplication([])  # noqa: F841 -- QPainter needs one
    folder = resources_dir() / "icons"
    renderer = QSvgRenderer(str(folder / "clipdesk.svg"))
    for n in ICON_SIZES:
        image = QImage(n, n, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        image.save(str(folder / f"clipdesk-{n}.png"))


if __name__ == "__main__":
    main()
