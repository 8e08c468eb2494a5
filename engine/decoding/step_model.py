"""The step-model protocol: what the decode loop needs from any encoder–decoder.

Every model family plugs in here: the project's own RNN models (models/seq2seq.py),
the scripted stand-in used by tests (engine/decoding/scripted.py), and later
Hugging Face encoder–decoders (the key/value cache as the state) and imported
OpenNMT-py models. Greedy, beam and sampling search, the step-wise session, the
reference check and the GUI's stepping all sit on these three calls:

- ``init_state(memory)``: the decoder state before the first token;
- ``step(prev_tokens, state, memory)``: one token per row;
- ``reorder(state, index)``: keep the rows ``index`` names, in that order (beam search
  reorders its hypotheses, and finished inputs leave the batch).

The memory is the encoded input; the loop only reads its padding ``mask`` and asks it
to repeat rows (one per beam hypothesis) or keep some of them.
"""

from __future__ import annotations

from typing import Protocol, Self, TypeVar, runtime_checkable

from torch import Tensor


class StepMemory(Protocol):
    """The encoded input, one row per input (or per hypothesis once repeated).

    mask: (N, S) bool, True on real source positions (tokens or image grid cells)
    """

    mask: Tensor

    def index_select(self, index: Tensor) -> Self:
        """Keep rows ``index`` (N',) long, in that order."""
        ...

    def repeat_interleave(self, times: int) -> Self:
        """Each row ``times`` times in a row: (N, …) -> (N·times, …)."""
        ...


State = TypeVar("State")
Memory = TypeVar("Memory", bound=StepMemory)


@runtime_checkable
class StepModel(Protocol[State, Memory]):
    """An encoder–decoder as the decode loop sees it (in eval mode).

    num_heads: attention heads returned per step; 0 when the model has no attention.
    """

    num_heads: int

    def init_state(self, memory: Memory) -> State:
        """The decoder state before bos, one row per row of ``memory``."""
        ...

    def step(
        self, prev_tokens: Tensor, state: State, memory: Memory
    ) -> tuple[Tensor, State, Tensor | None]:
        """prev_tokens (N,) long -> log_probs (N, V) log-softmaxed, the new state, and the
        attention of this step (N, heads, S) over ``memory``'s positions (exactly 0 on
        padding, rows sum to 1), or None without attention."""
        ...

    def reorder(self, state: State, index: Tensor) -> State:
        """The state of rows ``index`` (N',) long, in that order."""
        ...
