"""A Hugging Face encoder–decoder in the step-model protocol (engine/decoding/step_model.py).

``HfStepModel`` wraps a loaded ``…ForConditionalGeneration``-style model (eval mode,
eager attention, so the attention weights exist):

- ``encode(input_ids, attention_mask)`` runs the encoder once -> ``HfMemory``;
- the state is the decoder's key/value cache, held as plain tensors in a frozen
  ``HfCacheState`` (``step`` returns a new one and never changes the old, so the
  session's Back and the beam's save points stay exact); ``reorder`` is
  ``index_select`` on its tensors (beam search, finished inputs leaving). The
  cross-attention keys and values are a function of the input alone, so a reorder that
  leaves every row on the same input (beam search's every step, until an input ends)
  keeps them as they are: each row's are already its input's;
- ``step`` returns log-probs in AttnScope's ids (``HfVocabMap``: bos 2, eos 3) and the
  cross-attention of every layer and head.

Attention layout. The protocol's attention is (N, heads, S); the rest of the app
(recorder, heat map, exports, coverage penalty) treats "heads" generically, so this
model reports ``num_heads = layers · heads`` rows, **layer-major** (row ``l · H + h`` is
layer ``l``, head ``h``). The whole (N, layers, heads, S) tensor thus travels through
every decode record unchanged; ``split_layers`` gives it back with its layer axis for
the layer × head views.

Length limit. generate() forces the folder's ``forced_eos_token_id`` (opus-mt, BART,
mBART) as the last token of an output cut at its maximum length; the decode loop gives
each row's limit to the state (``limit_lengths``), and ``step`` forces the same token at
each row's last position, so a cut output equals generate()'s.

The first step always feeds the model's ``decoder_start_token_id`` (the token the
loop's bos stands for at step 0): for BART-like models it is eos, which the
permutation cannot also give to bos.
"""

from __future__ import annotations

import inspect
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any, Self

import numpy as np
import torch
from torch import Tensor

from attnscope.engine.hf.vocab_map import HfVocabMap
from attnscope.engine.hf.what_if import attention_scores, step_edit

# (self_k, self_v, cross_k, cross_v) of one decoder layer, each (N, heads, T or S, head_dim)
LayerCache = tuple[Tensor, Tensor, Tensor, Tensor]


@dataclass(frozen=True)
class HfMemory:
    """The encoder's output, one row per input (or hypothesis).

    hidden: (N, S, D) last encoder layer
    mask:   (N, S) bool, True on real source tokens
    inputs: (N,) long, the input each row holds (rows repeated for a beam share it);
            None when unknown
    """

    hidden: Tensor
    mask: Tensor
    inputs: Tensor | None = None

    def index_select(self, index: Tensor) -> Self:
        inputs = None if self.inputs is None else self.inputs.index_select(0, index)
        return type(self)(
            self.hidden.index_select(0, index), self.mask.index_select(0, index), inputs
        )

    def repeat_interleave(self, times: int) -> Self:
        inputs = None if self.inputs is None else self.inputs.repeat_interleave(times)
        return type(self)(
            self.hidden.repeat_interleave(times, dim=0),
            self.mask.repeat_interleave(times, dim=0),
            inputs,
        )


@dataclass(frozen=True)
class HfCacheState:
    """The decoder's key/value cache after ``length`` tokens; empty before the first step.

    layers: one LayerCache per decoder layer (self-attention keys grow by one per step;
            cross-attention keys are the encoder's, computed at the first step)
    cross_inputs: (N,) long, the input each row's cross-attention keys and values were
            computed from (``HfMemory.inputs``); None when unknown
    limits: (N,) long, each row's maximum output length (eos included) when the decode
            loop gave it (``HfStepModel.limit_lengths``); None otherwise
    """

    layers: tuple[LayerCache, ...] = ()
    cross_inputs: Tensor | None = None
    limits: Tensor | None = None

    @property
    def length(self) -> int:
        return 0 if not self.layers else self.layers[0][0].size(2)

    def index_select(self, index: Tensor) -> HfCacheState:
        """The rows ``index`` names; the cross-attention tensors stay as they are when
        every row keeps its input: 12 fewer copies of (40, 8, S, 64) a step for a random
        Marian-base-sized model at beam 5 x batch 8 (40 steps, 1 thread, load ~7, 5 turns:
        CPU s old/new 0.98-1.16, median 1.04x; the same bits)."""
        if self.cross_inputs is None:
            inputs, same = None, False
        else:
            inputs = self.cross_inputs.index_select(0, index)
            same = torch.equal(inputs, self.cross_inputs)

        def pick(layer: LayerCache) -> LayerCache:
            keys, values, cross_keys, cross_values = layer
            if not same:
                cross_keys, cross_values = (
                    cross_keys.index_select(0, index),
                    cross_values.index_select(0, index),
                )
            return (
                keys.index_select(0, index),
                values.index_select(0, index),
                cross_keys,
                cross_values,
            )

        limits = None if self.limits is None else self.limits.index_select(0, index)
        return HfCacheState(tuple(pick(layer) for layer in self.layers), inputs, limits)


