"""OpenNMT-py RNN weights renamed, reordered and laid out as AttnScope's model holds them.

Three things change on the way, none of them the model's function:

- **Vocabulary order.** OpenNMT-py 3.x puts ``<unk> <blank> <s> </s>`` first (ids 0..3);
  AttnScope needs pad 0, unk 1, bos 2, eos 3. ``vocab_order`` gives the OpenNMT-py id
  of every AttnScope id, and the embedding and generator rows are taken in that order.
- **linear_out.** OpenNMT-py's attention output is ``linear_out([c; q])``; AttnScope's
  ``combine`` reads ``[h; c]``, so the two halves of the weight swap places. dot and
  general attention have no bias there: AttnScope's is set to zeros (adding 0 changes no
  bit).
- **general attention.** OpenNMT-py scores ``(W q) · h``; AttnScope precomputes keys
  ``K h`` and scores ``q · (K h)``, so K = Wᵀ. mlp attention's query bias moves to the
  key projection (the same sum inside the tanh).
"""

from __future__ import annotations

import re

import torch
from torch import Tensor

from attnscope.models.config import ModelConfig

SPECIAL_TOKENS = {"pad": "<blank>", "unk": "<unk>", "bos": "<s>", "eos": "</s>"}
_ENCODER_RNN = re.compile(r"encoder\.rnn\.((weight|bias)_(ih|hh)_l\d+(_reverse)?)")
_STACKED_CELL = re.compile(r"decoder\.rnn\.layers\.(\d+)\.((weight|bias)_(ih|hh))")
_DECODER_RNN = re.compile(r"decoder\.rnn\.((weight|bias)_(ih|hh)_l\d+)")
_BRIDGE = re.compile(r"encoder\.bridge\.(\d+)\.(weight|bias)")


class WeightMappingError(ValueError):
    """The weights do not have the names or shapes the options promise; says which."""


def vocab_order(tokens: list[str], side: str) -> list[int]:
    """OpenNMT-py ids in AttnScope's order: pad, unk, bos, eos, then the rest as they were."""
    missing = [t for t in SPECIAL_TOKENS.values() if t not in tokens]
    if missing:
        raise WeightMappingError(
            f"{side} vocabulary lacks {', '.join(missing)}; OpenNMT-py 3.x vocabularies "
            "start with <unk> <blank> <s> </s>"
        )
    specials = [tokens.index(t) for t in SPECIAL_TOKENS.values()]
    return specials + [i for i in range(len(tokens)) if i not in set(specials)]


def map_weights(
    onmt: dict[str, Tensor], config: ModelConfig, src_order: list[int], tgt_order: list[int]
) -> dict[str, Tensor]:
    """AttnScope state-dict entries (first names of shared tensors) from OpenNMT-py's."""
    remaining = dict(onmt)

    def take(name: str) -> Tensor:
        if name not in remaining:
            raise WeightMappingError(f"the weights lack {name}, which its options imply")
        return remaining.pop(name)

    emb = "make_embedding.emb_luts.0.weight"
    tgt_rows = torch.tensor(tgt_order)
    out = {"tgt_embedding.weight": take(f"decoder.embeddings.{emb}").index_select(0, tgt_rows)}
    source = take(f"encoder.embeddings.{emb}")  # present even when shared (same tensor)
    if not config.share_embeddings:
        out["src_embedding.weight"] = source.index_select(0, torch.tensor(src_order))
    generator = take("generator.weight")
    if not config.tie_output:
        out["decoder.output.proj.weight"] = generator.index_select(0, tgt_rows)
    out["decoder.output.proj.bias"] = take("generator.bias").index_select(0, tgt_rows)
    out |= _attention(take, config)
    for name in list(remaining):
        renamed = _renamed(name)
        if renamed is not None:
            out[renamed] = remaining.pop(name)
    if remaining:
        raise WeightMappingError(
            f"has weights AttnScope does not map: {', '.join(sorted(remaining)[:6])}"
        )
    return out


def _attention(take, config: ModelConfig) -> dict[str, Tensor]:
    """The attention's and linear_out's entries, in AttnScope's layout."""
    hidden, kind = config.decoder.hidden, config.attention.kind
    linear_out = take("decoder.attn.linear_out.weight")  # (H, C + H) over [c; q]
    combine = torch.cat([linear_out[:, -hidden:], linear_out[:, :-hidden]], dim=1)
    out = {"decoder.combine.weight": combine.contiguous()}  # over [h; c]
    if kind == "additive":
        out["decoder.combine.bias"] = take("decoder.attn.linear_out.bias")
        out["decoder.attention.query_proj.weight"] = take("decoder.attn.linear_query.weight")
        out["decoder.attention.key_proj.weight"] = take("decoder.attn.linear_context.weight")
        out["decoder.attention.key_proj.bias"] = take("decoder.attn.linear_query.bias")
        out["decoder.attention.score.weight"] = take("decoder.attn.v.weight")
        return out
    out["decoder.combine.bias"] = linear_out.new_zeros(hidden)
    if kind == "general":
        weight = take("decoder.attn.linear_in.weight")  # (H, H): scores (W q) · h
        out["decoder.attention.key_proj.weight"] = weight.t().contiguous()
    return out


def _renamed(name: str) -> str | None:
    """AttnScope's name of an OpenNMT-py recurrent or bridge weight, or None."""
    if match := _ENCODER_RNN.fullmatch(name):
        return f"encoder.rnn.rnn.{match[1]}"
    if match := _STACKED_CELL.fullmatch(name):  # input feeding: one LSTMCell/GRUCell a layer
        return f"decoder.rnn.{match[2]}_l{match[1]}"
    if match := _DECODER_RNN.fullmatch(name):  # standard decoder: one nn.LSTM / nn.GRU
        return f"decoder.rnn.{match[1]}"
    if match := _BRIDGE.fullmatch(name):
        return f"decoder.state_bridge.{match[1]}.{match[2]}"
    return None
