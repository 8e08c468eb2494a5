"""Rules every strategy applies to a step's log-probs before choosing tokens.

Banned tokens get ``-inf``: eos before the minimum length, unk when asked,
and any token that would repeat an n-gram. A forced token overrides them all.
All functions are vectorised over the rows (hypotheses) of a step.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor

from attnscope.engine.decoding.config import EOS_ID, UNK_ID

NEG_INF = float("-inf")


@dataclass(frozen=True)
class StepRules:
    """The constraints of one decode.

    min_length:         eos is banned while fewer tokens than this were generated
    ban_unk:            unk is always banned
    block_ngram_repeat: n > 0 bans tokens that would repeat an n-gram of the row
    """

    min_length: int = 0
    ban_unk: bool = False
    block_ngram_repeat: int = 0


def blocked_ngram_mask(history: Tensor, n: int, vocab_size: int) -> Tensor:
    """(N, V) bool, True where the next token would complete an n-gram already in the row.

    history: (N, t) long, the tokens generated so far by each row.
    """
    rows, length = history.shape
    mask = torch.zeros(rows, vocab_size + 1, dtype=torch.bool, device=history.device)
    if n < 1 or length < n:
        return mask[:, :vocab_size]
    windows = history.unfold(1, n, 1)  # (N, t - n + 1, n)
    prefix = history[:, length - (n - 1) :]  # (N, n - 1), the last n - 1 tokens
    match = (windows[:, :, : n - 1] == prefix.unsqueeze(1)).all(dim=2)  # (N, W)
    # rows without a match scatter into the spare column vocab_size, dropped below
    banned = torch.where(
        match, windows[:, :, n - 1], torch.full_like(match, vocab_size, dtype=torch.long)
    )
    mask.scatter_(1, banned, True)
    return mask[:, :vocab_size]


def force_token(log_probs: Tensor, token: int) -> Tensor:
    """(N, V) log-probs where only ``token`` keeps its value; everything else is -inf."""
    vocab_size = log_probs.size(1)
    if not 0 <= token < vocab_size:
        raise ValueError(f"forced token id {token} outside the vocabulary 0..{vocab_size - 1}")
    forced = torch.full_like(log_probs, NEG_INF)
    forced[:, token] = log_probs[:, token]
    return forced


@functools.lru_cache(maxsize=32)
def _token_index(ids: tuple[int, ...], device: torch.device) -> Tensor:
    """The long tensor of ``ids`` on ``device``, made once (not at every step)."""
    with torch.inference_mode(False):  # a normal tensor: usable inside and outside the mode
        return torch.tensor(ids, dtype=torch.long, device=device)


def banned_tokens(step: int, rules: StepRules) -> tuple[int, ...]:
    """The token ids banned outright at ``step``: eos before the minimum length, unk if asked."""
    banned = (EOS_ID,) if step < rules.min_length else ()
    return (*banned, UNK_ID) if rules.ban_unk else banned


def drop_banned(values: Tensor, ids: Tensor, banned: tuple[int, ...], width: int):
    """The best ``width`` of a top-(width + len(banned)) selection once ``banned`` ids are out.

    values, ids: (N, width + len(banned)), best first, of the unbanned log-probs; they hold
    every row's best ``width`` allowed tokens, so the (N, V) banned copy is never needed.
    Returns values, ids (N, width), best first; banned ids that remain carry -inf.
    """
    index = _token_index(banned, ids.device)
    hit = (ids.unsqueeze(2) == index).any(dim=2)  # (N, width + len(banned))
    values, order = values.masked_fill(hit, NEG_INF).topk(width, dim=1)
    return values, ids.gather(1, order)


def apply_rules(
    log_probs: Tensor, history: Tensor, *, step: int, rules: StepRules, forced: int | None
) -> Tensor:
    """(N, V) log-probs with the banned tokens at -inf; ``log_probs`` itself when nothing is.

    The input is never modified.

    history: (N, t) long, each row's generated tokens; step: index of the token to choose.
    """
    if forced is not None:
        return force_token(log_probs, forced)
    banned_ids = banned_tokens(step, rules)
    allowed = log_probs
    if banned_ids:
        index = _token_index(banned_ids, log_probs.device)
        allowed = allowed.index_fill(1, index, NEG_INF)  # a copy; the input stays
    if rules.block_ngram_repeat > 0:
        mask = blocked_ngram_mask(history, rules.block_ngram_repeat, log_probs.size(1))
        allowed = allowed.masked_fill(mask, NEG_INF)
    return allowed
