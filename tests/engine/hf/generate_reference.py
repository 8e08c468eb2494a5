"""Hugging Face's own generate() on a tiny folder, in the shapes the equality tests
compare AttnScope's decode loop with (tokens from the model's ids, attention per layer)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

MAX_NEW = 12  # new tokens per row, on both sides


def generate_plain(model: Any, batch: Any, **settings: Any) -> Any:
    """generate() with nothing of its own on top (no sampling, no forced eos, at most
    MAX_NEW new tokens), its attentions returned; ``settings``: beams, language tokens."""
    return model.generate(
        **batch,
        do_sample=False,
        max_new_tokens=MAX_NEW,
        forced_eos_token_id=None,
        output_attentions=True,
        return_dict_in_generate=True,
        **settings,
    )


def cut(sequence: torch.Tensor, eos: int) -> list[int]:
    """generate()'s row without the start token, up to its first eos (later: padding)."""
    tokens = sequence[1:].tolist()
    return tokens[: tokens.index(eos) + 1] if eos in tokens else tokens


def cross_attention_along(out: Any, beams_of_row: list[int]) -> np.ndarray:
    """(T, layers, heads, S_padded) of generate()'s cross-attentions along ``beams_of_row``
    (the row, or its beam index, at each step)."""
    return np.stack(
        [
            torch.stack([layer[beam, :, -1] for layer in out.cross_attentions[t]]).numpy()
            for t, beam in enumerate(beams_of_row)
        ]
    )


def assert_same_tokens(loaded: Any, results: list, out: Any) -> list[list[int]]:
    """AttnScope's best hypotheses (``results``) are generate()'s rows in the model's ids;
    returns those rows."""
    eos = loaded.model.config.eos_token_id
    theirs = [cut(row, eos) for row in out.sequences]
    assert [loaded.vocab.model_ids(r.best.tokens) for r in results] == theirs
    return theirs


def assert_same_attention(
    loaded: Any, results: list, out: Any, lengths: list[int], *, beams: bool
) -> None:
    """Each best hypothesis' attention, split by layer, is generate()'s cross-attention
    along its row (greedy) or its beam indices (``beams``), over the row's ``lengths``
    source positions (the rest is padding)."""
    for row, result in enumerate(results):
        attention = result.best.attention  # (T, layers · heads, S)
        steps = attention.shape[0]
        path = out.beam_indices[row, :steps].tolist() if beams else [row] * steps
        expected = cross_attention_along(out, path)  # (T, layers, heads, S_padded)
        split = loaded.step_model.split_layers(attention)
        np.testing.assert_allclose(split, expected[..., : lengths[row]], atol=1e-5)
