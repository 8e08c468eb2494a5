"""The naive beam search `attnscope bench` measures the engine against.

Written the way the classic seq2seq tutorials write it: one sentence at a
time, one hypothesis at a time (batch 1 at every model call), hypotheses kept
as Python lists, and the attention's projection of the source (the keys)
recomputed once per step, shared by the step's hypotheses (the tutorials
apply U·h inside the attention's forward). It calls the very modules of the
AttnScope model being benchmarked, so the two searches do the same
arithmetic but for those keys, and differ in how they organise it. The
engine's own beam on one sentence at a time (k rows per step, keys once per
sentence) is the bench's second reference (``sentence_beam_tokens_per_s``).

It is a baseline for timing, not a product feature: no penalties, no
n-best, no search tree.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3  # docs/CONTRACTS.md


@dataclass
class _Hypothesis:
    score: float
    tokens: list[int]
    state: object


def naive_beam_search(
    model: torch.nn.Module,
    source: list[int],
    *,
    beam_size: int,
    max_length: int,
    min_length: int = 0,
) -> list[int]:
    """Tokens of the best hypothesis for one source sentence (eos included if emitted).

    model: a TranslationModel (``encoder``, ``decoder.precompute``, ``step``), in eval mode.
    source: token ids of one sentence, without padding.
    """
    with torch.inference_mode():
        src = torch.tensor([source], dtype=torch.long)  # (1, S)
        raw_memory = model.encoder(src, torch.tensor([len(source)]))  # memory without keys
        first_state = model.init_state(model.decoder.precompute(raw_memory))
        beams = [_Hypothesis(0.0, [BOS_ID], first_state)]
        finished: list[_Hypothesis] = []
        for step in range(max_length):
            candidates = []
            memory = model.decoder.precompute(raw_memory)  # keys again every step, as tutorials
            for hyp in beams:
                prev = torch.tensor([hyp.tokens[-1]], dtype=torch.long)
                log_probs, state, _ = model.step(prev, hyp.state, memory)  # (1, V)
                log_probs = log_probs[0]
                if step < min_length:
                    log_probs[EOS_ID] = float("-inf")
                top_scores, top_ids = log_probs.topk(beam_size)
                for score, token in zip(top_scores.tolist(), top_ids.tolist(), strict=True):
                    candidates.append(_Hypothesis(hyp.score + score, [*hyp.tokens, token], state))
            candidates.sort(key=lambda h: h.score, reverse=True)
            beams = []
            for hyp in candidates[:beam_size]:
                (finished if hyp.tokens[-1] == EOS_ID else beams).append(hyp)
            if len(finished) >= beam_size or not beams:
                break
        best = max(finished + beams, key=lambda h: h.score)
        return best.tokens[1:]


def naive_translate(
    model: torch.nn.Module,
    sources: list[list[int]],
    *,
    beam_size: int,
    max_length: int,
    min_length: int = 0,
) -> list[list[int]]:
    """One naive beam search per sentence, one after another."""
    return [
        naive_beam_search(
            model, source, beam_size=beam_size, max_length=max_length, min_length=min_length
        )
        for source in sources
    ]


__all__ = ["naive_beam_search", "naive_translate"]
