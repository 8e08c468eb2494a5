"""``DecodeSession``: the step-wise decode of one input that the GUI drives.

It wraps the same ``DecodeStepper`` as ``decode()``, so stepping to the end
gives exactly the full decode's tokens and attention. Before every step the
stepper is saved (a few references: decoder states and strategy bookkeeping
are immutable), which makes ``back()``, ``force()`` and ``edit_attention()``
cheap and exact. The session keeps what the user imposed (forced tokens and
attention edits, ``interventions()``), and ``replay()`` takes them again.
Running several steps goes through the one step loop (``StepLoop``), like
every other consumer. With beam search one step expands every hypothesis of the beam; the
session shows the current best one and the search tree.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from attnscope.engine.decoding.config import DecodeConfig
from attnscope.engine.decoding.driver import DecodeStepper, SavedStepper
from attnscope.engine.decoding.results import DecodeResult, Hypothesis, SearchTree, StepResult
from attnscope.engine.decoding.step_loop import CancelFlag, StepLoop, StopHook
from attnscope.engine.decoding.step_model import StepMemory, StepModel
from attnscope.engine.interventions import AttentionEdit, ForceToken, plan_from_interventions

Imposed = ForceToken | AttentionEdit


@dataclass(frozen=True)
class SavedSession:
    """A DecodeSession at one moment (``save()`` / ``restore()``): its stepper (the object,
    which a ``reset`` replaces, and its save point), undo points, steps and interventions,
    all referenced (they are immutable)."""

    loop: DecodeStepper
    stepper: SavedStepper
    undo: tuple[SavedStepper, ...]
    history: tuple[StepResult, ...]
    imposed: tuple[Imposed | None, ...]


class DecodeSession:
    """Decode one input token by token, with undo and forced choices.

    model:  anything with the step-model protocol, in eval mode
    memory: the input's encoded memory (batch 1)
    config: how to decode (greedy, beam or sampling)
    stepper_options: keyword options of its DecodeStepper (``ban_eos_until``)
    """

    def __init__(
        self, model: StepModel, memory: StepMemory, config: DecodeConfig, **stepper_options: Any
    ) -> None:
        if memory.mask.size(0) != 1:
            raise ValueError(
                f"a DecodeSession decodes one input, got a batch of {memory.mask.size(0)}"
            )
        self.model = model
        self.memory = memory
        self.config = config
        self.stepper_options = stepper_options
        self.source_length = int(memory.mask.sum())
        self.reset()

    def reset(self) -> None:
        """Back to the start: no tokens, a fresh strategy (sampling restarts from its seed)."""
        # a session records step entropies (breakpoints, the view record) whatever the config
        # says: one more pass over a batch-1 step's (k, V) log-probs is cheap
        recording = replace(self.config, step_entropy=True)
        self._loop = DecodeStepper(self.model, self.memory, recording, **self.stepper_options)
        self._undo: list[SavedStepper] = []  # _undo[i]: the stepper before step i
        self._history: list[StepResult] = []
        self._imposed: list[Imposed | None] = []  # _imposed[i]: what step i took, None: the model

    # -- stepping -------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self._loop.done

    @property
    def history(self) -> list[StepResult]:
        """The StepResults so far, one per step (a copy)."""
        return list(self._history)

    @property
    def step_index(self) -> int:
        """Number of steps taken = index of the next step."""
        return len(self._history)

    def step(self, forced: int | AttentionEdit | None = None) -> StepResult:
        """Generate one token (beam: expand every hypothesis once); ``forced`` imposes it,
        or, an AttentionEdit of this step, the attention it is chosen with.

        A refused token (outside the vocabulary, or impossible here) or edit raises
        ValueError and changes nothing.
        """
        if self.done:
            raise ValueError("the decode is finished; step back, force a token or reset")
        imposed = self._imposed_at(forced)
        saved = self._loop.save()
        results = self._loop.step(forced)
        if not results:  # beam: every extension had probability 0
            self._loop.restore(saved)
            raise ValueError(f"token {forced} has probability 0 here; it cannot be forced")
        self._undo.append(saved)
        self._history.append(results[0])
        self._imposed.append(imposed)
        return results[0]

    def _imposed_at(self, forced: int | AttentionEdit | None) -> Imposed | None:
        """What ``forced`` imposes on the next step, checked against the model and source."""
        index = self.step_index
        if isinstance(forced, AttentionEdit):
            self._check_edit(forced)
            return forced
        if forced is None:
            return None
        vocab = self._loop.vocab_size
        if forced < 0 or (vocab is not None and forced >= vocab):
            raise ValueError(f"forced token id {forced} outside the vocabulary of {vocab}")
        return ForceToken(step=index, token_id=forced)

    def _check_edit(self, edit: AttentionEdit) -> None:
        """ValueError unless ``edit`` is for the next step and fits the model and source."""
        heads, length = edit.weights.shape
        if edit.step != self.step_index:
            raise ValueError(
                f"the edit is for step {edit.step}; the next step is {self.step_index}"
            )
        if self.model.num_heads == 0:
            raise ValueError("this model has no attention; there are no attention weights to edit")
        if (heads, length) != (self.model.num_heads, self.source_length):
            raise ValueError(
                f"the edited attention has {heads} head(s) over {length} source positions; "
                f"this model has {self.model.num_heads} over the source's {self.source_length}"
            )

    def steps(
        self,
        until: int | None = None,
        cancel: CancelFlag | None = None,
        *,
        plan: Sequence[int | AttentionEdit | None] = (),
        stop: StopHook | None = None,
    ) -> StepLoop[StepResult]:
        """The step loop over this session: iterate it (or ``.run()``) to take the steps.

        until: stop once this many steps exist; plan: tokens (or AttentionEdits) imposed
        at steps 0, 1, … (None: the model's choice); cancel: checked before every step, raises
        DecodeCancelled (the steps already taken stay); stop: the breakpoint hook.
        """
        return StepLoop(self, until=until, plan=plan, cancel=cancel, stop=stop)

    def run_iter(
        self, until: int | None = None, cancel: CancelFlag | None = None
    ) -> Iterator[StepResult]:
        """Step until done (or until ``until`` steps were taken), yielding each step."""
        return iter(self.steps(until, cancel))

    def run(self, until: int | None = None, cancel: CancelFlag | None = None) -> list[StepResult]:
        """Every step until done (or ``until``); returns the new steps."""
        return self.steps(until, cancel).run()

    def back(self) -> StepResult | None:
        """Undo the last step exactly; returns it, or None when there is nothing to undo."""
        if not self._undo:
            return None
        self._loop.restore(self._undo.pop())
        self._imposed.pop()
        return self._history.pop()

    def force(self, token_id: int, at_step: int | None = None) -> StepResult:
        """Rewind to ``at_step``, take ``token_id`` there instead, and return that step.

        ``at_step`` defaults to the latest step (the first one before any step);
        it may also be the next step. Later steps are dropped; ``step()`` or
        ``run()`` continue from the forced token. With beam search every
        hypothesis of the beam takes the token.
        """
        if at_step is None:
            at_step = max(self.step_index - 1, 0)
        return self._retake(at_step, token_id, "force")

    def edit_attention(self, at_step: int, weights: np.ndarray | AttentionEdit) -> StepResult:
        """Rewind to ``at_step`` and take that step attending with ``weights`` (heads, S)
        instead of the model's own attention; returns that step.

        The weights must be finite, non-negative, each head's row summing to 1 over the
        source's S positions (see engine/interventions.py's ``pin``, ``zero``,
        ``set_weight``). The model chooses the token from the edited context; later steps
        are dropped, and ``step()`` / ``run()`` continue with the model's own attention.
        With beam search every hypothesis of the beam attends with the edit. A refused
        edit (bad shape or values, a model without attention) raises ValueError and
        changes nothing; ``back()`` undoes the edited step exactly.
        """
        if isinstance(weights, AttentionEdit):
            if weights.step != at_step:
                raise ValueError(f"the edit is for step {weights.step}, not step {at_step}")
            edit = weights
        else:
            edit = AttentionEdit(step=at_step, weights=weights)
        return self._retake(at_step, edit, "edit the attention of")

    def _retake(self, at_step: int, forced: int | AttentionEdit, verb: str) -> StepResult:
        """Rewind to ``at_step`` and step it with ``forced``; a refusal changes nothing."""
        if not 0 <= at_step <= self.step_index:
            raise ValueError(f"cannot {verb} step {at_step}; steps 0..{self.step_index} exist")
        if at_step == self.step_index and self.done:
            raise ValueError(f"the decode is finished; {verb} an earlier step")
        now = self.save()
        if at_step < self.step_index:
            self._loop.restore(self._undo[at_step])
            del self._undo[at_step:]
            del self._history[at_step:]
            del self._imposed[at_step:]
        try:
            return self.step(forced)
        except ValueError:
            self.restore(now)  # a refusal changes nothing
            raise

    def save(self) -> SavedSession:
        """This moment of the session, to come back to with ``restore`` (cheap)."""
        return SavedSession(
            self._loop,
            self._loop.save(),
            tuple(self._undo),
            tuple(self._history),
            tuple(self._imposed),
        )

    def restore(self, saved: SavedSession) -> None:
        """Back to the moment ``saved`` was taken, exactly."""
        self._loop = saved.loop
        self._loop.restore(saved.stepper)
        self._undo, self._history = list(saved.undo), list(saved.history)
        self._imposed = list(saved.imposed)

    # -- what the user imposed ----------------------------------------------------
    def interventions(self) -> tuple[ForceToken | AttentionEdit, ...]:
        """The forced tokens and attention edits of the steps taken, in step order."""
        return tuple(item for item in self._imposed if item is not None)

    def replay(
        self,
        interventions: Sequence[ForceToken | AttentionEdit],
        until: int | None = None,
        cancel: CancelFlag | None = None,
        *,
        stop: StopHook | None = None,
    ) -> list[StepResult]:
        """From the start, take ``interventions`` again through the step loop (their
        steps in its plan) and step on until done, ``until`` steps or ``stop``; the
        same model and settings give the same tokens and attention, bit for bit."""
        plan = plan_from_interventions(interventions)
        self.reset()
        return self.steps(until, cancel, plan=plan, stop=stop).run()

    # -- what the views show -----------------------------------------------------
    def result(self) -> DecodeResult:
        """The decode so far: n-best (mid-decode: best live hypotheses), steps and tree."""
        return self._loop.results()[0]

    def current(self) -> Hypothesis:
        """The best hypothesis now (with beam, the best of the beam and the finished)."""
        return self.result().best

    @property
    def tokens(self) -> tuple[int, ...]:
        """Token ids of the current best hypothesis."""
        return self.current().tokens

    @property
    def tree(self) -> SearchTree:
        return self.result().tree

    def attention_matrix(self) -> np.ndarray:
        """(T, heads, S) float32 attention of the current best hypothesis (heads = 0 without)."""
        hypothesis = self.current()
        if hypothesis.attention is not None:
            return hypothesis.attention
        return np.zeros((len(hypothesis.tokens), 0, self.source_length), dtype=np.float32)
