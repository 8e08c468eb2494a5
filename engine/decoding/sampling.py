"""Random sampling with temperature, top-k and top-p (nucleus), reproducible by seed.

The randomness comes from one ``torch.Generator`` per decode, seeded from
``DecodeConfig.seed``; its state is part of a strategy save point, so stepping
back and forward again draws the same tokens.
"""

from __future__ import annotations

import torch
from torch import Tensor

from attnscope.engine.decoding.constraints import NEG_INF
from attnscope.engine.decoding.greedy import GreedySearch


def filter_top_k(logits: Tensor, k: int) -> Tensor:
    """(N, V) logits with all but the k largest of each row at -inf (k = 0 keeps all)."""
    if k <= 0 or k >= logits.size(1):
        return logits
    kth = logits.topk(k, dim=1).values[:, -1:]  # (N, 1)
    return logits.masked_fill(logits < kth, NEG_INF)


def filter_top_p(logits: Tensor, p: float) -> Tensor:
    """(N, V) logits keeping the smallest most-likely set whose probability reaches p."""
    if p >= 1.0:
        return logits
    sorted_logits, order = logits.sort(dim=1, descending=True)
    probs = sorted_logits.softmax(dim=1)
    mass_before = probs.cumsum(dim=1) - probs  # probability of the tokens ranked above
    drop_sorted = mass_before >= p  # the top token always stays (mass_before = 0)
    drop = torch.zeros_like(drop_sorted).scatter(1, order, drop_sorted)
    return logits.masked_fill(drop, NEG_INF)


class RandomSampling(GreedySearch):
    """Draws each token from the (tempered, truncated) distribution of the step."""

    name = "sampling"
    argmax_only = False  # choose_tokens draws from the full (N, V) log-probs with bans

    def __init__(self, config, **kwargs) -> None:
        super().__init__(config, **kwargs)
        self.generator = torch.Generator(device=self.device)
        if config.seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(config.seed)

    def choose_tokens(self, allowed: Tensor, best: Tensor) -> Tensor:
        """(N, V) log-probs with bans -> (N,) sampled tokens (``best`` is not used)."""
        logits = allowed / self.config.temperature
        logits = filter_top_k(logits, self.config.top_k)
        logits = filter_top_p(logits, self.config.top_p)
        probs = logits.softmax(dim=1)
        return torch.multinomial(probs, 1, generator=self.generator).squeeze(1)

    def _save_extra(self) -> object:
        return self.generator.get_state()

    def _restore_extra(self, extra: object) -> None:
        self.generator.set_state(extra)
