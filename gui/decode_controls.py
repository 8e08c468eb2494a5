"""Decode settings and the Step / Run / Back / Reset actions, with shortcuts and tooltips."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QSpinBox,
    QWidget,
)

STRATEGIES = {"Greedy": "greedy", "Beam search": "beam", "Sampling": "sampling"}
LENGTH_PENALTIES = {"None": "none", "Average": "average", "GNMT": "gnmt"}


class DecodeActions:
    """The QActions the toolbar, menus and shortcuts share."""

    def __init__(self, parent: QWidget) -> None:
        def action(text: str, key: str, tip: str) -> QAction:
            act = QAction(text, parent)
            act.setShortcut(QKeySequence(key))
            act.setToolTip(f"{tip} ({QKeySequence(key).toString()})")
            act.setStatusTip(tip)
            return act

        self.step = action("Step", "F10", "Decode one more token")
        self.run = action("Run", "F5", "Decode to the end, live; press again to pause")
        self.run.setCheckable(True)
        self.back = action("Back", "Shift+F10", "Undo the last step exactly")
        self.reset = action("Reset", "Esc", "Forget the decode and start again from the source")
        self.all = [self.step, self.run, self.back, self.reset]

    def set_enabled(self, enabled: bool) -> None:
        for act in self.all:
            act.setEnabled(enabled)


# task -> (label, tooltip) of the switch that decodes without pressing Run
LIVE_WORDING = {
    "translation": (
        "Translate as you type",
        "Re-run the decode a moment after each edit of the source",
    ),
    "captioning": (
        "Caption each new picture",
        "Caption a picture as soon as it is chosen, dropped or pasted",
    ),
}


class DecodeSettingsPanel(QWidget):
    """Strategy and its knobs; emits ``changed`` and persists in QSettings."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QFormLayout(self)
        self.strategy = QComboBox()
        self.strategy.addItems(list(STRATEGIES))
        self.strategy.setToolTip("How the next token is chosen")
        self.beam_size = self._spin(1, 64, 5, "Hypotheses kept at each beam step")
        self.temperature = self._double(
            0.05, 5.0, 1.0, 0.05, "Sampling temperature: <1 sharper, >1 flatter"
        )
        self.top_k = self._spin(0, 1000, 0, "Sample only from the k most likely tokens (0 = all)")
        self.top_p = self._double(
            0.0, 1.0, 1.0, 0.05, "Sample from the smallest set with this much probability (1 = all)"
        )
        self.seed = self._spin(0, 2**31 - 1, 0, "Random seed: the same seed gives the same sample")
        self.max_length = self._spin(1, 1000, 100, "Stop after this many tokens")
        self.length_penalty = QComboBox()
        self.length_penalty.addItems(list(LENGTH_PENALTIES))
        self.length_penalty.setToolTip("Beam search: how scores are normalised by length")
        self.alpha = self._double(0.0, 2.0, 0.6, 0.1, "Strength of the GNMT length penalty")
        self.live = QCheckBox()
        self.set_task("translation")
        for label, widget in (
            ("Strategy", self.strategy),
            ("Beam size", self.beam_size),
            ("Temperature", self.temperature),
            ("Top-k", self.top_k),
            ("Top-p", self.top_p),
            ("Seed", self.seed),
            ("Max length", self.max_length),
            ("Length penalty", self.length_penalty),
            ("Alpha", self.alpha),
        ):
            layout.addRow(label, widget)
        layout.addRow(self.live)
        self.strategy.currentTextChanged.connect(self._on_strategy_changed)
        self.length_penalty.currentTextChanged.connect(lambda _: self.changed.emit())
        self._on_strategy_changed(self.strategy.currentText())

    def set_task(self, task: str) -> None:
        """Word the live-decoding switch for ``task`` ("translation" or "captioning")."""
        text, tip = LIVE_WORDING.get(task, LIVE_WORDING["translation"])
        self.live.setText(text)
        self.live.setToolTip(tip)

    def _spin(self, low: int, high: int, value: int, tip: str) -> QSpinBox:
        box = QSpinBox()
        box.setRange(low, high)
        box.setValue(value)
        box.setToolTip(tip)
        box.valueChanged.connect(lambda _: self.changed.emit())
        return box

    def _double(
        self, low: float, high: float, value: float, step: float, tip: str
    ) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(low, high)
        box.setSingleStep(step)
        box.setValue(value)
        box.setToolTip(tip)
        box.valueChanged.connect(lambda _: self.changed.emit())
        return box

    def _on_strategy_changed(self, text: str) -> None:
        strategy = STRATEGIES[text]
        for widget in (self.beam_size, self.length_penalty, self.alpha):
            widget.setEnabled(strategy == "beam")
        for widget in (self.temperature, self.top_k, self.top_p, self.seed):
            widget.setEnabled(strategy == "sampling")
        self.changed.emit()

    def values(self) -> dict[str, Any]:
        """The settings as plain values (the keys DecodeConfig takes)."""
        return {
            "strategy": STRATEGIES[self.strategy.currentText()],
            "beam_size": self.beam_size.value(),
            "temperature": self.temperature.value(),
            "top_k": self.top_k.value(),
            "top_p": self.top_p.value(),
            "seed": self.seed.value(),
            "max_length": self.max_length.value(),
            "length_penalty": LENGTH_PENALTIES[self.length_penalty.currentText()],
            "alpha": self.alpha.value(),
        }

    def set_values(self, values: dict[str, Any]) -> None:
        strategies = {v: k for k, v in STRATEGIES.items()}
        penalties = {v: k for k, v in LENGTH_PENALTIES.items()}
        if values.get("strategy") in strategies:
            self.strategy.setCurrentText(strategies[values["strategy"]])
        if values.get("length_penalty") in penalties:
            self.length_penalty.setCurrentText(penalties[values["length_penalty"]])
        for name in ("beam_size", "top_k", "seed", "max_length"):
            if name in values:
                getattr(self, name).setValue(int(values[name]))
        for name in ("temperature", "top_p", "alpha"):
            if name in values:
                getattr(self, name).setValue(float(values[name]))

    def save(self, settings: QSettings) -> None:
        settings.setValue("decode/values", self.values())
        settings.setValue("decode/live", self.live.isChecked())

    def restore(self, settings: QSettings) -> None:
        values = settings.value("decode/values")
        if isinstance(values, dict):
            self.set_values(values)
        self.live.setChecked(settings.value("decode/live", False, type=bool))


