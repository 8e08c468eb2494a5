"""The model panel: what checkpoint is loaded and what it is."""

from __future__ import annotations

import json

from PySide6.QtWidgets import QFormLayout, QLabel, QPlainTextEdit, QWidget


def _format_count(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n:,}"


class ModelPanel(QWidget):
    """Task, architecture, attention, sizes, device and training info of the model."""

    FIELDS = ("file", "task", "architecture", "attention", "parameters", "vocabulary", "device")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QFormLayout(self)
        self.labels: dict[str, QLabel] = {}
        for name in self.FIELDS:
            label = QLabel("—")
            label.setWordWrap(True)
            self.labels[name] = label
            layout.addRow(name.capitalize(), label)
        self.training = QPlainTextEdit()
        self.training.setReadOnly(True)
        self.training.setToolTip("Free-form training information stored in the checkpoint")
        self.training.setMaximumHeight(160)
        layout.addRow("Training", self.training)

    def set_summary(self, summary) -> None:
        """``summary`` is an engine ``ModelSummary``."""
        heads = f", {summary.heads} heads" if summary.heads > 1 else ""
        vocab = f"target {summary.tgt_vocab:,}"
        if summary.src_vocab:
            vocab = f"source {summary.src_vocab:,}, " + vocab
        values = {
            "file": summary.name,
            "task": summary.task,
            "architecture": summary.architecture,
            "attention": summary.attention + heads,
            "parameters": _format_count(summary.parameters),
            "vocabulary": vocab,
            "device": summary.device,
        }
        for name, value in values.items():
            self.labels[name].setText(value)
        self.labels["file"].setToolTip(summary.path)
        self.training.setPlainText(json.dumps(summary.info, indent=2, ensure_ascii=False))
