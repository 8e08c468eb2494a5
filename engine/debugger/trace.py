"""What breakpoint conditions read: one hypothesis, position by position (position t = step t).

``HypothesisTrace`` holds, for every generated token, the token, its probability,
the entropy of the distribution it came from, the model's top candidate there,
the attention's strongest source position (heads averaged) and the running
coverage. Conditions look at one position and the ones before it, so the same
code serves a finished hypothesis (``from_arrays``, what ``translate --flag``
scans) and a decode in progress (``SessionTrace``, the stop hook's view of a
session, which extends the trace by the new step instead of rebuilding it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from attnscope.engine.debugger.coverage import (
    content_positions,
    non_word_positions,
    running_coverage,
    word_starts,
)
from attnscope.engine.decoding.results import StepResult

NO_ID = -1  # unknown top candidate, or no attention to take an argmax of


@dataclass(frozen=True)
class TraceLabels:
    """How messages name things: ``piece(id)`` for target tokens, ``source_pieces`` for a
    text's source positions or ``grid`` (h, w) for a picture's cells; None: by number."""

    piece: Callable[[int], str] | None = None
    source_pieces: Sequence[str] | None = None
    grid: tuple[int, int] | None = None


class HypothesisTrace:
    """One hypothesis as parallel lists, one entry per position.

    tokens (int), probs (float, of the chosen token), entropies (float, NaN when
    the decode did not record them), top_ids (int, NO_ID when unknown), argmax
    (int, NO_ID without attention), coverage ((S,) float32 after the position,
    None without attention), keys (where a session trace took each position from).
    """

    def __init__(
        self, source_length: int, *, source_eos: bool = True, labels: TraceLabels | None = None
    ) -> None:
        self.source_length = int(source_length)
        self.content = content_positions(self.source_length, source_eos=source_eos)
        self.labels = labels or TraceLabels()
        # the first piece of each content word, when the source pieces are known
        pieces = self.labels.source_pieces
        self.word_starts: np.ndarray | None = None
        # (content,) bool: content positions that are no word (a leading <s>), when known
        self.non_words: np.ndarray | None = None
        if pieces is not None and len(pieces) == self.source_length:
            self.word_starts = word_starts(pieces[: self.content])
            non_words = non_word_positions(pieces[: self.content])
            self.non_words = non_words if non_words.any() else None
        self.tokens: list[int] = []
        self.probs: list[float] = []
        self.entropies: list[float] = []
        self.top_ids: list[int] = []
        self.argmax: list[int] = []
        self.coverage: list[np.ndarray | None] = []
        self.keys: list[tuple[StepResult, int] | None] = []
        self._pieces: dict[int, str] = {}  # labels.piece, asked once per token id

    def __len__(self) -> int:
        return len(self.tokens)

    def append(
        self,
        token: int,
        log_prob: float,
        *,
        entropy: float = math.nan,
        top_id: int = NO_ID,
        attention: np.ndarray | None = None,
        key: tuple[StepResult, int] | None = None,
    ) -> None:
        """Add the next position; attention: its (heads, S) row, None without attention."""
        self.tokens.append(int(token))
        self.probs.append(math.exp(log_prob) if log_prob > -math.inf else 0.0)
        self.entropies.append(float(entropy))
        self.top_ids.append(int(top_id))
        self.keys.append(key)
        if attention is None or attention.shape[0] == 0:
            self.argmax.append(NO_ID)
            self.coverage.append(None)
            return
        heads = attention.shape[0]
        row = np.add.reduce(attention, axis=0)  # (S,); what attention.mean(axis=0) computes,
        if heads > 1:  # without its overhead (a step's check has to be cheap)
            row /= heads
        previous = self.coverage[-1] if self.coverage else None
        self.argmax.append(int(row.argmax()))
        self.coverage.append(row if previous is None else previous + row)

    def truncate(self, length: int) -> None:
        """Keep the first ``length`` positions."""
        for column in (
            self.tokens,
            self.probs,
            self.entropies,
            self.top_ids,
            self.argmax,
            self.coverage,
            self.keys,
        ):
            del column[length:]

    # -- labels for messages -------------------------------------------------------------
    def piece_text(self, token: int) -> str | None:
        """The subword of a target id, None without labels."""
        if self.labels.piece is None:
            return None
        text = self._pieces.get(token)
        if text is None:
            text = self._pieces[token] = self.labels.piece(token)
        return text

    def piece(self, t: int) -> str:
        """The token at position t as a message shows it: '▁dog', or 'token 57'."""
        text = self.piece_text(self.tokens[t])
        return f"token {self.tokens[t]}" if text is None else repr(text)

    def source_label(self, s: int) -> str:
        """Source position s as a message shows it: '▁Hund' (source 3), cell (1, 2), source 3."""
        pieces = self.labels.source_pieces
        if pieces is not None and 0 <= s < len(pieces):
            return f"{pieces[s]!r} (source {s})"
        if self.labels.grid is not None:
            return f"cell ({s // self.labels.grid[1]}, {s % self.labels.grid[1]})"
        return f"source {s}"

    def word_label(self, word: int) -> str:
        """Content word ``word`` as a message shows it: '▁Gemüse' (source 3), or with its
        pieces' range when it has several: '▁eine'+'m' (source 4–5)."""
        starts, pieces = self.word_starts, self.labels.source_pieces
        if starts is None or pieces is None:
            return self.source_label(word)
        first = int(starts[word])
        end = int(starts[word + 1]) if word + 1 < starts.size else self.content
        if end - first == 1:
            return self.source_label(first)
        joined = "+".join(repr(p) for p in pieces[first:end])
        return f"{joined} (source {first}–{end - 1})"

    # -- a finished hypothesis -------------------------------------------------------------
    @classmethod
    def from_arrays(
        cls,
        tokens: Sequence[int] | np.ndarray,
        token_log_probs: np.ndarray,
        entropies: np.ndarray | None,
        attention: np.ndarray | None,
        source_length: int,
        *,
        top_ids: Sequence[int] | np.ndarray | None = None,
        source_eos: bool = True,
        labels: TraceLabels | None = None,
    ) -> HypothesisTrace:
        """The trace of a whole hypothesis.

        tokens (T,) ids, token_log_probs (T,), entropies (T,) or None, attention
        (T, heads, S) or None (S = source_length), top_ids (T,) the model's first
        candidate at each step or None.
        """
        tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
        length = tokens.size
        log_probs = _column(token_log_probs, length, "token_log_probs")
        entropy = _column(entropies, length, "entropies")
        top = _column(top_ids, length, "top_ids")
        trace = cls(source_length, source_eos=source_eos, labels=labels)
        coverage = None
        if attention is not None and np.asarray(attention).shape[1:2] != (0,):
            attention = np.asarray(attention, dtype=np.float32)
            if attention.shape[0] != length or attention.shape[2] != source_length:
                raise ValueError(
                    f"attention must be ({length}, heads, {source_length}), got {attention.shape}"
                )
            coverage = running_coverage(attention)  # (T, S)
            argmax = attention.mean(axis=1).argmax(axis=1)  # (T,)
        for t in range(length):
            trace.tokens.append(int(tokens[t]))
            trace.probs.append(math.exp(log_probs[t]) if log_probs[t] > -math.inf else 0.0)
            trace.entropies.append(math.nan if entropy is None else float(entropy[t]))
            trace.top_ids.append(NO_ID if top is None else int(top[t]))
            trace.argmax.append(NO_ID if coverage is None else int(argmax[t]))
            trace.coverage.append(None if coverage is None else coverage[t])
            trace.keys.append(None)
        return trace


