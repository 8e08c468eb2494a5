"""``ExplainController``: what the Explain panel computes, when, and what it shows.

It subscribes to the window's DecodeState. Asked to explain (the panel's button,
Ctrl+E, or picking another step while the panel is shown and the decode is done),
it sends the worker an ExplainRequest (gui/explain_job.py) for the steps it has
not explained yet: each step's attribution is cached per (session key, tokens,
method, foil, step), so going back to a step, or to a method already run, costs
nothing. One request runs at a time; a new one cancels it. An answer is shown only
if it belongs to the newest request; a new model or a new decode drops the
request in flight (the worker was told to stop), so a late answer never paints
over what is shown. Whether a request ended without an answer (cancelled, or
refused with a message) is learnt from a ping sent after it.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QTimer

from attnscope.gui.decode_state import DecodeState
from attnscope.gui.explain_job import ExplainAnswer, ExplainRequest, StepAgreement
from attnscope.gui.explain_panel import METHOD_LABELS, WHOLE_OUTPUT, ExplainPanel
from attnscope.gui.translate_view import display_piece
from attnscope.gui.worker_client import WorkerClient

CACHE_STEPS = 4096  # explained steps kept (the oldest go first)
REDRAW_MS = 250  # while a decode runs, the panel follows it at most this often


@dataclass(frozen=True)
class StepExplanation:
    """One step's attribution: scores (S,) per source token or grid cell, pixels (H, W)
    or None, and its agreement with the step's attention (None without attention)."""

    scores: np.ndarray
    pixels: np.ndarray | None
    agreement: StepAgreement | None


def mean_agreement(agreements: list[StepAgreement]) -> tuple[float, int, float]:
    """(mean Spearman rho, how many top-1 matches, mean JSD) over ``agreements``, as the
    engine's mean_agreement: an undefined (NaN) value is left out of its mean."""

    def mean(values: list[float]) -> float:
        defined = [v for v in values if not np.isnan(v)]
        return float(np.mean(defined)) if defined else float("nan")

    rho, jsd = mean([a.spearman for a in agreements]), mean([a.jsd for a in agreements])
    return rho, sum(a.top1 for a in agreements), jsd


