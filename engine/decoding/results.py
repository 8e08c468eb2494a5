"""What a decode hands out: plain CPU data (numpy arrays, tuples, frozen dataclasses).

Nothing here holds a torch tensor, so results can cross from the worker
thread to the GUI as they are.

Every hypothesis of a decode is a node of a search tree, numbered per input:
node 0 is the root (bos, step -1); each step adds one node per hypothesis it
creates (beam: the kept and the finished ones; greedy and sampling: one), so
node ids are the creation order and ``parent_ids`` always point backwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attnscope.engine.decoding.config import EOS_ID


@dataclass(frozen=True)
class StepResult:
    """One decoding step of one input; hypotheses are listed best (highest score) first.

    step:        0-based index of the generated token
    batch_index: which input of the decoded batch this is
    tokens:      (M,) int64 token chosen for each hypothesis created at this step
    log_probs:   (M,) float32 the model's log-probability of that token
    scores:      (M,) float32 cumulative log-probability of the hypothesis
    node_ids:    (M,) int64 ids of the new hypotheses in the search tree
    parent_ids:  (M,) int64 tree id of the hypothesis each one extends (0 = root)
    finished:    (M,) bool, the hypothesis ended here (eos or the length limit)
    topk_ids:    (M, K) int64 the K most likely tokens of the parent's distribution
    topk_probs:  (M, K) float32 their probabilities (the model's, before any ban)
    attention:   (M, heads, S) float32 the attention that produced each token, over
                 the input's S real source positions; None without attention
    forced:      the token was imposed (forced prefix or a forced choice)
    entropy:     (M,) float32 entropy in nats of the parent's distribution (the model's,
                 before any ban, like topk_probs); None when the decode did not ask for
                 it (``DecodeConfig.step_entropy``)
    """

    step: int
    batch_index: int
    tokens: np.ndarray
    log_probs: np.ndarray
    scores: np.ndarray
    node_ids: np.ndarray
    parent_ids: np.ndarray
    finished: np.ndarray
    topk_ids: np.ndarray
    topk_probs: np.ndarray
    attention: np.ndarray | None
    forced: bool = False
    entropy: np.ndarray | None = None

    @property
    def token(self) -> int:
        """The best hypothesis's token at this step."""
        return int(self.tokens[0])

    @property
    def best_attention(self) -> np.ndarray | None:
        """(heads, S) attention of the best hypothesis, None without attention."""
        return None if self.attention is None else self.attention[0]


@dataclass(frozen=True)
class Hypothesis:
    """One finished (or, mid-decode, current) output sequence.

    tokens:          generated ids, eos included when it was emitted
    score:           ranking score: log-prob with the length and coverage penalties
    log_prob:        plain sum of the token log-probabilities
    token_log_probs: (T,) float32
    attention:       (T, heads, S) float32, None without attention
    node_id:         the hypothesis's last node in the search tree
    entropies:       (T,) float32 entropy (nats) of the distribution each token was
                     chosen from; None when the decode did not record it
    """

    tokens: tuple[int, ...]
    score: float
    log_prob: float
    token_log_probs: np.ndarray
    attention: np.ndarray | None
    node_id: int
    entropies: np.ndarray | None = None

    @property
    def ended_with_eos(self) -> bool:
        return bool(self.tokens) and self.tokens[-1] == EOS_ID

    @property
    def output_tokens(self) -> tuple[int, ...]:
        """The tokens without the final eos (what a detokenizer wants)."""
        return self.tokens[:-1] if self.ended_with_eos else self.tokens


@dataclass(frozen=True)
class SearchTree:
    """Every hypothesis a decode created, column by column (index = node id).

    parent_ids:   (n,) int64, -1 for the root
    tokens:       (n,) int64, bos for the root
    scores:       (n,) float32 cumulative log-probability
    steps:        (n,) int64 step that created the node, -1 for the root
    finished:     (n,) bool, the hypothesis ended at this node
    pruned:       (n,) bool, an unfinished node that no later step extended
    nbest_rank:   (n,) int64, rank among the returned hypotheses, -1 otherwise
    final_scores: (n,) float32 ranking score of finished nodes, NaN elsewhere
    """

    parent_ids: np.ndarray
    tokens: np.ndarray
    scores: np.ndarray
    steps: np.ndarray
    finished: np.ndarray
    pruned: np.ndarray
    nbest_rank: np.ndarray
    final_scores: np.ndarray

    def __len__(self) -> int:
        return len(self.parent_ids)

    @property
    def nbest(self) -> np.ndarray:
        """(n,) bool, the node ends one of the returned hypotheses."""
        return self.nbest_rank >= 0

    def path(self, node_id: int) -> list[int]:
        """Node ids from the root's first child down to ``node_id``."""
        if not 0 <= node_id < len(self):
            raise ValueError(f"node id {node_id} out of range 0..{len(self) - 1}")
        path = []
        while node_id > 0:
            path.append(node_id)
            node_id = int(self.parent_ids[node_id])
        return path[::-1]

    def children(self, node_id: int) -> np.ndarray:
        """Ids of the nodes that extend ``node_id``."""
        return np.flatnonzero(self.parent_ids == node_id)


@dataclass(frozen=True)
class DecodeResult:
    """Everything one input's decode produced.

    hypotheses: n-best list, best first (one for greedy and sampling); can be
                shorter than n_best when fewer hypotheses finished
    steps:      the StepResults of this input, in order
    tree:       the search tree (a chain for greedy and sampling)
    """

    batch_index: int
    strategy: str
    hypotheses: tuple[Hypothesis, ...]
    steps: tuple[StepResult, ...]
    tree: SearchTree

    @property
    def best(self) -> Hypothesis:
        return self.hypotheses[0]

    @property
    def tokens(self) -> tuple[int, ...]:
        """The best hypothesis's tokens (eos included when emitted)."""
        return self.best.tokens
