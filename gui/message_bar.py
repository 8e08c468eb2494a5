"""A non-modal message strip: errors and notices that never block the window."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

STYLES = {
    "error": "background:#fde2e1; color:#6b1b17; border:1px solid #e5a19c;",
    "warning": "background:#fff4d6; color:#5c4400; border:1px solid #e8cf85;",
    "info": "background:#e4f0fb; color:#123c63; border:1px solid #9cc3e5;",
}


class MessageBar(QFrame):
    """Shows one message at a time; info messages hide themselves after a while."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss this message")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.level = ""
        self.hide()

    def show_message(self, text: str, level: str = "error", *, keep: bool = False) -> None:
        """Show ``text``; an info message hides itself after a while unless ``keep``."""
        self.level = level
        self.setStyleSheet(f"MessageBar {{{STYLES[level]}}} QLabel {{border:none;}}")
        self.label.setText(text)
        self.show()
        self._timer.stop()
        if level == "info" and not keep:
            self._timer.start(6000)

    def text(self) -> str:
        return "" if self.isHidden() else self.label.text()