class HfStepModel:
    """A loaded Hugging Face encoder–decoder as a StepModel (see the module docstring).

    model: in eval mode, loaded with ``attn_implementation="eager"``
    vocab: AttnScope ids <-> the model's output ids
    """

    # ``step`` takes ``attention_override`` (engine/hf/what_if.py); the decode loop asks this
    accepts_attention_override = True

    def __init__(self, model: Any, vocab: HfVocabMap) -> None:
        self.model = model
        self.num_layers, self.heads_per_layer = decoder_shape(model.config)
        self.num_heads = self.num_layers * self.heads_per_layer
        self.start_token: int = model.config.decoder_start_token_id
        # generate()'s forced_bos_token_id (model id): the only token possible at the first
        # generated position, e.g. the target language code (engine/hf/multilingual.py)
        self.forced_first_token: int | None = None
        # model ids generate() never produces: its one-token bad_words_ids (real opus-mt
        # folders ban their pad, which is also their decoder start token); (k,) long
        self.banned_tokens: Tensor | None = None
        # generate()'s forced_eos_token_id (model id): the only token possible at an
        # output's last position when the decode loop gave the lengths (``limit_lengths``)
        self.forced_last_token: int | None = None
        # learned or sinusoidal positions end here (T5's relative positions do not)
        positions = getattr(model.config, "max_position_embeddings", None)
        self.max_target_length: int | None = positions if isinstance(positions, int) else None
        device = next(model.parameters()).device
        self.vocab = vocab.to(device)
        # transformers 5.2x renamed forward's ``past_key_values`` to ``cache``
        params = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"

    @property
    def training(self) -> bool:
        return self.model.training

    def encode(self, input_ids: Tensor, attention_mask: Tensor) -> HfMemory:
        """(N, S) model token ids and their 0/1 mask -> the encoder's memory (computed
        without autograd, as plain tensors that inference mode and gradients both take)."""
        return self.encode_with_attention(input_ids, attention_mask, attention=False)[0]

    def encode_with_attention(
        self, input_ids: Tensor, attention_mask: Tensor, *, attention: bool = True
    ) -> tuple[HfMemory, tuple[Tensor, ...]]:
        """``encode`` and, from the same pass, the encoder's self-attention of every
        layer, each (N, heads, S, S) (eager attention computes them anyway): what
        attention rollout reads (engine/hf/rollout.py). ``attention=False``: none, ()."""
        with torch.no_grad():
            out = self.model.get_encoder()(
                input_ids=input_ids,
                attention_mask=attention_mask,
                output_attentions=attention,
                return_dict=True,
            )
        inputs = torch.arange(input_ids.size(0), device=input_ids.device)
        memory = HfMemory(out.last_hidden_state, attention_mask.bool(), inputs)  # (N, S, D), (N, S)
        return memory, (tuple(out.attentions or ()) if attention else ())

    def init_state(self, memory: HfMemory) -> HfCacheState:
        return HfCacheState()

    def limit_lengths(self, state: HfCacheState, max_lengths: Tensor) -> HfCacheState:
        """``state`` knowing each row's maximum output length, (N,) long (eos included):
        the decode loop's, so ``step`` can force ``forced_last_token`` at the last one."""
        return replace(state, limits=max_lengths.to(self.vocab.to_hf.device))

    def reorder(self, state: HfCacheState, index: Tensor) -> HfCacheState:
        return state.index_select(index)

    def step(
        self,
        prev_tokens: Tensor,
        state: HfCacheState,
        memory: HfMemory,
        attention_override: Tensor | None = None,
    ) -> tuple[Tensor, HfCacheState, Tensor]:
        """prev_tokens (N,) AttnScope ids -> log_probs (N, V) in AttnScope ids, the new
        cache, and the cross-attention (N, layers · heads, S), layer-major.

        attention_override: (N, layers · heads, S) weights every decoder layer's
        cross-attention uses instead of its own at this step (engine/hf/what_if.py)."""
        from transformers.modeling_outputs import BaseModelOutput

        if self.max_target_length is not None and state.length >= self.max_target_length:
            raise ValueError(
                f"this model's decoder has {self.max_target_length} positions; "
                f"set the maximum output length to at most {self.max_target_length}"
            )
        if state.length == 0:
            fed = torch.full_like(prev_tokens, self.start_token)
        else:
            fed = self.vocab.to_hf[prev_tokens]
        edit = nullcontext()
        if attention_override is not None:
            edit = step_edit(
                self.model,
                attention_override,
                memory.mask,
                layers=self.num_layers,
                heads=self.num_heads,
            )
        with edit:
            out = self.model(
                encoder_outputs=BaseModelOutput(last_hidden_state=memory.hidden),
                attention_mask=memory.mask.long(),
                decoder_input_ids=fed.unsqueeze(1),  # (N, 1)
                use_cache=True,
                output_attentions=True,
                return_dict=True,
                **{self._cache_arg: _to_cache(state)},
            )
        logits = out.logits[:, -1].float()  # (N, V) model ids
        log_probs = logits.log_softmax(dim=-1)
        if self.banned_tokens is not None:  # as generate()'s NoBadWordsLogitsProcessor
            log_probs = log_probs.index_fill(1, self.banned_tokens, float("-inf"))
        if state.length == 0 and self.forced_first_token is not None:
            log_probs = _only(log_probs, self.forced_first_token)
        if self.forced_last_token is not None and state.limits is not None:
            last = state.limits == state.length + 1  # (N,) rows making their last token
            if last.any():  # as generate()'s ForcedEOSTokenLogitsProcessor (applied after BOS)
                forced = _only(log_probs, self.forced_last_token)
                log_probs = torch.where(last[:, None], forced, log_probs)
        log_probs = log_probs.index_select(1, self.vocab.to_hf)
        # per layer (N, heads, 1, S) -> (N, layers, heads, S)
        attention = torch.stack([a[:, :, -1] for a in out.cross_attentions], dim=1)
        attention = attention.float() * memory.mask[:, None, None, :]  # exact 0 on padding
        cache = out.cache if hasattr(out, "cache") else out.past_key_values
        # the first step computes the cross-attention keys and values from the memory's rows
        inputs = memory.inputs if state.length == 0 else state.cross_inputs
        new_state = replace(_from_cache(cache), cross_inputs=inputs, limits=state.limits)
        return log_probs, new_state, attention.flatten(1, 2)

    def attention_scores(self, memory: HfMemory, tgt_in: Tensor, overrides=None) -> Tensor:
        """Raw pre-softmax cross-attention scores (1, T, layers · heads, S), teacher-forced
        over ``tgt_in`` (engine/scores.py; engine/hf/what_if.py)."""
        return attention_scores(self, memory, tgt_in, overrides)

    def split_layers(self, attention: Tensor | np.ndarray) -> Tensor | np.ndarray:
        """(…, layers · heads, S) as ``step`` returns it (or a decode result holds it, in
        numpy) -> (…, layers, heads, S)."""
        shape = attention.shape
        return attention.reshape(*shape[:-2], self.num_layers, self.heads_per_layer, shape[-1])


