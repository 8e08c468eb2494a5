"""The Explain panel's work, as plain data in and out: what to explain, and the answer.

The GUI builds an ``ExplainRequest`` from the shown decode (its source, the shown
tokens, the attention edits it holds) and the worker thread runs ``run_explain``
on it (gui/worker.py, ``ModelWorker.explain``). The attribution is the engine's
(``attnscope.engine.explain``, imported here on the first request: torch and
Captum stay out of the window's start-up). The answer carries the request's
serial so the GUI can drop an answer that arrived after the user moved on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

PROGRESS_INTERVAL_S = 1 / 30  # progress reaches the GUI at most ~30 times a second


@dataclass(frozen=True)
class ExplainRequest:
    """Explain ``steps`` of the shown decode with ``method``.

    serial:    the GUI's number for this request (answers of older ones are dropped)
    key:       the SessionKey of the decode shown when it was asked
    source:    the text, or the picture (H, W, 3) uint8, that was decoded
    tokens:    the shown hypothesis's token ids, teacher-forced as they are shown
    steps:     0-based steps to attribute
    method:    one of attnscope.engine.explain.METHODS
    foil:      a token id: explain log p(token) - log p(foil) instead, else None
    edits:     the decode's attention edits (AttentionEdit), replayed as shown
    attention: (len(steps), S) attention rows (heads averaged) of those steps, for
               the agreement; None for a model without attention
    """

    serial: int
    key: Any
    source: Any
    tokens: tuple[int, ...]
    steps: tuple[int, ...]
    method: str
    foil: int | None = None
    edits: tuple = ()
    attention: np.ndarray | None = None


@dataclass(frozen=True)
class StepAgreement:
    """How far one step's attention and attribution agree (engine Agreement, as plain data)."""

    spearman: float
    top1: bool
    jsd: float


@dataclass(frozen=True)
class ExplainAnswer:
    """The attribution of ``request.steps``.

    scores:     (len(steps), S) float32, per source token or grid cell (row-major)
    pixels:     (len(steps), H, W) float32 per picture pixel, or None
    agreement:  one StepAgreement per step, None without attention
    seconds:    how long the work took in the worker
    """

    request: ExplainRequest
    scores: np.ndarray
    pixels: np.ndarray | None
    agreement: tuple[StepAgreement, ...] | None
    seconds: float

    @property
    def serial(self) -> int:
        return self.request.serial


def throttled(emit: Callable[[int, int, int], None], serial: int) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback that emits ``(serial, done, total)`` at most every
    PROGRESS_INTERVAL_S, and always the last one (a flood of signals would stall the GUI)."""
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if done >= total or now - last[0] >= PROGRESS_INTERVAL_S:
            last[0] = now
            emit(serial, int(done), int(total))

    return progress


def run_explain(
    model: Any,
    request: ExplainRequest,
    *,
    cancel: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExplainAnswer:
    """Attribute ``request``'s steps onto the input (in the worker thread), with the
    engine's ``explain`` and ``agreement`` (see ``load_engine``). Cancelling raises the
    engine's DecodeCancelled."""
    engine = load_engine()
    start = time.perf_counter()
    attribution = engine.explain(
        model,
        request.source,
        list(request.tokens),
        method=request.method,
        steps=list(request.steps),
        foil=request.foil,
        edits=request.edits,
        cancel=cancel,
        progress=progress,
    )
    scores = np.asarray(attribution.scores, dtype=np.float32)  # (len(steps), S)
    pixels = attribution.pixels
    pixels = None if pixels is None else np.asarray(pixels, dtype=np.float32)
    agreement = None
    if request.attention is not None:
        agreement = _agreements(engine.agreement, request.attention, scores)
    return ExplainAnswer(request, scores, pixels, agreement, time.perf_counter() - start)


def load_engine() -> Any:
    """The engine's attribution module, ``attnscope.engine.explain`` (``explain``,
    ``agreement``); imported on the first request, in the worker: it loads torch and Captum.
    Tests replace this function to run the panel on a fake."""
    import attnscope.engine.explain as engine

    return engine


def _agreements(
    agreement: Callable[..., Any], attention: np.ndarray, scores: np.ndarray
) -> tuple[StepAgreement, ...]:
    """One StepAgreement per row of ``attention`` (n, S) and ``scores`` (n, S)."""
    rows = []
    for attention_row, score_row in zip(attention, scores, strict=True):
        found = agreement(attention_row, score_row)
        rows.append(StepAgreement(float(found.spearman), bool(found.top1), float(found.jsd)))
    return tuple(rows)
