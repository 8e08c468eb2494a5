"""Decode settings and the Step / Run / Back / Reset actions, with shortcuts and tooltips."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from PySide6.QtCore import QSettings, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
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
        self.note = QLabel()  # where the settings came from (the model's recommendation)
        self.note.setWordWrap(True)
        self.note.setVisible(False)
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
        layout.addRow(self.note)
        self.strategy.currentTextChanged.connect(self._on_strategy_changed)
        self.length_penalty.currentTextChanged.connect(lambda _: self.changed.emit())
        self._on_strategy_changed(self.strategy.currentText())

    def set_note(self, text: str, tip: str = "") -> None:
        """A line under the settings saying where they came from ("" hides it)."""
        self.note.setText(text)
        self.note.setToolTip(tip)
        self.note.setVisible(bool(text))

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
    """'beam 5, GNMT length penalty α 1.5' for a settings dict (DecodeConfig keys); a
    ``max_length`` in it (a captioner's recommendation) adds 'at most N tokens'."""
    strategy = values.get("strategy", "greedy")
    text = strategy
    if strategy == "beam":
        text = f"beam {values.get('beam_size', 5)}"
        penalty = values.get("length_penalty", "none")
        if penalty == "gnmt":
            text += f", GNMT length penalty α {values.get('alpha', 0.6)}"
        elif penalty != "none":
            text += f", {penalty} length penalty"
    if "max_length" in values:
        text += f", at most {values['max_length']} tokens"
    return text


# what a recommendation replaces, and the panel's defaults for the fields it leaves out
RECOMMENDATION_DEFAULTS = MappingProxyType(
    {
        "strategy": "greedy",
        "beam_size": 5,
        "length_penalty": "none",
        "alpha": 0.6,
        "max_length": 100,
    }
)


VALIDATION_REASON = "as chosen on this model's validation set"
FOLDER_REASON = "as the folder's generation_config.json says"


class RecommendedDecoding:
    """A model's recommended decoding, applied when it loads (as Hugging Face applies a
    model's generation_config); the user's panel changes then override it.

    ``attnscope train`` (or ``scripts/choose_decoding.py``) stores the settings
    chosen on the model's validation set as ``info["recommended_decoding"]``; a
    Hugging Face folder's come from its generation_config.json (``info["recommended_by"]``,
    engine/hf/generation.py), whose options AttnScope cannot honour exactly, and those
    the panel has no control for, are named in the action's tooltip.
    On load they replace the panel's strategy, beam, length penalty and max
    length (fields the recommendation leaves out get the panel's defaults); the
    status bar and a note under the settings say so. Decode > Use the model's
    recommended settings (Ctrl+Shift+R) restores them after a change. A model
    without a recommendation leaves the settings alone, except that the
    previous model's recommendation, still untouched, gives way to the defaults.
    """

    NONE_TIP = "This model recommends no decoding settings (its checkpoint or folder names none)"
    DEFAULTS = RECOMMENDATION_DEFAULTS

    def __init__(self, parent: QWidget, panel: DecodeSettingsPanel, status_bar) -> None:
        self.panel, self.status_bar = panel, status_bar
        self.values: dict[str, Any] = {}
        self.reason = VALIDATION_REASON  # where the recommendation comes from
        self.action = QAction("Use the model's &recommended settings", parent)
        self.action.setShortcut(QKeySequence("Ctrl+Shift+R"))
        self.action.triggered.connect(self.apply)
        panel.changed.connect(self._on_settings_changed)
        self.model_loaded(None)

    def notify(self, text: str) -> None:
        self.status_bar.showMessage(text, 8000)

    def applied(self) -> dict[str, Any]:
        """The panel values the recommendation stands for (defaults filled in)."""
        return {**self.DEFAULTS, **self.values} if self.values else {}

    def model_loaded(self, summary) -> None:
        """Apply the new model's recommendation, or let a stale one give way."""
        stale = bool(self.values) and self.in_use()
        info = summary.info if summary else {}
        recommended = info.get("recommended_decoding")
        self.values = dict(recommended) if isinstance(recommended, dict) else {}
        by_folder = info.get("recommended_by") == "generation_config.json"
        self.reason = FOLDER_REASON if by_folder else VALIDATION_REASON
        tip = (
            f"Decode with {describe_decoding(self.values)}, {self.reason} (Ctrl+Shift+R)"
            + self._caveats(info)
            if self.values
            else self.NONE_TIP
        )
        self.action.setEnabled(bool(self.values))
        self.action.setToolTip(tip)
        self.action.setStatusTip(tip)
        if self.values:
            self.panel.set_values(self.applied())
            self.notify(
                f"Decoding as this model recommends: {describe_decoding(self.values)} "
                f"({self.reason}; change the settings to override)"
            )
        elif stale:
            self.panel.set_values(dict(self.DEFAULTS))
        self._on_settings_changed()

    def _on_settings_changed(self) -> None:
        """Keep the panel's note true: recommended, or changed from the recommendation."""
        if not self.values:
            self.panel.set_note("")
        elif self.in_use():
            self.panel.set_note(
                f"As this model recommends ({self.reason})",
                f"{describe_decoding(self.values)}; change any setting to override it",
            )
        else:
            self.panel.set_note(
                f"Changed from this model's recommendation ({describe_decoding(self.values)}): "
                "Ctrl+Shift+R restores it",
                "Decode > Use the model's recommended settings",
            )

    def _caveats(self, info: dict[str, Any]) -> str:
        """The tooltip's lines on what the recommendation cannot carry: the folder's
        options AttnScope does not honour exactly, and the fields the panel lacks."""
        lines = []
        unhonoured = info.get("recommended_unhonoured")
        if isinstance(unhonoured, list) and unhonoured:
            lines.append("Not honoured exactly: " + "; ".join(map(str, unhonoured)))
        missing = sorted(set(self.values) - set(self.panel.values()))
        if missing:
            shown = ", ".join(f"{name} {self.values[name]}" for name in missing)
            lines.append(f"Not on this panel (attnscope translate applies them): {shown}")
        return "".join(f"\n{line}" for line in lines)

    def in_use(self) -> bool:
        """The panel decodes as recommended (the settings that matter for its strategy)."""
        wanted, current = self.applied(), self.panel.values()
        names = ["strategy", "max_length"]
        if wanted.get("strategy") == "beam":
            names += ["beam_size", "length_penalty"]
            if wanted.get("length_penalty") == "gnmt":
                names.append("alpha")
        return all(
            abs(current[name] - wanted[name]) < 1e-9
            if isinstance(wanted[name], float)
            else current[name] == wanted[name]
            for name in names
            if name in wanted
        )

    def apply(self) -> None:
        if self.values:
            self.panel.set_values(self.applied())
            self.notify(f"Decoding set to {describe_decoding(self.values)}")
