"""What ``InferenceModel`` hands out: plain data (numpy arrays, tuples, strings), never
torch tensors, so it crosses from the GUI's worker thread to the views as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from attnscope.engine.decoding.results import SearchTree


@dataclass(frozen=True)
class ModelSummary:
    """What the model panel shows; ``target_vocab`` lets the GUI look pieces up.

    ``heads`` counts the attention rows of one decoder step: ``layers`` decoder layers
    times ``heads_per_layer`` heads, layer-major (row ``l * heads_per_layer + h``).
    RNN decoders attend once per step: ``layers`` = 1. ``rollout`` says whether the
    snapshots carry ``source_mixing`` (a Transformer encoder's self-attention rollout,
    engine/attention_layers.py); RNN/CNN encoders mix source tokens without attention
    weights to roll out, so it is False for them.
    """

    path: str
    name: str
    task: str
    architecture: str
    attention: str
    heads: int
    parameters: int
    src_vocab: int
    tgt_vocab: int
    device: str
    info: dict[str, Any]
    examples: tuple[str, ...]
    target_vocab: tuple[str, ...] = field(repr=False)
    devices: tuple[str, ...] = ()  # where this machine can run the model, best first
    layers: int = 1  # decoder layers whose cross-attention ``heads`` stacks
    rollout: bool = False  # snapshots carry source_mixing (Transformer encoder)

    @property
    def heads_per_layer(self) -> int:
        """Attention heads in one decoder layer (``heads`` // ``layers``)."""
        return self.heads // max(self.layers, 1)

    def piece_to_id(self, piece: str) -> int | None:
        """The id of a typed subword (with or without the leading ▁), or None."""
        for candidate in (piece, "▁" + piece):
            if candidate in self.target_vocab:
                return self.target_vocab.index(candidate)
        return None


@dataclass(frozen=True)
class TokenStep:
    """One generated token of the shown hypothesis and the alternatives at that step.

    Its step scores (nats): ``probability`` and ``surprisal`` of the token, the
    ``entropy`` of the distribution it came from, and the ``margin`` between the two
    most probable candidates (engine/explain/step_scores.py computes the same from a
    full log-prob row).
    """

    token_id: int
    piece: str
    log_prob: float
    topk_ids: np.ndarray
    topk_probs: np.ndarray
    topk_pieces: tuple[str, ...]
    forced: bool
    entropy: float | None = None  # nats, of the distribution the token came from

    @property
    def probability(self) -> float:
        return math.exp(self.log_prob)

    @property
    def surprisal(self) -> float:
        """-log p(token), nats."""
        return -self.log_prob

    @property
    def margin(self) -> float | None:
        """log p1 - log p2 of the step's two most probable candidates (the model's own
        distribution, whichever token was taken); None with fewer than two listed."""
        return topk_margin(self.topk_probs)


def topk_margin(topk_probs) -> float | None:
    """log p1 - log p2 from a step's top-k probabilities (best first); inf when the
    second is impossible, None with fewer than two."""
    if len(topk_probs) < 2:
        return None
    first, second = float(topk_probs[0]), float(topk_probs[1])
    if second <= 0.0:
        return math.inf
    return math.log(first) - math.log(second)


def hypothesis_margins(result, hypothesis) -> np.ndarray | None:
    """(T,) float32 ``topk_margin`` of each step on ``hypothesis``'s path through
    ``result`` (a DecodeResult: its StepResults list every node's top-k); None when the
    decode listed fewer than two alternatives or the path is not in the tree."""
    path = result.tree.path(hypothesis.node_id) if hypothesis.node_id > 0 else []
    if len(path) != len(hypothesis.tokens):
        return None
    where = {
        int(node): (step, row) for step in result.steps for row, node in enumerate(step.node_ids)
    }
    margins = []
    for node in path:
        step, row = where[node]
        margin = topk_margin(step.topk_probs[row])
        if margin is None:
            return None
        margins.append(margin)
    return np.asarray(margins, dtype=np.float32)


@dataclass(frozen=True)
class SessionSnapshot:
    """Everything the views need to draw one moment of a decode.

    attention:      (T, heads, S) of the shown hypothesis, None without attention;
                    ``heads`` = ``num_layers`` x heads per layer, layer-major
                    (engine/attention_layers.py ``split`` gives (T, layers, heads, S))
    tree:           the beam search tree (beam only), with ``node_attention``
                    (n, heads, S) and ``node_pieces`` per node id
    source_mixing:  (S, S) float32 rollout of the encoder's self-attention (row i:
                    how much source token j makes up encoder output i), None when the
                    encoder has no attention to roll out (RNN/CNN, pictures);
                    engine/attention_layers.py ``rollout`` applies it
    grid:           (h, w) for captioning (S = h·w), None for text
    image:          (H, W, 3) uint8 picture being captioned, None for text
    interventions:  the session's forced tokens and attention edits (ForceToken,
                    AttentionEdit), in step order: what a session file saves
    """

    source_text: str
    source_pieces: tuple[str, ...]
    target_pieces: tuple[str, ...]
    target_text: str
    steps: tuple[TokenStep, ...]
    attention: np.ndarray | None
    num_heads: int
    done: bool
    strategy: str
    step_ms: tuple[float, ...] = ()
    tree: SearchTree | None = None
    node_pieces: tuple[str, ...] = ()
    node_attention: np.ndarray | None = None
    best_node: int = 0
    grid: tuple[int, int] | None = None
    image: np.ndarray | None = None
    interventions: tuple = ()
    num_layers: int = 1
    source_mixing: np.ndarray | None = None


@dataclass(frozen=True)
class Translation:
    """One input's output for the CLI: text, pieces, score, attention (T, heads, S) with
    ``heads`` = ``num_layers`` x heads per layer, layer-major."""

    source: str
    text: str
    pieces: tuple[str, ...]
    score: float
    attention: np.ndarray | None
    source_pieces: tuple[str, ...]
    nbest: tuple[tuple[str, float], ...] = ()
    log_prob: float | None = None  # sum of the pieces' log-probs (score adds penalties)
    # per generated token (T,), for translate --flag: ids, log-probs, and the entropy of
    # each step's distribution (None unless the decode recorded it)
    token_ids: tuple[int, ...] = ()
    token_log_probs: np.ndarray | None = None
    entropies: np.ndarray | None = None
    # (T,) log p1 - log p2 of each step's two most probable candidates (None when the
    # decode listed fewer than two alternatives)
    margins: np.ndarray | None = None
    num_layers: int = 1  # decoder layers stacked in the attention's heads


@dataclass(frozen=True)
class Caption:
    """One picture's caption: text, pieces, score, attention (T, heads, h, w) with
    ``heads`` = ``num_layers`` x heads per layer, layer-major."""

    text: str
    pieces: tuple[str, ...]
    score: float
    grid: tuple[int, int]
    attention: np.ndarray | None
    num_layers: int = 1
