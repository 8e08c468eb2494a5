"""``SearchRecorder``: the per-input log of a decode, kept as plain numpy data.

Strategies hand it one flat batch of new hypotheses per step; it numbers them
as tree nodes, slices them into one ``StepResult`` per input, and later walks
parent pointers back to build ``Hypothesis`` objects and the ``SearchTree``.
The StepResults are the only storage, and they are immutable, so a save point
is a shallow copy of the lists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attnscope.engine.decoding.config import BOS_ID, DecodeConfig
from attnscope.engine.decoding.penalties import final_score
from attnscope.engine.decoding.results import Hypothesis, SearchTree, StepResult


@dataclass(frozen=True)
class StepRecord:
    """New hypotheses of one step for all inputs, sorted by input then rank (M rows).

    batch_index (M,) int64, parent_ids (M,) int64, tokens (M,) int64,
    log_probs (M,) float32, scores (M,) float32, finished (M,) bool,
    topk_ids (M, K) int64, topk_probs (M, K) float32,
    attention (M, heads, S_max) float32 or None, entropy (M,) float32 or None.
    """

    batch_index: np.ndarray
    parent_ids: np.ndarray
    tokens: np.ndarray
    log_probs: np.ndarray
    scores: np.ndarray
    finished: np.ndarray
    topk_ids: np.ndarray
    topk_probs: np.ndarray
    attention: np.ndarray | None
    entropy: np.ndarray | None = None


@dataclass(frozen=True)
class TreeColumns:
    """One input's nodes (index = node id, row 0 = root), for backtracking."""

    parent_ids: np.ndarray  # (n,)
    tokens: np.ndarray  # (n,)
    log_probs: np.ndarray  # (n,)
    scores: np.ndarray  # (n,)
    steps: np.ndarray  # (n,)
    finished: np.ndarray  # (n,)
    attention: np.ndarray | None  # (n, heads, S)
    entropy: np.ndarray | None = None  # (n,), NaN for the root