class ExplainController(QObject):
    """Drives ``panel`` from ``state``'s shown decode through ``client``'s worker."""

    def __init__(
        self,
        state: DecodeState,
        client: WorkerClient,
        panel: ExplainPanel,
        *,
        is_shown: Callable[[], bool],
        select_step: Callable[[int], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state, self.client, self.panel = state, client, panel
        self._is_shown = is_shown
        self._cache: OrderedDict[tuple, StepExplanation] = OrderedDict()
        self._serials = itertools.count(1)
        self._pending: ExplainRequest | None = None
        self._tokens_of: tuple = (None, ())  # (snapshot, its token ids)
        self.answers = 0  # answers shown (tests and benchmarks wait on it)
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(REDRAW_MS)
        self._redraw_timer.timeout.connect(self._redraw)
        state.summaryChanged.connect(self._on_summary_changed)
        state.sessionKeyChanged.connect(self._on_session_key_changed)
        state.snapshotChanged.connect(self._on_snapshot_changed)
        state.selectedStepChanged.connect(self._on_selected_step_changed)
        worker = client.worker
        worker.explained.connect(self._on_explained)
        worker.explainProgress.connect(self._on_progress)
        client.answered.connect(self._on_answered)
        panel.explainRequested.connect(self.explain)
        panel.cancelRequested.connect(self.cancel)
        panel.choiceChanged.connect(self._on_choice_changed)
        panel.stepSelected.connect(select_step)

    # -- requests -----------------------------------------------------------
    def explain(self) -> bool:
        """Explain the panel's scope with its method; False when there is nothing to do
        (nothing shown, or every step asked for is cached: then it is only drawn)."""
        snapshot, step = self.state.snapshot, self.state.shown_step()
        if snapshot is None or step is None:
            self.panel.set_busy(False, "Decode something first.")
            return False
        whole = self.panel.scope() == WHOLE_OUTPUT
        wanted = range(len(snapshot.steps)) if whole else (step,)
        missing = tuple(s for s in wanted if self._cache_key(s) not in self._cache)
        if not missing:
            self._redraw()
            return False
        asked = (self.state.session_key, self._tokens(), self.panel.method(), self.panel.foil())
        pending = self._pending
        if pending is not None:
            if (pending.key, pending.tokens, pending.method, pending.foil) == asked and set(
                missing
            ) <= set(pending.steps):
                return True  # already on its way
            self.client.cancel()  # a new request replaces the one running
        request = ExplainRequest(
            serial=next(self._serials),
            key=asked[0],
            source=snapshot.image if snapshot.grid is not None else snapshot.source_text,
            tokens=asked[1],
            steps=missing,
            method=asked[2],
            foil=asked[3],
            edits=_attention_edits(snapshot),
            attention=_attention_rows(snapshot, missing),
        )
        self._pending = request
        label = METHOD_LABELS[request.method]
        self.panel.set_busy(True, f"{label}: {len(missing)} step(s)…")
        self.client.explain(request)
        self.client.ping(-request.serial)  # answered after it, answer or not
        return True

    def cancel(self) -> None:
        """Stop the request running (Cancel, Esc); what was explained before stays."""
        if self._pending is not None:
            self.client.cancel()
            self._drop_pending("Cancelled.")

    def cached_steps(self) -> int:
        return len(self._cache)

    def _drop_pending(self, status: str) -> None:
        self._pending = None
        self.panel.set_busy(False, status)

    def _tokens(self) -> tuple[int, ...]:
        """The shown decode's token ids (kept per snapshot: every cache key holds them)."""
        snapshot = self.state.snapshot
        if self._tokens_of[0] is not snapshot:
            self._tokens_of = (snapshot, tuple(int(s.token_id) for s in snapshot.steps))
        return self._tokens_of[1]

    def _cache_key(self, step: int) -> tuple:
        """The cache key of ``step`` of the shown decode with the panel's method; the
        panel's foil applies to the selected step only."""
        foil = self.panel.foil() if step == self.state.shown_step() else None
        return self._plain_key(step, foil)

    def _plain_key(self, step: int, foil: int | None) -> tuple:
        return (self.state.session_key, self._tokens(), self.panel.method(), foil, step)

    # -- answers ------------------------------------------------------------
    def _on_explained(self, answer: ExplainAnswer) -> None:
        request = self._pending
        if request is None or answer.serial != request.serial:
            return  # a stale answer: another request, decode or model since
        self._pending = None
        for row, step in enumerate(request.steps):
            key = (request.key, request.tokens, request.method, request.foil, step)
            self._cache[key] = StepExplanation(
                answer.scores[row],
                None if answer.pixels is None else answer.pixels[row],
                None if answer.agreement is None else answer.agreement[row],
            )
        while len(self._cache) > CACHE_STEPS:
            self._cache.popitem(last=False)
        steps = len(request.steps)
        self.panel.set_busy(False, f"{steps} step(s) in {answer.seconds:.2f} s")
        self.answers += 1
        self._redraw()

    def _on_progress(self, serial: int, done: int, total: int) -> None:
        if self._pending is not None and serial == self._pending.serial:
            self.panel.set_progress(done, total)

    def _on_answered(self, serial: int) -> None:
        """The worker is past request ``-serial``: without an answer it was cancelled or
        refused (the window shows the worker's message)."""
        if self._pending is not None and serial == -self._pending.serial:
            self._drop_pending("Stopped.")

    # -- the state --------------------------------------------------------------
    def _on_summary_changed(self, _summary) -> None:
        """Another model: its explanations start from nothing."""
        self._cache.clear()
        self._drop_pending("")
        self.panel.show_image_view(self.state.task == "captioning")
        self.panel.text_view.clear()
        self.panel.image_view.clear()
        self.panel.agreement_label.clear()

    def _on_session_key_changed(self, _key) -> None:
        if self._pending is not None:
            self._drop_pending("")  # the worker was told to stop by the new decode

    def _on_snapshot_changed(self, snapshot) -> None:
        """Drawn at once when the decode is finished, else at most every REDRAW_MS (two
        heat maps redrawn at every step of a Run would slow it)."""
        if not self._is_shown():
            return
        if snapshot is None or snapshot.done:
            self._redraw_timer.stop()
            self._redraw()
        elif not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def _on_selected_step_changed(self, _step) -> None:
        self._on_choice_changed()

    def _on_choice_changed(self) -> None:
        """Method, foil, scope or step changed: draw; explain a selected step on its own
        when the panel is shown and the decode is finished."""
        if not self._is_shown():
            return  # drawn when it is shown (panel_shown)
        self._update_foils()
        self._redraw()
        snapshot = self.state.snapshot
        auto = self.panel.scope() != WHOLE_OUTPUT and snapshot is not None and snapshot.done
        if auto:
            self.explain()

    def panel_shown(self) -> None:
        """The panel became visible: draw what is cached for the shown decode."""
        self._update_foils()
        self._redraw()

    # -- drawing ------------------------------------------------------------
    def matrix(self) -> np.ndarray:
        """(T, S) float32 raw attributions of the shown decode with the panel's method;
        NaN rows are steps not explained yet (the exports write this)."""
        snapshot = self.state.snapshot
        if snapshot is None or not snapshot.steps:
            return np.zeros((0, 0), dtype=np.float32)
        width = _source_width(snapshot)
        matrix = np.full((len(snapshot.steps), width), np.nan, dtype=np.float32)
        for step in range(len(snapshot.steps)):
            found = self._cache.get(self._cache_key(step))
            if found is not None and found.scores.shape == (width,):
                matrix[step] = found.scores
        return matrix

    def attribution_entries(self) -> list[dict]:
        """The shown decode's explained steps for its decode record, one entry per method
        and foil (engine/decode_record.attribution_entry), steps ascending."""
        from attnscope.engine.decode_record import attribution_entry

        snapshot = self.state.snapshot
        if snapshot is None or not snapshot.steps:
            return []
        key, tokens, width = self.state.session_key, self._tokens(), _source_width(snapshot)
        groups: dict[tuple, dict[int, np.ndarray]] = {}
        for (k, t, method, foil, step), found in self._cache.items():
            if k == key and t == tokens and found.scores.shape == (width,):
                groups.setdefault((method, foil), {})[step] = found.scores
        entries = []
        for (method, foil), rows in groups.items():
            steps = sorted(rows)
            scores = np.stack([rows[s] for s in steps])
            entries.append(attribution_entry(method, steps, scores, foil))
        return entries

    def _update_foils(self) -> None:
        snapshot, step = self.state.snapshot, self.state.shown_step()
        if snapshot is None or step is None:
            self.panel.set_foils([])
            return
        chosen = snapshot.steps[step]
        self.panel.set_foils(
            [
                (int(i), display_piece(p), float(prob))
                for i, p, prob in zip(
                    chosen.topk_ids, chosen.topk_pieces, chosen.topk_probs, strict=True
                )
                if int(i) != chosen.token_id
            ]
        )

    def _redraw(self) -> None:
        snapshot, step = self.state.snapshot, self.state.shown_step()
        if snapshot is None or not snapshot.steps:
            self.panel.text_view.clear()
            self.panel.image_view.clear()
            self.panel.agreement_label.setText("")
            return
        matrix = self.matrix()
        if snapshot.grid is not None:
            self._draw_image_step(snapshot, step)
        else:
            source = [display_piece(p) for p in snapshot.source_pieces]
            target = [display_piece(p) for p in snapshot.target_pieces]
            self.panel.text_view.show_matrices(
                source,
                target,
                snapshot.attention,
                matrix,
                step,
                layers=snapshot.num_layers,
                source_mixing=snapshot.source_mixing,
            )
        self.panel.agreement_label.setText(self._agreement_text(snapshot, step))

    def _draw_image_step(self, snapshot, step: int) -> None:
        h, w = snapshot.grid
        attention = None
        if snapshot.attention is not None and snapshot.num_heads:
            attention = snapshot.attention[step].mean(axis=0).reshape(h, w)  # (h, w)
        found = self._cache.get(self._cache_key(step))
        cells = None if found is None else found.scores.reshape(h, w)  # (h, w)
        pixels = None if found is None else found.pixels  # (H, W) or None
        word = display_piece(snapshot.target_pieces[step])
        note = f"Step {step + 1} {word!r}"
        if found is None:
            note += ": not explained yet (Explain, Ctrl+E)"
        if attention is None:
            note += ". This model has no attention: the attribution alone."
        self.panel.image_view.show_step(snapshot.image, attention, cells, pixels, note)

    def _agreement_text(self, snapshot, step: int) -> str:
        if snapshot.attention is None or not snapshot.num_heads:
            return "No attention to compare with: the attribution alone."
        found = self._cache.get(self._cache_key(step))
        parts = []
        if found is not None and found.agreement is not None:
            a = found.agreement
            parts.append(
                f"Step {step + 1}: Spearman ρ {a.spearman:.2f} · top-1 "
                f"{'match' if a.top1 else 'differs'} · JSD {a.jsd:.3f}"
            )
        rows = [self._cache.get(self._plain_key(s, None)) for s in range(len(snapshot.steps))]
        agreements = [r.agreement for r in rows if r is not None and r.agreement is not None]
        if agreements:
            rho, top1, jsd = mean_agreement(agreements)
            parts.append(
                f"mean over {len(agreements)} of {len(snapshot.steps)} steps: ρ {rho:.2f} · "
                f"top-1 {top1}/{len(agreements)} · JSD {jsd:.3f}"
            )
        return "   |   ".join(parts) if parts else "Not explained yet: Explain (Ctrl+E)."


def _source_width(snapshot) -> int:
    """S: source tokens, or grid cells for a picture."""
    if snapshot.grid is not None:
        return int(snapshot.grid[0] * snapshot.grid[1])
    return len(snapshot.source_pieces)


def _attention_rows(snapshot, steps: tuple[int, ...]) -> np.ndarray | None:
    """(len(steps), S) attention of ``steps``, heads averaged; None without attention."""
    if snapshot.attention is None or not snapshot.num_heads:
        return None
    return snapshot.attention[list(steps)].mean(axis=1).astype(np.float32)


def _attention_edits(snapshot) -> tuple:
    """The shown decode's attention edits, replayed by the attribution as shown."""
    from attnscope.engine.interventions import AttentionEdit

    return tuple(i for i in snapshot.interventions if isinstance(i, AttentionEdit))
