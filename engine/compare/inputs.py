"""One input through two models, everything compared: ``compare_input(a, b, source, ...)``.

What the compare view shows when both decodes are finished and what ``attnscope
compare`` prints per line: both models' own outputs (decoded in lockstep), the word diff
of the two outputs, each output scored by the other model (cross-scores), a reference
scored by both when there is one, and the two attentions over one output on a shared
grid (engine/compare/attention.py). The output compared is the reference when one is
given (and both models take it), else model A's own output; it is forced through both models, so A's row t and
B's row t are about the same token.

Nothing here refuses the whole input for one missing part: an output a model cannot
take (e.g. an empty one: the model said eos at once) leaves that cross-score None, and
a model without attention leaves the attention comparison None; ``notes`` says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from attnscope.engine.compare.attention import AttentionComparison, compare_attention
from attnscope.engine.compare.lockstep import LockstepPair
from attnscope.engine.compare.scoring import ForcedOutput, force_output
from attnscope.engine.decode_diff import DecodeDiff, diff_outputs
from attnscope.engine.decoding.step_loop import CancelFlag
from attnscope.engine.errors import InputTextError

if TYPE_CHECKING:
    from attnscope.engine.decoding.config import DecodeConfig
    from attnscope.engine.inference import InferenceModel
    from attnscope.engine.inference_results import SessionSnapshot


@dataclass(frozen=True)
class InputComparison:
    """Two models on one input.

    outputs:     each model's own finished decode (A, B)
    diff:        the two outputs word by word (A is "before", B "after")
    b_scores_a:  A's output forced through B (None: B could not take it, see notes)
    a_scores_b:  B's output forced through A
    reference:   the reference forced through A and through B (None without one; a
                 side None when that model could not take it)
    attention:   the two attentions over the compared output (None: see notes)
    """

    source: Any
    outputs: tuple[SessionSnapshot, SessionSnapshot]
    diff: DecodeDiff
    b_scores_a: ForcedOutput | None
    a_scores_b: ForcedOutput | None
    reference: tuple[ForcedOutput | None, ForcedOutput | None] | None
    attention: AttentionComparison | None
    notes: tuple[str, ...] = ()

    @property
    def own_log_probs(self) -> tuple[float, float]:
        """Each model's log-prob of its own output (sum over its tokens and eos)."""
        first, second = (sum(step.log_prob for step in s.steps) for s in self.outputs)
        return first, second


def word_diff(a: SessionSnapshot, b: SessionSnapshot) -> DecodeDiff:
    """The two outputs diffed word by word, each word with its own model's probability
    (engine/decode_diff.py); works across two target tokenizers, since words are text."""
    return diff_outputs(
        a.target_pieces,
        [step.log_prob for step in a.steps],
        b.target_pieces,
        [step.log_prob for step in b.steps],
    )


def compare_input(
    model_a: InferenceModel,
    model_b: InferenceModel,
    source: Any,
    config_a: DecodeConfig,
    config_b: DecodeConfig,
    *,
    reference: str | None = None,
    cancel: CancelFlag | None = None,
) -> InputComparison:
    """Decode ``source`` with both models and compare everything (see the module).

    Raises IncompatibleModelsError for a pair that does not compare, InputTextError
    when a model refuses the source, DecodeCancelled when ``cancel`` is set.
    """
    pair = LockstepPair(model_a, model_b, source, config_a, config_b)
    pair.run(cancel=cancel)
    own_a, own_b = pair.snapshots()
    force = _Forcer(source, cancel)
    b_scores_a = force(model_b, own_a.target_text, config_b, "B scoring A's output")
    a_scores_b = force(model_a, own_b.target_text, config_a, "A scoring B's output")
    by_reference = None
    if reference is not None:
        by_reference = (
            force(model_a, reference, config_a, "A scoring the reference"),
            force(model_b, reference, config_b, "B scoring the reference"),
        )
    attention = None
    without = [name for name, m in (("A", model_a), ("B", model_b)) if not m.labels.num_heads]
    if without:  # no forced pass for a comparison that cannot be made
        force.notes.append(
            f"attention not compared: model {' and '.join(without)} has no attention"
        )
    elif by_reference is not None and None not in by_reference:
        attention = force.compare(*by_reference)
    else:
        a_own = force(model_a, own_a.target_text, config_a, "A's output forced through A")
        attention = force.compare(a_own, b_scores_a)
    return InputComparison(
        source=source,
        outputs=(own_a, own_b),
        diff=word_diff(own_a, own_b),
        b_scores_a=b_scores_a,
        a_scores_b=a_scores_b,
        reference=by_reference,
        attention=attention,
        notes=tuple(force.notes),
    )


class _Forcer:
    """Forces outputs through a model for one input, noting what could not be done."""

    def __init__(self, source: Any, cancel: CancelFlag | None) -> None:
        self.source, self.cancel = source, cancel
        self.notes: list[str] = []

    def __call__(self, model, text: str, config, who: str) -> ForcedOutput | None:
        try:
            return force_output(model, self.source, text, config, cancel=self.cancel)
        except InputTextError as exc:
            self.notes.append(f"{who}: {exc}")
            return None

    def compare(
        self, first: ForcedOutput | None, second: ForcedOutput | None
    ) -> AttentionComparison | None:
        if first is None or second is None:
            return None  # the note says which output could not be forced
        try:
            return compare_attention(first.snapshot, second.snapshot)
        except ValueError as exc:
            self.notes.append(f"attention not compared: {exc}")
            return None
