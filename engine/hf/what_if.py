"""Attention what-if on a Hugging Face encoder–decoder: given weights in place of the
decoder's cross-attention.

An edit of step t (engine/interventions.py ``AttentionEdit``) holds one row per
attention head the step reports, (layers · heads, S) layer-major as ``HfStepModel``
reports them (row ``l · H + h`` is layer ``l``, head ``h``). Inside
``cross_attention_edited`` every decoder layer's cross-attention uses its rows instead
of softmax(QKᵀ) for the query positions edited: the context is the edited weights
times the layer's values, exactly what the eager path computes from its own weights,
and the attention the model reports is the edited one. Self-attention and the encoder
are untouched.

The edits the app makes (engine/interventions.py ``pin``, ``zero``, ``set_weight``) act
on every row unless they name one, so an edit made on the mean over layers and heads
changes every layer and head alike; an edit made on one shown head changes that
layer's head only.

How. The attention modules call the function ``ALL_ATTENTION_FUNCTIONS`` holds under
their config's ``_attn_implementation`` (transformers 5's ``AttentionInterface``). While
an edit is active, the configs of the cross-attention modules name
``EDITED_ATTENTION``, registered here with the eager path's masks: it runs the module's own family's
``eager_attention_forward`` and, in a module carrying an edit, replaces the weights of
the edited query positions and recomputes the context from them. Every other module
sharing that config runs the family's eager function unchanged. The configs are set
back when the block ends, whatever happens inside it.

A family whose decoder has no cross-attention module this finds (or whose modelling
file has no eager function to follow) is refused with one ``ValueError`` line rather
than edited some other way.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor

from attnscope.models.attention import check_override

EDITED_ATTENTION = "attnscope_edited_cross_attention"
_EDIT = "_attnscope_attention_edit"  # module attribute: (weights, edited) while an edit runs
_SCORES = "_attnscope_attention_scores"  # module attribute: a list the raw scores go to


def _edited_attention(module, query, key, value, attention_mask, **kwargs):
    """The family's eager attention; in a module carrying an edit, the edited query
    positions use the edit's weights; in one carrying a score list, the raw scores go
    there. query (N, H, Tq, d), key/value (N, H, S, d)."""
    eager = _eager_function(module)
    output, weights = eager(module, query, key, value, attention_mask, **kwargs)
    scores = getattr(module, _SCORES, None)
    if scores is not None:
        scores.append(_raw_scores(query, key, attention_mask, **kwargs))
    edit = getattr(module, _EDIT, None)
    if edit is None:
        return output, weights
    replacement, edited = edit  # (N or 1, H, Tq, S), (Tq,) bool
    weights = torch.where(edited[None, None, :, None], replacement.to(weights.dtype), weights)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()  # (N, Tq, H, d)
    return output, weights


def _raw_scores(query, key, attention_mask, *, scaling=None, position_bias=None, **_) -> Tensor:
    """(N, H, Tq, S) what the eager path takes the softmax of: QKᵀ · scaling, plus T5's
    position bias and the additive mask."""
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if position_bias is not None:
        scores = scores + position_bias
    return scores if attention_mask is None else scores + attention_mask


def _eager_function(module) -> Any:
    return getattr(sys.modules[type(module).__module__], "eager_attention_forward", None)


def cross_attention_modules(model: Any) -> list[Any]:
    """Each decoder layer's cross-attention module, in layer order; ValueError when this
    family's decoder is not laid out as Marian/BART/mBART/M2M100 (``layers[i].encoder_attn``)
    or T5 (``block[i].layer[1].EncDecAttention``)."""
    decoder = model.get_decoder()
    layers = getattr(decoder, "layers", None)
    if layers is not None:
        modules = [getattr(layer, "encoder_attn", None) for layer in layers]
    else:
        blocks = getattr(decoder, "block", ())
        modules = [getattr(block.layer[1], "EncDecAttention", None) for block in blocks]
    if not modules or any(m is None or _eager_function(m) is None for m in modules):
        raise ValueError(
            f"attention edits are not supported for {type(model).__name__}: its decoder's "
            "cross-attention is not one AttnScope can replace exactly"
        )
    return modules


def _register() -> None:
    """Register the function and, under the same name, the eager path's masks: without
    them transformers builds no mask at all for an unknown implementation (the decoder
    would see later tokens, and padding would get attention)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    if EDITED_ATTENTION not in AttentionInterface._global_mapping:
        AttentionInterface.register(EDITED_ATTENTION, _edited_attention)
    if EDITED_ATTENTION not in AttentionMaskInterface._global_mapping:
        AttentionMaskInterface.register(EDITED_ATTENTION, eager_mask)


