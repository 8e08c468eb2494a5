"""The model panel: what checkpoint is loaded and what it is."""

from __future__ import annotations

import json
import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from attnscope.engine.languages import language_pair
from attnscope.gui.folder_description import describe_folder, is_folder

TRAINING_TIP = "How the checkpoint was trained and scored (the full stored record follows)"
FOLDER_TIP = "What the Hugging Face folder holds; Details… shows its facts as stored JSON"


def _keep_a_code(combo: QComboBox) -> None:
    """Show the chosen code again when the typed text is none of the combo's codes."""
    if combo.findText(combo.currentText()) < 0:
        combo.setEditText(combo.itemText(combo.currentIndex()))


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
    """Task, architecture, attention, sizes, device and training info of the model; for a
    Hugging Face folder a readable "Folder" box instead of "Training" (its JSON behind
    "Details…"), and for a multilingual one (mBART, M2M100, NLLB) its language combos."""

    # (source code, target code) picked; the worker re-announces the model and it re-decodes
    languagesChosen = Signal(str, str)

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
        self.training.setToolTip(TRAINING_TIP)
        self.training.setMaximumHeight(160)
        self.details = QToolButton()
        self.details.setText("Details…")
        self.details.setCheckable(True)
        self.details.setToolTip("Show the folder's facts as stored JSON (all language codes)")
        self.details.toggled.connect(self._on_details_toggled)
        self._texts = ("", "")  # (readable, JSON) of a folder
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.training)
        column.addWidget(self.details, alignment=Qt.AlignmentFlag.AlignRight)
        column.addStretch(1)  # the box stays under its label when the panel is tall
        layout.addRow("Training", box)
        self._record_box = box
        self.source_language = self._language_combo(
            "The source language code the tokenizer marks the input with"
        )
        self.target_language = self._language_combo(
            "The target language: the model's first output token, which the decode is "
            "forced to start with (as generate()'s forced_bos_token_id)"
        )
        below = self.FIELDS.index("languages") + 1  # under the Languages line
        layout.insertRow(below, "Source language", self.source_language)
        layout.insertRow(below + 1, "Target language", self.target_language)
        self._language_rows(False)

    def _language_combo(self, tip: str) -> QComboBox:
        combo = QComboBox()
        combo.setToolTip(tip)
        combo.setEditable(True)  # type to find one of NLLB's 202 codes
        combo.setInsertPolicy(QComboBox.NoInsert)
        combo.activated.connect(self._on_language_chosen)
        # a typed text that is no code is not taken: the combo goes back to the code in use
        combo.lineEdit().editingFinished.connect(lambda: _keep_a_code(combo))
        return combo

    def _language_rows(self, visible: bool) -> None:
        layout = self.layout()
        for combo in (self.source_language, self.target_language):
            layout.setRowVisible(combo, visible)

    def _on_language_chosen(self, _index: int) -> None:
        source, target = self.source_language, self.target_language
        self.languagesChosen.emit(
            source.itemText(source.currentIndex()), target.itemText(target.currentIndex())
        )

    def _show_languages(self, pair) -> None:
        """The combos of a multilingual folder's ``language_pair`` (info), hidden without."""
        codes = pair.get("codes") if isinstance(pair, dict) else None
        self._language_rows(bool(codes))
        if codes:  # its codes are the model's own (en_XX, fra_Latn), not ISO names
            text = f"{pair.get('source')} → {pair.get('target')} (of {len(codes)} codes)"
            self.labels["languages"].setText(text)
        for combo, key in ((self.source_language, "source"), (self.target_language, "target")):
            combo.blockSignals(True)
            combo.clear()
            if codes:
                combo.addItems([str(code) for code in codes])
                # the index, not only the text: an editable combo's setCurrentText sets the
                # text alone, and a choice in the other combo sent this one's item 0
                code = str(pair.get(key, ""))
                index = combo.findText(code)
                combo.setCurrentIndex(index)
                if index < 0:
                    combo.setEditText(code)
            combo.blockSignals(False)

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
        file_label = self.layout().labelForField(self.labels["file"])
        file_label.setText("Model" if is_folder(summary.info) else "File")  # a folder is no file
        self._show_record(summary.info)
        self._show_languages(summary.info.get("language_pair"))

    def _show_record(self, info: dict) -> None:
        """A checkpoint's training record, or a folder's facts in words (JSON on demand)."""
        folder = is_folder(info)
        label = self.layout().labelForField(self._record_box)
        label.setText("Folder" if folder else "Training")
        self.training.setToolTip(FOLDER_TIP if folder else TRAINING_TIP)
        self.details.setVisible(folder)
        self.details.blockSignals(True)
        self.details.setChecked(False)
        self.details.blockSignals(False)
        if folder:
            self._texts = (describe_folder(info), json.dumps(info, indent=2, ensure_ascii=False))
        self.training.setPlainText(self._texts[0] if folder else describe_training(info))

    def _on_details_toggled(self, on: bool) -> None:
        self.training.setPlainText(self._texts[1] if on else self._texts[0])
        self.details.setText("Summary" if on else "Details…")
