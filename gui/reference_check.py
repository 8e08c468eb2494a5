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

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMainWindow, QMenu

SHORTCUT = "Ctrl+Shift+E"
DIALOG_WIDTH = 640  # px: a whole sentence stays visible while it is edited
PROMPTS = {
    "translation": "The translation you expected (it is forced through the model):",
    "captioning": "The caption you expected (it is forced through the model):",
}


class ReferenceCheck(QObject):
    """The menu action, its dialog, and the report the worker sends back.

    A QObject in the GUI thread, so the worker's report arrives as a queued call here.
    """

    def __init__(self, window: QMainWindow, menu: QMenu) -> None:
        super().__init__(window)
        self.window = window
        self.action = QAction("Check a &reference…", window)
        self.action.setIconText("Check reference…")  # the toolbar's shorter label
        self.action.setShortcut(QKeySequence(SHORTCUT))
        tip = "Force the translation you expected and see where the model would differ"
        self.action.setToolTip(f"{tip} ({SHORTCUT})")
        self.action.setStatusTip(tip)
        self.action.triggered.connect(self.ask)
        menu.addAction(self.action)
        self.last_reference = ""
        self.report = None  # the last ReferenceReport
        window.client.worker.referenceChecked.connect(self._on_checked)

    def ask(self) -> None:
        """Ask for the expected output, then check it."""
        summary = self.window.summary
        dialog = QInputDialog(self.window)
        dialog.setWindowTitle("Check a reference")
        dialog.setLabelText(PROMPTS.get(summary.task if summary else "", PROMPTS["translation"]))
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
        self.report = None
        return self.window.requests.check_reference(reference)

    @Slot(object)
    def _on_checked(self, report) -> None:
        self.report = report
        self.window.show_message(report.describe(), "info", keep=True)
