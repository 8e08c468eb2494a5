"""Creating the QApplication and the main window."""

from __future__ import annotations

import logging
import sys

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)

ORGANISATION = "AttnScope"
APPLICATION = "AttnScope"


def get_app(argv: list[str] | None = None) -> QApplication:
    """The process's QApplication, created once, with pyqtgraph set to row-major."""
    import pyqtgraph

    pyqtgraph.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    return app


def create_window(
    checkpoint: str | None, *, device: str = "auto", settings: QSettings | None = None
):
    """The main window with ``checkpoint`` (or the bundled default) loading in the worker."""
    from attnscope.engine.resources import default_checkpoint
    from attnscope.gui.main_window import MainWindow

    window = MainWindow(settings=settings, device=device)
    path = checkpoint or default_checkpoint()
    if path is None:
        window.show_message(
            "No bundled checkpoint was found; open one with File > Open.", "warning"
        )
    else:
        window.load_checkpoint(str(path))
    return window
