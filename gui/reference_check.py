"""Decode > Check a reference…: "why did the model not say X?"

The user types the translation (or caption) they expected; the worker forces
it through the model token by token (engine/reference.py). The views then
show the reference's own attention, the candidates panel shows at each step
what the model would have said instead, and the message bar sums it up: the
reference's log-probability against the model's own output, and the steps
where the model's first choice differed. Double-clicking one of those
candidates lets the model continue from there.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QInputDialog, QLineEdit, QWidget

from attnscope.gui.decode_requests import DecodeRequests
from attnscope.gui.decode_state import DecodeState
from attnscope.gui.worker_client import WorkerClient

SHORTCUT = "Ctrl+Shift+E"
DIALOG_WIDTH = 640  # px: a whole sentence stays visible while it is edited
PROMPTS = {
    "translation": "The translation you expected (it is forced through the model):",
    "captioning": "The caption you expected (it is forced through the model):",
}


class ReferenceCheck(QObject):
    """The menu action, its dialog, and the report the worker sends back.

    A QObject in the GUI thread, so the worker's report arrives as a queued call here;
    it goes into ``state`` (its ``report``), and ``show_message`` shows it.
    """

    def __init__(
        self,
        state: DecodeState,
        requests: DecodeRequests,
        client: WorkerClient,
        *,
        show_message: Callable[..., None],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.requests = requests
        self.parent_widget = parent
        self._show_message = show_message
        self.action = QAction("Check a &reference…", parent)
        self.action.setIconText("Check reference…")  # the toolbar's shorter label
        self.action.setShortcut(QKeySequence(SHORTCUT))
        tip = "Force the translation you expected and see where the model would differ"
        self.action.setToolTip(f"{tip} ({SHORTCUT})")
        self.action.setStatusTip(tip)
        self.action.triggered.connect(self.ask)
        self.last_reference = ""
        client.worker.referenceChecked.connect(self._on_checked)
        state.reportChanged.connect(self._on_report_changed)

    @property
    def report(self):
        """The last ReferenceReport of the shown decode, else None."""
        return self.state.report

    def ask(self) -> None:
        """Ask for the expected output, then check it."""
        dialog = QInputDialog(self.parent_widget)
        dialog.setWindowTitle("Check a reference")
        dialog.setLabelText(PROMPTS.get(self.state.task or "", PROMPTS["translation"]))
        dialog.setTextEchoMode(QLineEdit.Normal)
        dialog.setTextValue(self.last_reference)
        dialog.resize(DIALOG_WIDTH, dialog.sizeHint().height())  # room for a sentence
        accepted = dialog.exec() == QInputDialog.Accepted
        text = dialog.textValue()
        dialog.deleteLater()
        if accepted:
            self.check(text)

    def check(self, reference: str) -> bool:
        """Send ``reference`` to the worker; False when the request could not be made."""
        self.last_reference = reference
        self.state.set_report(None)
        return self.requests.check_reference(reference)

    @Slot(object)
    def _on_checked(self, report) -> None:
        self.state.set_report(report)

    def _on_report_changed(self, report) -> None:
        if report is not None:
            self._show_message(report.describe(), "info", keep=True)