def _column(values, length: int, name: str) -> np.ndarray | None:
    if values is None:
        return None
    array = np.asarray(values).reshape(-1)
    if array.size != length:
        raise ValueError(f"{name} has {array.size} values for {length} tokens")
    return array


class SessionTrace:
    """The trace of a step-wise decode's best hypothesis, kept up to date step by step.

    ``update(step_result)`` after each step follows the best new hypothesis (row 0
    of the step: greedy and sampling have one; with beam search the leader) back
    through its parents until it meets a position the trace already holds, so a
    step usually adds one position; Back, Force and Reset simply make it rebuild
    the positions that changed.
    """

    def __init__(
        self, source_length: int, *, source_eos: bool = True, labels: TraceLabels | None = None
    ) -> None:
        self.trace = HypothesisTrace(source_length, source_eos=source_eos, labels=labels)

    def update(self, step_result: StepResult, history: Sequence[StepResult]) -> HypothesisTrace:
        """The trace through ``step_result``'s best hypothesis (position = its step);
        ``history``: the session's steps, ``history[i]`` the StepResult of step i."""
        trace = self.trace
        tail: list[tuple[StepResult, int]] = []
        current, row, position = step_result, 0, step_result.step
        while True:
            if position < len(trace):
                key = trace.keys[position]
                if key is not None and key[0] is current and key[1] == row:
                    break  # this position and every earlier one are already there
            tail.append((current, row))
            if position == 0:
                position = -1
                break
            parent = int(current.parent_ids[row])
            position -= 1
            current = history[position]
            row = 0 if current.node_ids.size == 1 else current.node_ids.tolist().index(parent)
        trace.truncate(position + 1)
        for current, row in reversed(tail):
            trace.append(
                int(current.tokens[row]),
                float(current.log_probs[row]),
                entropy=math.nan if current.entropy is None else float(current.entropy[row]),
                top_id=int(current.topk_ids[row, 0]) if current.topk_ids.shape[1] else NO_ID,
                attention=None if current.attention is None else current.attention[row],
                key=(current, row),
            )
        return trace