def describe_decoding(values: dict[str, Any]) -> str:
    """'beam 5, GNMT length penalty α 1.5' for a settings dict (DecodeConfig keys)."""
    strategy = values.get("strategy", "greedy")
    if strategy != "beam":
        return strategy
    text = f"beam {values.get('beam_size', 5)}"
    penalty = values.get("length_penalty", "none")
    if penalty == "gnmt":
        return f"{text}, GNMT length penalty α {values.get('alpha', 0.6)}"
    return text if penalty == "none" else f"{text}, {penalty} length penalty"


class RecommendedDecoding:
    """Decode > Use the model's recommended settings: what its checkpoint says decodes best.

    ``scripts/ship_checkpoint.py --recommend`` stores the settings chosen on the
    model's validation set as ``info["recommended_decoding"]``; the action is
    enabled only for a model that has them, and never changes settings by itself.
    """

    NONE_TIP = "This model's checkpoint recommends no decoding settings"

    def __init__(self, parent: QWidget, panel: DecodeSettingsPanel, status_bar) -> None:
        self.panel, self.status_bar = panel, status_bar
        self.values: dict[str, Any] = {}
        self._hint = ""  # the load-time hint while the status bar may still show it
        self.action = QAction("Use the model's &recommended settings", parent)
        self.action.setShortcut(QKeySequence("Ctrl+Shift+R"))
        self.action.triggered.connect(self.apply)
        panel.changed.connect(self._withdraw_hint)
        self.model_loaded(None)

    def notify(self, text: str) -> None:
        self.status_bar.showMessage(text, 8000)

    def model_loaded(self, summary) -> None:
        recommended = summary.info.get("recommended_decoding") if summary else None
        self.values = dict(recommended) if isinstance(recommended, dict) else {}
        tip = (
            f"Decode with {describe_decoding(self.values)}, as chosen on this model's "
            "validation set (Ctrl+Shift+R)"
            if self.values
            else self.NONE_TIP
        )
        self.action.setEnabled(bool(self.values))
        self.action.setToolTip(tip)
        self.action.setStatusTip(tip)
        self._hint = ""
        if self.values and not self.in_use():
            self._hint = (
                f"This model decodes best with {describe_decoding(self.values)}: "
                "Decode > Use the model's recommended settings (Ctrl+Shift+R)"
            )
            self.notify(self._hint)

    def _withdraw_hint(self) -> None:
        """Settings now as recommended (the user, or a restored session, set them): no hint."""
        if self._hint and self.status_bar.currentMessage() == self._hint and self.in_use():
            self.status_bar.clearMessage()
            self._hint = ""

    def in_use(self) -> bool:
        """The panel already decodes as recommended (every recommended value the panel shows)."""
        current = self.panel.values()
        return all(
            current[name] == value
            if not isinstance(value, float)
            else abs(current[name] - value) < 1e-9
            for name, value in self.values.items()
            if name in current
        )

    def apply(self) -> None:
        if self.values:
            self.panel.set_values(self.values)
            self.notify(f"Decoding set to {describe_decoding(self.values)}")