@contextmanager
def cross_attention_edited(model: Any, weights: Tensor | None, edited: Tensor | None, scores=None):
    """Inside the block, the decoder's cross-attention uses ``weights`` at the query
    positions ``edited`` (None, None: its own), and with ``scores`` (a list) appends
    each layer's raw scores (N, H, Tq, S) to it, in layer order, the model's own even
    where edited.

    weights: (N or 1, layers, heads, Tq, S), rows summing to 1 (only edited positions read)
    edited:  (Tq,) bool, the decoder positions of this forward whose attention is given
    """
    modules = cross_attention_modules(model)
    if weights is not None and (weights.dim() != 5 or weights.size(1) != len(modules)):
        raise ValueError(
            f"an attention edit for this model is (N, {len(modules)}, heads, T, S), "
            f"got {tuple(weights.shape)}"
        )
    _register()
    configs = {id(m.config): m.config for m in modules}
    saved = {key: config._attn_implementation for key, config in configs.items()}
    try:
        for layer, module in enumerate(modules):
            if weights is not None:
                setattr(module, _EDIT, (weights[:, layer], edited))
            if scores is not None:
                setattr(module, _SCORES, scores)
        for config in configs.values():
            config._attn_implementation = EDITED_ATTENTION
        yield
    finally:
        for module in modules:
            for name in (_EDIT, _SCORES):
                if hasattr(module, name):
                    delattr(module, name)
        for key, config in configs.items():
            config._attn_implementation = saved[key]


def step_edit(model: Any, override: Tensor, mask: Tensor, *, layers: int, heads: int):
    """``cross_attention_edited`` for one decoder step: ``override`` (N, layers · heads, S)
    layer-major, as ``HfStepModel.step`` takes it (``heads`` = layers · heads per layer);
    ``mask`` (N, S) True on real source positions. The weights are checked (shape, finite,
    non-negative, 0 on padding, some mass in every row: ValueError otherwise) and each
    row renormalised to sum to 1."""
    if isinstance(override, Tensor) and override.is_floating_point():
        override = override.to(device=mask.device, dtype=torch.float32)
    checked = check_override(override, mask, heads)  # (N, L·H, S)
    rows, length = mask.shape
    per_layer = checked.view(rows, layers, heads // layers, 1, length)  # (N, L, H, 1, S)
    edited = torch.ones(1, dtype=torch.bool, device=mask.device)
    return cross_attention_edited(model, per_layer, edited)


def attention_scores(
    step_model: Any, memory: Any, tgt_in: Tensor, overrides: Mapping[int, Tensor] | None = None
) -> Tensor:
    """Raw pre-softmax cross-attention scores, teacher-forced over ``tgt_in`` (1, T)
    AttnScope ids (bos first) -> (1, T, layers · heads, S), layer-major, padding -inf:
    the ``attention_scores`` engine/scores.py asks a step model for. ``overrides``
    {step: (1, layers · heads, S)} are what-if edits replayed in one forward: at those
    steps the edited weights make the context and the scores are the model's own (the
    first layer's as without the edit; a later layer's from what the edited layers
    below it give)."""
    from transformers.modeling_outputs import BaseModelOutput

    layers, heads = step_model.num_layers, step_model.num_heads
    rows, length = memory.mask.shape
    steps = tgt_in.size(1)
    fed = step_model.vocab.to_hf[tgt_in].clone()  # (1, T) model ids
    fed[:, 0] = step_model.start_token
    weights = edited = None
    if overrides:
        weights = torch.zeros(rows, layers, heads // layers, steps, length, device=fed.device)
        edited = torch.zeros(steps, dtype=torch.bool, device=fed.device)
        for step, override in overrides.items():
            checked = check_override(override.float(), memory.mask, heads)  # (1, L·H, S)
            weights[:, :, :, step] = checked.view(rows, layers, heads // layers, length)
            edited[step] = True
    captured: list[Tensor] = []
    with torch.no_grad(), cross_attention_edited(step_model.model, weights, edited, captured):
        step_model.model(
            encoder_outputs=BaseModelOutput(last_hidden_state=memory.hidden),
            attention_mask=memory.mask.long(),
            decoder_input_ids=fed,
            use_cache=False,
            return_dict=True,
        )
    scores = torch.stack(captured, dim=1).float()  # (1, L, H, T, S)
    scores = scores.permute(0, 3, 1, 2, 4).reshape(rows, steps, heads, length)
    return scores.masked_fill(~memory.mask[:, None, None, :], float("-inf"))


__all__ = [
    "EDITED_ATTENTION",
    "attention_scores",
    "cross_attention_edited",
    "cross_attention_modules",
    "step_edit",
]
