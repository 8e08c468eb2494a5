"""File > Translate a file…: every line of a text file through the model worker.

``FileTranslation`` owns the menu action, the status bar's progress bar and
its Cancel button, and shows the worker's progress and outcome; the lines
done before a cancel stay in ``OUT.partial``.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QProgressBar, QToolButton, QWidget

from attnscope.gui.decode_state import DecodeState
from attnscope.gui.worker_client import WorkerClient

TEXT_FILTER = "Text (*.txt *.gz);;All files (*)"


class FileTranslation(QObject):
    """Translating a whole file with the loaded model (the worker does the work).

    state: tells whether a translation model is loaded; client: the worker;
    decode_config: the Decoding panel's settings as a DecodeConfig;
    show_message: tells the user how it went; parent: the dialogs' parent.
    """

    def __init__(
        self,
        state: DecodeState,
        client: WorkerClient,
        *,
        decode_config: Callable[[], object],
        show_message: Callable[[str, str], None],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.client = client
        self.parent_widget = parent
        self._decode_config = decode_config
        self._show_message = show_message
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        self.cancel = QToolButton()
        self.cancel.setText("Cancel")
        self.cancel.setToolTip("Stop the file translation; lines done so far stay in OUT.partial")
        self.cancel.clicked.connect(client.cancel)
        self.cancel.hide()
        tip = "Translate every line of a text file into another file"
        self.action = QAction("&Translate a file…", parent)
        self.action.setShortcut(QKeySequence("Ctrl+Shift+T"))
        self.action.setStatusTip(tip)
        self.action.setToolTip(tip)
        self.action.triggered.connect(self.ask_and_start)
        worker = client.worker  # bound slots: they run in the GUI thread
        worker.batchProgress.connect(self._on_progress)
        worker.batchFinished.connect(self._on_finished)

    def ask_and_start(self) -> None:
        """Ask for the file to translate and where to write it."""
        if self.state.task != "translation":
            self._show_message(
                "Load a translation model first (File > Open or File > Open folder).", "warning"
            )
            return
        parent = self.parent_widget
        src, _ = QFileDialog.getOpenFileName(parent, "Text file to translate", "", TEXT_FILTER)
        if not src:
            return
        out, _ = QFileDialog.getSaveFileName(
            parent, "Save translations as", src + ".translated.txt"
        )
        if out:
            self.start(src, out)

    def start(self, src: str, out: str) -> None:
        """Translate ``src`` line by line into ``out`` with the Decoding panel's settings."""
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel.show()
        self.client.translate_file(src, out, self._decode_config())

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat(f"{done}/{total} lines")

    def _on_finished(self, path: str, complete: bool) -> None:
        self.progress.hide()
        self.cancel.hide()
        if complete:
            self._show_message(f"Translations written to {path}", "info")
        else:
            self._show_message(
                f"Stopped early: the lines done so far are in {path}.partial", "warning"
            )
