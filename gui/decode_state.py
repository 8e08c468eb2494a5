"""``DecodeState``: what one shown decode is, in one object the views subscribe to.

The main window holds one (a comparison will hold two). Collaborators are handed
the state, read it, and connect to its change signals; handlers are named
``_on_<thing>_changed``. Setting a value emits only when the value changed.

- ``summary``: the loaded model's ModelSummary (None before a model is loaded)
- ``loading``: the name of the checkpoint being loaded into it, else None
- ``snapshot``: the shown view record (the engine's SessionSnapshot), else None
- ``selected_step``: the step the user picked, None = follow the newest
- ``session_key``: the SessionKey of the open (or opening) decode session
- ``decode_config``: the DecodeConfig the shown decode was made with (also for a
  reference check, whose comparison decode uses the user's settings)
- ``report``: the ReferenceReport of a reference check, else None
- ``breakpoints``: the checked breakpoint conditions, as their engine dicts
  (``condition_from_dict`` builds them in the worker)
- ``breakpoint_hit``: the BreakpointHit that stopped the decode last, else None
- ``what_if``: the attention edit applied to the shown decode and its diff
  against the original (a ``WhatIf``), else None
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal


@dataclass(frozen=True)
class SessionKey:
    """What the open session decodes: a new key means a new session.

    source: the text, or a picture's key; config: the DecodeConfig the session uses;
    reference: the text a reference check forces, else None (so a Step after a
    check differs in key and starts afresh).
    """

    source: Any
    config: Any = None
    reference: str | None = None


@dataclass(frozen=True)
class WhatIf:
    """An attention edit at ``step`` and what it changed.

    original: the SessionSnapshot of the decode before the edit (run to its end)
    weights:  (heads, S) float32, the edited attention row
    diff:     the engine's DecodeDiff of the original against the edited decode so
              far (None until the edited decode has a step past the edit)
    """

    step: int
    original: Any
    weights: Any
    diff: Any = None


class DecodeState(QObject):
    """One decode shown in the GUI: model, view record, selection, session, report."""

    summaryChanged = Signal(object)  # ModelSummary | None
    snapshotChanged = Signal(object)  # SessionSnapshot | None
    selectedStepChanged = Signal(object)  # int | None
    sessionKeyChanged = Signal(object)  # SessionKey | None
    decodeConfigChanged = Signal(object)  # DecodeConfig | None
    reportChanged = Signal(object)  # ReferenceReport | None
    breakpointsChanged = Signal(object)  # tuple[dict, ...]
    breakpointHitChanged = Signal(object)  # BreakpointHit | None
    whatIfChanged = Signal(object)  # WhatIf | None

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.loading: str | None = None
        self._summary = None
        self._snapshot = None
        self._selected_step: int | None = None
        self._session_key: SessionKey | None = None
        self._decode_config = None
        self._report = None
        self._breakpoints: tuple[dict, ...] = ()
        self._breakpoint_hit = None
        self._what_if: WhatIf | None = None

    # -- read -----------------------------------------------------------------
    @property
    def summary(self):
        return self._summary

    @property
    def snapshot(self):
        return self._snapshot

    @property
    def selected_step(self) -> int | None:
        return self._selected_step

    @property
    def session_key(self) -> SessionKey | None:
        return self._session_key

    @property
    def decode_config(self):
        return self._decode_config

    @property
    def report(self):
        return self._report

    @property
    def breakpoints(self) -> tuple[dict, ...]:
        return self._breakpoints

    @property
    def breakpoint_hit(self):
        return self._breakpoint_hit

    @property
    def what_if(self) -> WhatIf | None:
        return self._what_if

    @property
    def reference(self) -> str | None:
        """The reference the open session was forced to take, else None."""
        return self._session_key.reference if self._session_key is not None else None

    @property
    def task(self) -> str | None:
        """The loaded model's task ("translation", "captioning"), None before a load."""
        return self._summary.task if self._summary is not None else None

    def shown_step(self) -> int | None:
        """The step the views show as selected: the user's choice while the shown decode has
        it, else the newest."""
        if self._snapshot is None or not self._snapshot.steps:
            return None
        newest = len(self._snapshot.steps) - 1
        if self._selected_step is not None and self._selected_step <= newest:
            return self._selected_step
        return newest

    # -- write (each emits only on a change) -----------------------------------
    def set_summary(self, summary) -> None:
        if summary is not self._summary:
            self._summary = summary
            self.summaryChanged.emit(summary)

    def set_snapshot(self, snapshot) -> None:
        if snapshot is not self._snapshot:
            self._snapshot = snapshot
            steps = len(snapshot.steps) if snapshot is not None else 0
            if self._selected_step is not None and self._selected_step >= steps:
                self._selected_step = None  # the pick is gone (Reset, Back, a new decode)
                self.selectedStepChanged.emit(None)
            self.snapshotChanged.emit(snapshot)

    def set_selected_step(self, step: int | None) -> None:
        if step != self._selected_step:
            self._selected_step = step
            self.selectedStepChanged.emit(step)

    def set_session_key(self, key: SessionKey | None) -> None:
        if key != self._session_key:
            self._session_key = key
            self.sessionKeyChanged.emit(key)

    def set_decode_config(self, config) -> None:
        if config != self._decode_config:
            self._decode_config = config
            self.decodeConfigChanged.emit(config)

    def set_report(self, report) -> None:
        if report is not self._report:
            self._report = report
            self.reportChanged.emit(report)

    def set_breakpoints(self, conditions) -> None:
        conditions = tuple(conditions)
        if conditions != self._breakpoints:
            self._breakpoints = conditions
            self.breakpointsChanged.emit(conditions)

    def set_breakpoint_hit(self, hit) -> None:
        if hit != self._breakpoint_hit:
            self._breakpoint_hit = hit
            self.breakpointHitChanged.emit(hit)

    def set_what_if(self, what_if: WhatIf | None) -> None:
        if what_if is not self._what_if:
            self._what_if = what_if
            self.whatIfChanged.emit(what_if)