def _group_bounds(batch_index: np.ndarray) -> list[tuple[int, int, int]]:
    """(input, start, stop) for each run of equal values in a sorted array."""
    if batch_index.size == 0:
        return []
    if batch_index[0] == batch_index[-1]:  # one input (sorted): the GUI's every step
        return [(int(batch_index[0]), 0, int(batch_index.size))]
    changes = np.flatnonzero(batch_index[1:] != batch_index[:-1]) + 1  # (np.r_ is slow per step)
    starts = np.concatenate(([0], changes))
    stops = np.concatenate((changes, [batch_index.size]))
    return [(int(batch_index[a]), int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


class SearchRecorder:
    """Steps and tree of every input of one decode.

    source_lengths: (B,) real source positions per input; attention is cut to them.
    """

    def __init__(self, source_lengths: np.ndarray) -> None:
        self._source_lengths = np.asarray(source_lengths, dtype=np.int64)
        self._steps: list[list[StepResult]] = [[] for _ in self._source_lengths]
        self._next_id = np.ones(len(self._source_lengths), dtype=np.int64)  # 0 = root

    def add_step(
        self, step: int, record: StepRecord, *, forced: bool
    ) -> tuple[np.ndarray, list[StepResult]]:
        """Store one step; returns the new node ids (M,) and one StepResult per input."""
        for name in StepRecord.__dataclass_fields__:
            array = getattr(record, name)
            if array is not None:
                array.flags.writeable = False  # shared by the StepResults: hand out read-only
        node_ids = np.empty(record.batch_index.size, dtype=np.int64)
        results = []
        for b, start, stop in _group_bounds(record.batch_index):
            ids = np.arange(self._next_id[b], self._next_id[b] + stop - start)
            self._next_id[b] += stop - start
            node_ids[start:stop] = ids
            ids.flags.writeable = False
            attention = None
            if record.attention is not None:
                attention = record.attention[start:stop, :, : self._source_lengths[b]]
            results.append(
                StepResult(
                    step=step,
                    batch_index=b,
                    tokens=record.tokens[start:stop],
                    log_probs=record.log_probs[start:stop],
                    scores=record.scores[start:stop],
                    node_ids=ids,
                    parent_ids=record.parent_ids[start:stop],
                    finished=record.finished[start:stop],
                    topk_ids=record.topk_ids[start:stop],
                    topk_probs=record.topk_probs[start:stop],
                    attention=attention,
                    forced=forced,
                    entropy=None if record.entropy is None else record.entropy[start:stop],
                )
            )
            self._steps[b].append(results[-1])
        return node_ids, results

    def save(self) -> tuple[tuple[tuple[StepResult, ...], ...], np.ndarray]:
        """The log as it is now (shallow: StepResults are immutable and shared)."""
        return tuple(tuple(steps) for steps in self._steps), self._next_id.copy()

    def restore(self, saved: tuple[tuple[tuple[StepResult, ...], ...], np.ndarray]) -> None:
        """Back (or forward) to a save point."""
        steps, next_id = saved
        self._steps = [list(s) for s in steps]
        self._next_id = next_id.copy()

    def steps(self, batch_index: int) -> tuple[StepResult, ...]:
        return tuple(self._steps[batch_index])

    def columns(self, batch_index: int) -> TreeColumns:
        """All nodes of one input, root first."""
        steps = self._steps[batch_index]

        def column(name: str, root: object, dtype: type) -> np.ndarray:
            parts = [np.array([root], dtype=dtype)] + [getattr(s, name) for s in steps]
            return np.concatenate(parts).astype(dtype, copy=False)

        attention = None
        if steps and steps[0].attention is not None:
            root = np.zeros((1, *steps[0].attention.shape[1:]), dtype=np.float32)
            attention = np.concatenate([root] + [s.attention for s in steps])
        return TreeColumns(
            parent_ids=column("parent_ids", -1, np.int64),
            tokens=column("tokens", BOS_ID, np.int64),
            log_probs=column("log_probs", 0.0, np.float32),
            scores=column("scores", 0.0, np.float32),
            steps=np.concatenate(
                [np.array([-1], dtype=np.int64)]
                + [np.full(s.tokens.size, s.step, dtype=np.int64) for s in steps]
            ),
            finished=column("finished", False, np.bool_),
            attention=attention,
            entropy=column("entropy", np.nan, np.float32)
            if steps and steps[0].entropy is not None
            else None,
        )


def backtrack(columns: TreeColumns, node_id: int, config: DecodeConfig) -> Hypothesis:
    """The hypothesis ending at ``node_id``, scored with the config's penalties."""
    path = []
    while node_id > 0:
        path.append(node_id)
        node_id = int(columns.parent_ids[node_id])
    path = np.array(path[::-1], dtype=np.int64)
    attention = None if columns.attention is None else columns.attention[path]
    log_prob = float(columns.scores[path[-1]]) if path.size else 0.0
    return Hypothesis(
        tokens=tuple(int(t) for t in columns.tokens[path]),
        score=final_score(config, log_prob, int(path.size), attention),
        log_prob=log_prob,
        token_log_probs=columns.log_probs[path],
        attention=attention,
        node_id=int(path[-1]) if path.size else 0,
        entropies=None if columns.entropy is None else columns.entropy[path],
    )


def build_tree(
    columns: TreeColumns, ranked: list[Hypothesis], n_best: int, alive: np.ndarray
) -> SearchTree:
    """The SearchTree with pruned / n-best flags.

    ranked: every candidate hypothesis, best first; alive: node ids still being
    extended (a decode in progress), which are not counted as pruned.
    """
    size = columns.parent_ids.size
    has_child = np.zeros(size, dtype=bool)
    has_child[columns.parent_ids[columns.parent_ids >= 0]] = True
    nbest_rank = np.full(size, -1, dtype=np.int64)
    final_scores = np.full(size, np.nan, dtype=np.float32)
    for rank, hyp in enumerate(ranked):
        if columns.finished[hyp.node_id]:
            final_scores[hyp.node_id] = hyp.score
        if rank < n_best:
            nbest_rank[hyp.node_id] = rank
    pruned = ~columns.finished & ~has_child
    pruned[0] = False
    pruned[alive[alive >= 0]] = False
    return SearchTree(
        parent_ids=columns.parent_ids,
        tokens=columns.tokens,
        scores=columns.scores,
        steps=columns.steps,
        finished=columns.finished,
        pruned=pruned,
        nbest_rank=nbest_rank,
        final_scores=final_scores,
    )
