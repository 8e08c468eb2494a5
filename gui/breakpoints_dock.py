"""The Breakpoints dock: which conditions stop a Run, with their parameters.

One row per condition of engine/debugger/breakpoints.py: a checkbox and its
parameter(s), each with a tooltip. The dock hands out the checked conditions as
plain dicts (``condition_dicts()``, the engine's ``to_dict`` form), so the GUI
thread never imports the engine: the worker builds the conditions from them
(``condition_from_dict``). ``conditions()`` builds them here too, for checks.
Settings are kept in QSettings under ``breakpoints/``.

Run (F5) stops after the first step where a checked condition fires; Step (F10)
always takes its one step and reports a condition that fires on it.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QSettings, QSignalBlocker, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger(__name__)

SETTINGS_GROUP = "breakpoints"
INVALID_STYLE = "border: 1px solid #d93025; background: #fff1f0;"  # a field that cannot be used


@dataclass(frozen=True)
class Param:
    """One parameter of a condition: its dict key, kind ("float", "int", "token"),
    default, range and step, the text after its field, and its tooltip."""

    key: str
    kind: str
    default: Any
    low: float = 0.0
    high: float = 1.0
    step: float = 1.0
    suffix: str = ""
    tip: str = ""


@dataclass(frozen=True)
class ConditionRow:
    """One row of the dock: the condition's kind (its ``to_dict()["kind"]``), the
    checkbox text, the tooltip and the parameters."""

    kind: str
    label: str
    tip: str
    params: tuple[Param, ...]
    enabled: bool = False


# The defaults are the engine conditions' own (engine/debugger/conditions.py, where
# they are explained), so the dock, the engine and translate --flag agree.
ROWS = (
    ConditionRow(
        "entropy",
        "Entropy above",
        "Stop when the model is unsure: the entropy of its next-token distribution "
        "(in nats) exceeds the threshold",
        (Param("threshold", "float", 3.0, 0.0, 20.0, 0.25, " nats", "Entropy threshold"),),
    ),
    ConditionRow(
        "low_probability",
        "Probability below",
        "Stop when the token taken had a probability below p",
        (Param("p", "float", 0.1, 0.0, 1.0, 0.05, "", "Probability threshold p"),),
    ),
    ConditionRow(
        "repeated_ngram",
        "Repeated n-gram, n",
        "Stop when the output repeats an n-gram it already produced (a stutter or a loop)",
        (Param("n", "int", 3, 1, 10, 1, " tokens", "Length n of the repeated n-gram"),),
    ),
    ConditionRow(
        "stuck_attention",
        "Attention stuck for",
        "Stop when the attention's strongest source position stays the same for k steps",
        (Param("k", "int", 4, 2, 50, 1, " steps", "Number of steps k"),),
    ),
    ConditionRow(
        "uncovered_at_eos",
        "Uncovered at EOS, below",
        "Stop when EOS is proposed while a source token's coverage (its attention summed "
        "so far) is still below the threshold: a likely omission",
        (
            Param(
                "threshold", "float", 0.2, 0.05, 1.0, 0.05, "", "Coverage below this is uncovered"
            ),
        ),
    ),
    ConditionRow(
        "over_covered",
        "Over-covered, τ",
        "Stop when a source token's coverage (attention summed so far) exceeds τ: "
        "a likely over-translation",
        (Param("tau", "float", 2.5, 0.5, 10.0, 0.1, "", "Coverage threshold τ"),),
    ),
    ConditionRow(
        "no_eos",
        "No EOS after",
        "Stop when no EOS has come after N steps, or after N × the source length "
        "(whichever is set; 0 turns that part off)",
        (
            Param("max_steps", "int", 0, 0, 1000, 1, " steps", "N steps (0: off)"),
            Param("length_ratio", "float", 2.0, 0.0, 20.0, 0.5, " × src", "N × source length"),
        ),
    ),
    ConditionRow(
        "token",
        "Token produced",
        "Stop when this target token is produced (a subword of the target vocabulary)",
        (Param("piece", "token", "", tip="A target subword, e.g. ▁the (the ▁ is optional)"),),
    ),
)


class BreakpointsDock(QWidget):
    """The conditions that stop a Run; ``changed`` after every edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._lookup: Callable[[str], int | None] | None = None
        self.checks: dict[str, QCheckBox] = {}
        self.fields: dict[tuple[str, str], QWidget] = {}
        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        line = 0
        for row in ROWS:
            check = QCheckBox(row.label)
            check.setToolTip(row.tip)
            check.setChecked(row.enabled)
            check.toggled.connect(self._on_edited)
            self.checks[row.kind] = check
            grid.addWidget(check, line, 0)
            for param in row.params:  # one field a line: the dock stays narrow
                field = self._field(param)
                self.fields[row.kind, param.key] = field
                grid.addWidget(field, line, 1)
                line += 1
        self.problem_label = QLabel("")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #b3261e;")
        self.problem_label.setToolTip("Checked conditions that are left out until fixed")
        self.hit_label = QLabel("")
        self.hit_label.setWordWrap(True)
        self.hit_label.setToolTip("The last breakpoint that stopped the decode")
        note = QLabel(
            "Run (F5) stops after the first step where a checked condition fires; "
            "Run again resumes. Step (F10) always takes its step and reports a hit."
        )
        note.setWordWrap(True)
        note.setStyleSheet("color: palette(mid);")
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.hit_label)
        layout.addWidget(note)
        layout.addStretch(1)

    def _field(self, param: Param) -> QWidget:
        if param.kind == "token":
            field = QLineEdit(str(param.default))
            field.setPlaceholderText("subword")
            field.editingFinished.connect(self._on_edited)
        elif param.kind == "int":
            field = QSpinBox()
            field.setRange(int(param.low), int(param.high))
            field.setValue(int(param.default))
            field.setSuffix(param.suffix)
            field.valueChanged.connect(self._on_edited)
        else:
            field = QDoubleSpinBox()
            field.setDecimals(2)
            field.setRange(param.low, param.high)
            field.setSingleStep(param.step)
            field.setValue(float(param.default))
            field.setSuffix(param.suffix)
            field.valueChanged.connect(self._on_edited)
        field.setToolTip(param.tip)
        return field

    # -- the target vocabulary (for the token condition) --------------------------
    def set_vocabulary(self, lookup: Callable[[str], int | None] | None) -> None:
        """``lookup(piece) -> id | None`` of the loaded model's targets (None: no model)."""
        self._lookup = lookup
        self._check_rows()

    def problem(self, kind: str) -> str | None:
        """Why a checked row cannot be used as it stands, else None."""
        if kind == "token":
            return self.token_problem()
        if kind == "no_eos" and not (
            self.value("no_eos", "max_steps") or self.value("no_eos", "length_ratio")
        ):
            return "no EOS needs N steps or N × source length above 0"
        return None

    def token_problem(self) -> str | None:
        """Why the typed token cannot be used (empty, not in the vocabulary), else None."""
        text = self._token_text()
        if not text:
            return "type a target subword for the token condition"
        if self._lookup is not None and self._lookup(text) is None:
            return f"{text!r} is not in the target vocabulary"
        return None

    def _token_text(self) -> str:
        return self.fields["token", "piece"].text().strip()

    def _check_rows(self) -> None:
        """Mark the fields of checked rows that cannot be used, and say why under them."""
        problems = []
        for row in ROWS:
            problem = self.problem(row.kind) if self.checks[row.kind].isChecked() else None
            if problem:
                problems.append(f"{row.label}: {problem}")
            for param in row.params:
                field = self.fields[row.kind, param.key]
                field.setStyleSheet(INVALID_STYLE if problem else "")
                field.setToolTip(f"{param.tip}\n⚠ {problem}" if problem else param.tip)
        self.problem_label.setText("\n".join(f"⚠ {p} (not used)" for p in problems))

    # -- the conditions ----------------------------------------------------------------
    def condition_dicts(self) -> tuple[dict, ...]:
        """The checked conditions as dicts (``condition_from_dict`` builds them); the token
        condition is left out while its token is not in the vocabulary."""
        out = []
        for row in ROWS:
            if not self.checks[row.kind].isChecked():
                continue
            if self.problem(row.kind) is not None:
                continue
            if row.kind == "token":
                piece = self._token_text()
                token_id = self._lookup(piece) if self._lookup is not None else None
                out.append({"kind": "token", "piece": piece, "token_id": token_id})
                continue
            values = {p.key: self._value(row.kind, p) for p in row.params}
            out.append({"kind": row.kind, **values})
        return tuple(out)

    def conditions(self) -> tuple:
        """The checked conditions as engine objects (imports the engine: not at start-up)."""
        from attnscope.engine.debugger.breakpoints import condition_from_dict

        return tuple(condition_from_dict(d) for d in self.condition_dicts())

    def set_conditions(self, conditions: Iterable[Mapping[str, Any]]) -> None:
        """Check exactly ``conditions`` (their ``to_dict`` form, e.g. a session file's) with
        their values, every other row unchecked; one ``changed`` at the end. A kind the
        dock has no row for is skipped (logged); of two of one kind the last wins."""
        by_kind = {}
        for condition in conditions:
            if condition.get("kind") in self.checks:
                by_kind[condition["kind"]] = condition
            else:
                log.info("no dock row for breakpoint %r; not shown", condition.get("kind"))
        widgets = [*self.checks.values(), *self.fields.values()]
        blockers = [QSignalBlocker(widget) for widget in widgets]
        for row in ROWS:
            condition = by_kind.get(row.kind)
            self.checks[row.kind].setChecked(condition is not None)
            for param in row.params if condition is not None else ():
                value = condition.get(param.key)
                field = self.fields[row.kind, param.key]
                if isinstance(field, QLineEdit):
                    field.setText("" if value is None else str(value))
                elif value is not None:
                    field.setValue(int(value) if param.kind == "int" else float(value))
        for blocker in blockers:
            blocker.unblock()
        self._on_edited()

    def set_checked(self, kind: str, on: bool) -> None:
        if kind not in self.checks:
            raise ValueError(f"unknown breakpoint {kind!r}; known: {', '.join(self.checks)}")
        self.checks[kind].setChecked(on)

    def set_value(self, kind: str, key: str, value: Any) -> None:
        """Set one parameter's field (a ValueError names an unknown one)."""
        field = self.fields.get((kind, key))
        if field is None:
            raise ValueError(f"breakpoint {kind!r} has no parameter {key!r}")
        if isinstance(field, QLineEdit):
            field.setText(str(value))
            self._on_edited()
        else:
            field.setValue(value)

    def value(self, kind: str, key: str) -> Any:
        """The current value of one parameter's field."""
        row = next(r for r in ROWS if r.kind == kind)
        return self._value(kind, next(p for p in row.params if p.key == key))

    def _value(self, kind: str, param: Param) -> Any:
        field = self.fields[kind, param.key]
        return int(field.value()) if param.kind == "int" else round(float(field.value()), 6)

    def show_hit(self, text: str) -> None:
        """Show the last hit's message under the conditions ("" clears it)."""
        self.hit_label.setText(f"<b>Stopped:</b> {html.escape(text)}" if text else "")

    def _on_edited(self, *_args) -> None:
        self._check_rows()
        self.changed.emit()

    # -- settings ----------------------------------------------------------------------
    def save(self, settings: QSettings) -> None:
        for row in ROWS:
            settings.setValue(
                f"{SETTINGS_GROUP}/{row.kind}/enabled", self.checks[row.kind].isChecked()
            )
            for param in row.params:
                field = self.fields[row.kind, param.key]
                value = field.text() if isinstance(field, QLineEdit) else field.value()
                settings.setValue(f"{SETTINGS_GROUP}/{row.kind}/{param.key}", value)

    def restore(self, settings: QSettings) -> None:
        """Read saved settings; an unreadable value keeps the field's default."""
        for row in ROWS:
            key = f"{SETTINGS_GROUP}/{row.kind}/enabled"
            self.checks[row.kind].setChecked(settings.value(key, row.enabled, type=bool))
            for param in row.params:
                field = self.fields[row.kind, param.key]
                raw = settings.value(f"{SETTINGS_GROUP}/{row.kind}/{param.key}", param.default)
                try:
                    if isinstance(field, QLineEdit):
                        field.setText(str(raw))
                    else:
                        field.setValue(int(float(raw)) if param.kind == "int" else float(raw))
                except (TypeError, ValueError):
                    log.info("breakpoint setting %s/%s unreadable: %r", row.kind, param.key, raw)
        self._check_rows()
