"""The model panel: what checkpoint is loaded and what it is."""

from __future__ import annotations

import json
import re

from PySide6.QtWidgets import QFormLayout, QLabel, QPlainTextEdit, QWidget

from attnscope.engine.languages import language_pair


def _format_count(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n:,}"


# metric key -> (label, scale): BLEU-n and CIDEr-D are stored as fractions by the
# captioning scorers and shown as the usual percentages / raw CIDEr-D.
_METRICS = {
    "bleu": ("BLEU", 1.0),
    "bleu1": ("BLEU-1", 100.0),
    "bleu4": ("BLEU-4", 100.0),
    "cider": ("CIDEr-D", 1.0),
    "val_loss": ("loss", 1.0),
    "val_ppl": ("ppl", 1.0),
}


# parts of a stored score's name ("test_bleu_beam5_gnmt1.5") -> how they read
_SCORE_WORDS = {"bleu": "BLEU", "bleu4": "BLEU-4", "chrf": "chrF", "cider": "CIDEr-D"}
_SCORE_SETTINGS = (
    (re.compile(r"(greedy)"), "{}"),
    (re.compile(r"beam(\d+)"), "beam {}"),
    (re.compile(r"gnmt([\d.]+)"), "GNMT α {}"),
    (re.compile(r"seed(\d+)"), "seed {}"),
    (re.compile(r"n(\d+)"), "{} samples"),
)


def describe_score(name: str, value) -> str:
    """One stored score in words: ``test_bleu_beam5_gnmt1.5`` 36.76 -> ``test BLEU 36.76
    (beam 5, GNMT α 1.5)``. Unknown parts of the name are kept as they are."""
    words, settings = [], []
    for part in name.split("_"):
        for pattern, template in _SCORE_SETTINGS:
            match = pattern.fullmatch(part)
            if match:
                settings.append(template.format(match.group(1)))
                break
        else:
            words.append(_SCORE_WORDS.get(part, part))
    return " ".join([*words, str(value)]) + (f" ({', '.join(settings)})" if settings else "")


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def describe_training(info: dict) -> str:
    """The training record in a few readable lines, then the full record as JSON."""
    lines = []
    scores = info.get("scores")
    if isinstance(scores, dict) and scores:
        lines.append("Scores:")
        lines += [f"  {describe_score(str(k), v)}" for k, v in scores.items()]
    if _number(info.get("epoch")):
        step = f", step {info['step']:,}" if _number(info.get("step")) else ""
        lines.append(f"Epoch {info['epoch']}{step}")
    metrics = info.get("metrics")
    if isinstance(metrics, dict):
        shown = [
            f"{label} {metrics[key] * scale:.2f}"
            for key, (label, scale) in _METRICS.items()
            if _number(metrics.get(key))
        ]
        if shown:
            lines.append("Validation: " + " · ".join(shown))
    if isinstance(info.get("note"), str):
        lines.append(info["note"])
    if isinstance(info.get("trained_by"), str):
        lines.append(f"Trained with {info['trained_by']}")
    record = json.dumps(info, indent=2, ensure_ascii=False)
    return "\n".join([*lines, "", "Full record:", record]) if lines else record


class ModelPanel(QWidget):
    """Task, architecture, attention, sizes, device and training info of the model."""

    FIELDS = (
        "file",
        "task",
        "languages",
        "architecture",
        "attention",
        "parameters",
        "vocabulary",
        "device",
    )

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
        self.training.setToolTip(
            "How the checkpoint was trained and scored (the full stored record follows)"
        )
        self.training.setMaximumHeight(160)
        layout.addRow("Training", self.training)

    def set_summary(self, summary) -> None:
        """``summary`` is an engine ``ModelSummary``."""
        heads = f", {summary.heads} heads" if summary.heads > 1 else ""
        if summary.layers > 1:  # a Transformer decoder: cross-attention in every layer
            heads = f", {summary.layers} layers × {summary.heads_per_layer} heads"
        vocab = f"target {summary.tgt_vocab:,}"
        if summary.src_vocab:
            vocab = f"source {summary.src_vocab:,}, " + vocab
        values = {
            "file": summary.name,
            "task": summary.task,
            "languages": language_pair(summary.task, summary.info) or "not recorded",
            "architecture": summary.architecture,
            "attention": summary.attention + heads,
            "parameters": _format_count(summary.parameters),
            "vocabulary": vocab,
            "device": summary.device,
        }
        for name, value in values.items():
            self.labels[name].setText(value)
        self.labels["file"].setToolTip(summary.path)
        self.training.setPlainText(describe_training(summary.info))
