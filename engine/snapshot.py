"""The view record: ``OpenSession.snapshot()`` gives a ``SessionSnapshot``, built here only.

A ``SessionSnapshot`` (engine/inference_results.py) is everything the views draw
of one moment of a step-wise decode, as plain data: the shown hypothesis's
tokens with their top-k alternatives, its attention, the beam search tree and
each node's attention. It is built from the session's public results
(``DecodeSession.result()`` and ``history``), on the worker's side, and crosses
to the GUI as it is. "Snapshot" means this record and nothing else: the
session's undo points are "saved" states (engine/decoding/driver.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from attnscope.engine.decoding import EOS_ID, SearchTree, StepResult
from attnscope.engine.decoding.results import DecodeResult
from attnscope.engine.decoding.step_loop import CancelFlag
from attnscope.engine.inference_results import SessionSnapshot, TokenStep
from attnscope.engine.interventions import AttentionEdit, ForceToken
from attnscope.engine.scores import attention_scores
from attnscope.engine.session import DecodeSession

if TYPE_CHECKING:
    from attnscope.engine.what_if import WhatIf

ROOT_PIECE = "<s>"  # the beam tree's root node


@dataclass(frozen=True)
class TargetLabels:
    """How a model's target ids read: ``piece(id)`` for one token, ``text(ids)`` for a
    whole output (eos left out by the caller); ``num_heads`` attention rows a step,
    ``num_layers`` decoder layers stacked in them (layer-major)."""

    piece: Callable[[int], str]
    text: Callable[[Sequence[int]], str]
    num_heads: int
    num_layers: int = 1


@dataclass
class OpenSession:
    """A DecodeSession plus the input it decodes (text pieces, or a picture and its grid)."""

    session: DecodeSession
    labels: TargetLabels
    source_text: str
    source_pieces: tuple[str, ...]
    grid: tuple[int, int] | None = None
    image: np.ndarray | None = None  # (H, W, 3) uint8, captioning only
    source_mixing: np.ndarray | None = None  # (S, S) encoder rollout, Transformer encoders

    # -- the session's stepping, as the worker and the CLI use it -------------------
    @property
    def done(self) -> bool:
        return self.session.done

    @property
    def step_index(self) -> int:
        return self.session.step_index

    def step(self, forced: int | None = None) -> StepResult:
        return self.session.step(forced)

    def back(self) -> StepResult | None:
        return self.session.back()

    def force(self, token_id: int, at_step: int | None = None) -> StepResult:
        return self.session.force(token_id, at_step=at_step)

    def reset(self) -> None:
        self.session.reset()

    def run(self, until: int | None = None, cancel: CancelFlag | None = None) -> list[StepResult]:
        """Every step until done (or ``until``), through the step loop (``session.steps``)."""
        return self.session.run(until, cancel)

    def result(self) -> DecodeResult:
        return self.session.result()

    # -- the what-if --------------------------------------------------------------------
    def edit_attention(self, at_step: int, weights: np.ndarray | AttentionEdit) -> StepResult:
        """Retake step ``at_step`` attending with ``weights`` (heads, S); see
        DecodeSession.edit_attention."""
        return self.session.edit_attention(at_step, weights)

    def interventions(self) -> tuple[ForceToken | AttentionEdit, ...]:
        """The forced tokens and attention edits of the steps taken, in step order."""
        return self.session.interventions()

    def replay(
        self,
        interventions: Sequence[ForceToken | AttentionEdit],
        until: int | None = None,
        cancel: CancelFlag | None = None,
    ) -> list[StepResult]:
        """From the start, retake ``interventions`` through the step loop (DecodeSession.replay)."""
        return self.session.replay(interventions, until, cancel)

    def what_if(
        self,
        at_step: int,
        weights: np.ndarray | AttentionEdit,
        *,
        cancel: CancelFlag | None = None,
    ) -> WhatIf:
        """The decode before and after editing step ``at_step``'s attention, both run to
        the end, and their diff (engine/what_if.py); the session stays on the edited one."""
        from attnscope.engine.what_if import what_if

        return what_if(self, at_step, weights, cancel=cancel)

    def attention_scores(self) -> np.ndarray:
        """(T, heads, S) float32 raw pre-softmax scores of the shown hypothesis (the
        softmax over S gives its attention); (T, 0, S) without attention. See
        engine/scores.py."""
        session = self.session
        edits = [i for i in session.interventions() if isinstance(i, AttentionEdit)]
        return attention_scores(session.model, session.memory, session.tokens, edits)

    # -- the view record -------------------------------------------------------------
    def snapshot(self, *, step_ms: Iterable[float] = ()) -> SessionSnapshot:
        """The plain-data view of the decode right now."""
        return build_snapshot(self, step_ms=step_ms)


def build_snapshot(opened: OpenSession, *, step_ms: Iterable[float] = ()) -> SessionSnapshot:
    """``opened``'s view record: the best hypothesis's steps and attention, and with beam
    search the tree with every node's piece and attention."""
    session, labels = opened.session, opened.labels
    result = session.result()
    best = result.best
    history = session.history
    steps = tuple(_token_steps(best, result.tree, history, labels))
    tree_parts = {}
    if session.config.strategy == "beam":
        tree_parts = _tree_parts(result.tree, history, labels)
    return SessionSnapshot(
        source_text=opened.source_text,
        source_pieces=opened.source_pieces,
        target_pieces=tuple(s.piece for s in steps),
        target_text=labels.text([t for t in best.tokens if t != EOS_ID]),
        steps=steps,
        attention=best.attention if labels.num_heads else None,
        num_heads=labels.num_heads,
        done=session.done,
        strategy=session.config.strategy,
        step_ms=tuple(step_ms),
        best_node=int(best.node_id),
        grid=opened.grid,
        image=opened.image,
        interventions=session.interventions(),
        num_layers=labels.num_layers,
        source_mixing=opened.source_mixing,
        **tree_parts,
    )


