"""Creating the QApplication and the main window, and the scripted exits.

Two environment variables script a run without a user (benchmarks, tests):

- ``ATTNSCOPE_EXIT_WHEN_READY=1``: close the window as soon as its
  checkpoint has loaded (or failed to, or none was found): the start-up time.
- ``ATTNSCOPE_QUIT_AFTER_MS=N``: once the checkpoint has loaded, start a
  decode (Run) and close the window N ms later, whatever the worker is doing:
  a shutdown mid-decode must still exit cleanly with code 0.
"""

from __future__ import annotations

import logging
import os
import sys

from PySide6.QtCore import QObject, QSettings, QTimer, Slot
from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)

ORGANISATION = "AttnScope"
APPLICATION = "AttnScope"
READY_VARIABLE = "ATTNSCOPE_EXIT_WHEN_READY"
QUIT_AFTER = "ATTNSCOPE_QUIT_AFTER_MS"


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
    checkpoint: str | None,
    *,
    device: str = "auto",
    settings: QSettings | None = None,
    reserve_cores_for_gui: int | None = None,
):
    """The main window with ``checkpoint`` loading in the worker.

    Without one: the checkpoint of the last session (when it still exists, so
    its decode comes back), else the bundled default. The window can be shown
    at once: the worker imports torch and loads the checkpoint in its thread
    (the window says "Loading…" meanwhile). ``reserve_cores_for_gui``: see
    ``WorkerClient``.
    """
    from attnscope.engine.resources import default_checkpoint
    from attnscope.gui.autosave import last_checkpoint
    from attnscope.gui.main_window import MainWindow

    window = MainWindow(
        settings=settings, device=device, reserve_cores_for_gui=reserve_cores_for_gui
    )
    path = checkpoint or last_checkpoint(window.settings) or default_checkpoint()
    if path is None:
        window.show_message(
            "No bundled checkpoint was found; open one with File > Open.", "warning"
        )
    else:
        window.load_checkpoint(str(path), after_paint=True)
    return window


class ScriptedExit(QObject):
    """Closes the window on the cue the environment gives; lives in the GUI thread."""

    def __init__(self, window, *, when_ready: bool, quit_after_ms: int | None) -> None:
        super().__init__(window)
        self.window = window
        self.when_ready = when_ready
        self.quit_after_ms = quit_after_ms
        window.modelLoaded.connect(self._on_loaded)
        window.client.worker.loadFailed.connect(self._on_load_failed)  # queued: a bound slot
        if not window.statusBar().currentMessage().startswith("Loading"):
            self._on_load_failed("", "nothing to load")

    @Slot(object)
    def _on_loaded(self, _summary) -> None:
        if self.when_ready:
            QTimer.singleShot(0, self.window.close)
        elif self.quit_after_ms is not None:
            self.window.decode_actions.run.setChecked(True)
            self.window.toggle_run()
            log.info("decode started; closing in %d ms (%s)", self.quit_after_ms, QUIT_AFTER)
            QTimer.singleShot(self.quit_after_ms, self.window.close)

    @Slot(str, str)
    def _on_load_failed(self, _path: str, _message: str) -> None:
        QTimer.singleShot(0 if self.when_ready else self.quit_after_ms or 0, self.window.close)


def scripted_exit(window) -> ScriptedExit | None:
    """Install the exit the environment asks for (see the module docstring), if any."""
    when_ready = os.environ.get(READY_VARIABLE) == "1"
    delay = os.environ.get(QUIT_AFTER, "").strip()
    quit_after_ms = int(delay) if delay.isdigit() else None
    if not when_ready and quit_after_ms is None:
        return None
    return ScriptedExit(window, when_ready=when_ready, quit_after_ms=quit_after_ms)