def _only(log_probs: Tensor, token: int) -> Tensor:
    """(N, V) log-probs where ``token`` is certain (0) and every other id impossible (-inf),
    as generate()'s ForcedBOSTokenLogitsProcessor leaves them (so beam scores agree)."""
    forced = torch.full_like(log_probs, float("-inf"))
    forced[:, token] = 0.0
    return forced


def decoder_shape(config: Any) -> tuple[int, int]:
    """(decoder layers, cross-attention heads per layer) under either naming: Marian and
    BART (``decoder_layers``, ``decoder_attention_heads``) or T5 (``num_decoder_layers``,
    ``num_heads``)."""
    layers = getattr(config, "decoder_layers", None) or config.num_decoder_layers
    heads = getattr(config, "decoder_attention_heads", None) or config.num_heads
    return int(layers), int(heads)


def _to_cache(state: HfCacheState) -> Any:
    """A fresh EncoderDecoderCache over the state's tensors (the model grows it with new
    tensors, so the state itself never changes). The layers take the tensors as they are:
    filling them through ``update`` would copy every key and value, cross-attention's
    included, at every step (a random Marian-base-sized model, beam 5 x batch 8, 40 steps,
    1 thread, load ~6: median CPU 5.9 -> 5.5 s a decode, the same bits)."""
    from transformers.cache_utils import DynamicCache, DynamicLayer, EncoderDecoderCache

    def cache(pairs: list[tuple[Tensor, Tensor]]) -> DynamicCache:
        filled = DynamicCache()
        for keys, values in pairs:
            layer = DynamicLayer()
            layer.lazy_initialization(keys, values)  # device, dtype; empty tensors
            layer.keys, layer.values = keys, values
            filled.layers.append(layer)
        return filled

    return EncoderDecoderCache(
        cache([(k, v) for k, v, _, _ in state.layers]),
        cache([(k, v) for _, _, k, v in state.layers]),
    )


def _from_cache(cache: Any) -> HfCacheState:
    own = cache.self_attention_cache.layers
    cross = cache.cross_attention_cache.layers
    return HfCacheState(
        tuple((s.keys, s.values, c.keys, c.values) for s, c in zip(own, cross, strict=True))
    )
