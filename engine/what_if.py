"""The attention what-if of a text decode: edit one step's attention, continue, compare.

``what_if(opened, at_step, weights)`` runs the decode as it was to its end (the
"before"), then rewinds to ``at_step``, takes that step attending with the edited
weights (``DecodeSession.edit_attention``: the model's attention-override hook) and
continues with the model's own attention to the end (the "after"). It hands back both
view records and their word-level diff (engine/decode_diff.py). The session is left on
the edited decode, so Step, Back and Run carry on from there; a refused edit or a
cancel leaves the session exactly as it was.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from attnscope.engine.decode_diff import DecodeDiff, diff_outputs
from attnscope.engine.decoding.step_loop import CancelFlag
from attnscope.engine.errors import DecodeCancelled
from attnscope.engine.inference_results import SessionSnapshot
from attnscope.engine.interventions import AttentionEdit
from attnscope.engine.snapshot import OpenSession


@dataclass(frozen=True)
class WhatIf:
    """The original decode and the edited one, both continued to their end.

    before, after:  the view records (SessionSnapshot) without and with the edit
    diff:           word-level diff of before -> after (tokens and probabilities)
    edit:           the AttentionEdit taken (step, weights (heads, S) float32)
    first_token_ms: wall time from the edit to its step's new token (rewind + one step)
    """

    before: SessionSnapshot
    after: SessionSnapshot
    diff: DecodeDiff
    edit: AttentionEdit
    first_token_ms: float


def snapshot_diff(before: SessionSnapshot, after: SessionSnapshot) -> DecodeDiff:
    """Word-level diff of two view records' shown hypotheses."""
    return diff_outputs(
        before.target_pieces,
        [step.log_prob for step in before.steps],
        after.target_pieces,
        [step.log_prob for step in after.steps],
    )


def what_if(
    opened: OpenSession,
    at_step: int,
    weights: np.ndarray | AttentionEdit,
    *,
    cancel: CancelFlag | None = None,
) -> WhatIf:
    """Edit the attention of step ``at_step`` to ``weights`` (heads, S) and compare the
    decode continued from there with the original continued to its end.

    ValueError for an edit the model or step refuses (see ``edit_attention``);
    DecodeCancelled when ``cancel`` is set. Either way the session is left as it was.
    """
    edit = weights if isinstance(weights, AttentionEdit) else AttentionEdit(at_step, weights)
    session = opened.session
    saved = session.save()
    try:
        session.run(cancel=cancel)
        before = opened.snapshot()
        start = time.perf_counter()
        session.edit_attention(at_step, edit)
        first_token_ms = (time.perf_counter() - start) * 1000
        session.run(cancel=cancel)
        after = opened.snapshot()
    except (ValueError, DecodeCancelled):
        session.restore(saved)
        raise
    return WhatIf(before, after, snapshot_diff(before, after), edit, first_token_ms)


__all__ = ["WhatIf", "snapshot_diff", "what_if"]