def _token_steps(best, tree: SearchTree, history, labels: TargetLabels) -> Iterator[TokenStep]:
    """One TokenStep per token of ``best``: its log-prob and the alternatives at its step
    (with beam search, those of the node on ``best``'s path, not of the step's best)."""
    node_steps = _node_index(history)
    path = tree.path(best.node_id) if best.node_id > 0 else []
    for position, token in enumerate(best.tokens):
        if len(path) == len(best.tokens):
            step_result, row = node_steps[path[position]]
        else:
            step_result, row = history[position], 0
        ids = step_result.topk_ids[row]
        yield TokenStep(
            token_id=int(token),
            piece=labels.piece(token),
            log_prob=float(best.token_log_probs[position]),
            topk_ids=ids,
            topk_probs=step_result.topk_probs[row],
            topk_pieces=tuple(labels.piece(i) for i in ids),
            forced=bool(step_result.forced),
            entropy=None if step_result.entropy is None else float(step_result.entropy[row]),
        )


def _tree_parts(tree: SearchTree, history, labels: TargetLabels) -> dict:
    """The beam tree, each node's piece, and each node's attention (n, heads, S)."""
    pieces = tuple(labels.piece(t) if i else ROOT_PIECE for i, t in enumerate(tree.tokens))
    node_attention = None
    if labels.num_heads and history:
        heads, length = history[0].attention.shape[1:]
        node_attention = np.zeros((len(tree), heads, length), dtype=np.float32)
        for step_result in history:
            node_attention[step_result.node_ids] = step_result.attention
    return {"tree": tree, "node_pieces": pieces, "node_attention": node_attention}


def _node_index(history) -> dict[int, tuple[StepResult, int]]:
    """node id -> (StepResult that created it, row in that StepResult)."""
    index = {}
    for step_result in history:
        for row, node in enumerate(step_result.node_ids):
            index[int(node)] = (step_result, row)
    return index
