"""Hugging Face captioners in the step-model protocol: ``VisionEncoderDecoderModel`` (ViT,
DeiT or Swin encoder; GPT-2 or BERT decoder) and ``BlipForConditionalGeneration``.

``VisionStepModel.encode(pixel_values)`` runs the image encoder once; each ``step`` runs
the text decoder on one token with the key/value cache as its state (``HfCacheState``,
shared with the text models: frozen, so Back and the beam's save points stay exact).

The patch grid. The encoder's output is a few tokens that are no image cell, then an
h × w grid of patches in row-major order: ViT and BLIP put ``[CLS]`` first, DeiT
``[CLS]`` and its distillation token, Swin's last stage has no such token. The decoder
attends to all of them; AttnScope's image views draw attention over grid cells. So
``step`` reports each layer's and head's cross-attention over the **grid cells only**
(N, layers · heads, h · w), layer-major as every Hugging Face model's, exactly the
model's weights: they are not renormalised, and a row sums to 1 minus the weight the
head gave the prefix tokens (``prefix_share`` gives that weight back). The loop sees the
grid cells as its source positions (``VisionMemory.mask``).

The first step feeds the decoder's start: a VisionEncoderDecoder's
``decoder_start_token_id``; BLIP's ``[DEC]`` bos followed by an optional prompt ("a
picture of"), as ``BlipForConditionalGeneration.generate`` does. The log-probs and the
attention are those of the last position fed.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import torch
from torch import Tensor

from attnscope.engine.hf.folder import HfFolder, HfFolderError
from attnscope.engine.hf.step_model import HfCacheState, _from_cache, _to_cache
from attnscope.engine.hf.vision_folder import (
    ENCODER_PREFIX_TOKENS,
    image_processor_class,
    read_image_processor_config,
)
from attnscope.engine.hf.vocab_map import HfVocabMap
from attnscope.engine.input_files import display_path


@dataclass(frozen=True)
class VisionMemory:
    """The image encoder's output, one row per picture (or hypothesis).

    hidden: (N, prefix + h·w, D) what the decoder's cross-attention reads
    mask:   (N, h·w) bool, all True: the grid cells, the loop's source positions
    prefix: tokens before the grid ([CLS], DeiT's distillation token; Swin: 0)
    grid:   (h, w) patches
    """

    hidden: Tensor
    mask: Tensor
    prefix: int
    grid: tuple[int, int]

    def index_select(self, index: Tensor) -> Self:
        return type(self)(
            self.hidden.index_select(0, index),
            self.mask.index_select(0, index),
            self.prefix,
            self.grid,
        )

    def repeat_interleave(self, times: int) -> Self:
        return type(self)(
            self.hidden.repeat_interleave(times, dim=0),
            self.mask.repeat_interleave(times, dim=0),
            self.prefix,
            self.grid,
        )


class VisionStepModel:
    """A loaded captioner as a StepModel (see the module docstring).

    model:     VisionEncoderDecoderModel or BlipForConditionalGeneration, eval mode, eager
               attention
    vocab:     AttnScope ids <-> the decoder's output ids
    start_ids: what the first step feeds (the model's ids): the start token, then a prompt
    """

    def __init__(self, model: Any, vocab: HfVocabMap, *, start_ids: Sequence[int]) -> None:
        self.model = model
        self.blip = hasattr(model, "text_decoder")
        self.decoder = model.text_decoder if self.blip else model.decoder
        encoder_config = model.config.vision_config if self.blip else model.config.encoder
        decoder_config = self.decoder.config
        self.num_layers = int(decoder_config.num_hidden_layers)
        self.heads_per_layer = int(decoder_config.num_attention_heads)
        self.num_heads = self.num_layers * self.heads_per_layer
        self.encoder_type = "blip_vision_model" if self.blip else encoder_config.model_type
        self.prefix = ENCODER_PREFIX_TOKENS[self.encoder_type]
        self._encoder_config = encoder_config
        if not start_ids:
            raise ValueError("a captioner's decoder needs a start token")
        positions = getattr(decoder_config, "max_position_embeddings", None)
        self.max_target_length: int | None = positions if isinstance(positions, int) else None
        device = next(model.parameters()).device
        self.start_ids = torch.tensor(list(start_ids), dtype=torch.long, device=device)
        self.vocab = vocab.to(device)
        params = inspect.signature(self.decoder.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"

    @property
    def training(self) -> bool:
        return self.model.training

    def encode(self, pixel_values: Tensor) -> VisionMemory:
        """(N, C, H, W) pixel values from the folder's image processor -> the memory
        (without autograd: plain tensors inference mode and gradients both take)."""
        try:
            hidden = self._encoded(pixel_values)
        except torch.OutOfMemoryError:
            raise  # the caller's out-of-memory handling, not a folder problem
        # e.g. ViT refuses an input of another size than its image_size (a processor
        # whose settings do not match the model): one line, the app keeps working
        except (ValueError, RuntimeError) as exc:
            size = "×".join(str(n) for n in pixel_values.shape[-2:])
            text = " ".join(str(exc).split())[:200]
            raise HfFolderError(
                f"the {self.encoder_type} encoder cannot read the {size} image its processor "
                f"made: {text}"
            ) from exc
        grid = self.patch_grid(pixel_values.shape[-2:])
        cells = hidden.size(1) - self.prefix
        if cells != grid[0] * grid[1]:
            raise HfFolderError(
                f"the {self.encoder_type} encoder gave {cells} patch tokens for a "
                f"{grid[0]}×{grid[1]} grid; AttnScope cannot place them on the picture"
            )
        mask = torch.ones(hidden.shape[:2], dtype=torch.bool, device=hidden.device)
        return VisionMemory(hidden, mask[:, self.prefix :], self.prefix, grid)  # (N, h·w)

    def _encoded(self, pixel_values: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, prefix + h·w, D) as the decoder's cross-attention reads it."""
        with torch.no_grad():
            if self.blip:
                return self.model.vision_model(pixel_values=pixel_values).last_hidden_state
            hidden = self.model.encoder(pixel_values=pixel_values).last_hidden_state
            projection = getattr(self.model, "enc_to_dec_proj", None)
            if projection is not None:  # encoder and decoder widths differ
                hidden = projection(hidden)
            return hidden

    def patch_grid(self, size: Sequence[int]) -> tuple[int, int]:
        """(h, w) patches of an (H, W) input: H / patch size (padded up); Swin halves it
        (padded up) in each later stage."""
        patch = self._encoder_config.patch_size
        patch_h, patch_w = (patch, patch) if isinstance(patch, int) else patch
        h, w = math.ceil(size[0] / patch_h), math.ceil(size[1] / patch_w)
        for _ in range(len(getattr(self._encoder_config, "depths", [1])) - 1):
            h, w = math.ceil(h / 2), math.ceil(w / 2)
        return h, w

    def init_state(self, memory: VisionMemory) -> HfCacheState:
        return HfCacheState()

    def reorder(self, state: HfCacheState, index: Tensor) -> HfCacheState:
        return state.index_select(index)

    def step(
        self, prev_tokens: Tensor, state: HfCacheState, memory: VisionMemory
    ) -> tuple[Tensor, HfCacheState, Tensor]:
        """prev_tokens (N,) AttnScope ids -> log_probs (N, V) in AttnScope ids, the new
        cache, and the cross-attention over the grid cells (N, layers · heads, h·w),
        layer-major, not renormalised (the module docstring)."""
        if state.length == 0:
            fed = self.start_ids.expand(prev_tokens.size(0), -1)  # (N, 1 + prompt)
        else:
            fed = self.vocab.to_hf[prev_tokens].unsqueeze(1)  # (N, 1)
        if self.max_target_length is not None and state.length + fed.size(1) > (
            self.max_target_length
        ):
            raise ValueError(
                f"this model's decoder has {self.max_target_length} positions; "
                f"set the maximum output length to at most "
                f"{self.max_target_length - self.start_ids.numel() + 1}"
            )
        out = self.decoder(
            input_ids=fed,
            encoder_hidden_states=memory.hidden,
            use_cache=True,
            output_attentions=True,
            return_dict=True,
            **{self._cache_arg: _to_cache(state)},
        )
        logits = out.logits[:, -1].float()  # (N, V) model ids
        log_probs = logits.log_softmax(dim=-1).index_select(1, self.vocab.to_hf)
        # per layer (N, heads, fed, prefix + h·w) -> (N, layers, heads, h·w)
        attention = torch.stack([a[:, :, -1, memory.prefix :] for a in out.cross_attentions], 1)
        cache = out.cache if hasattr(out, "cache") else out.past_key_values
        return log_probs, _from_cache(cache), attention.float().flatten(1, 2)

    def split_layers(self, attention: Tensor | np.ndarray) -> Tensor | np.ndarray:
        """(…, layers · heads, S) as ``step`` returns it -> (…, layers, heads, S)."""
        shape = attention.shape
        return attention.reshape(*shape[:-2], self.num_layers, self.heads_per_layer, shape[-1])


def prefix_share(attention: np.ndarray) -> np.ndarray:
    """The weight a row of grid attention (…, h·w) left on the tokens before the grid
    ([CLS], DeiT's distillation token): 1 minus the row's sum, (…) float32. Zero for Swin."""
    rows = np.asarray(attention, dtype=np.float64).sum(axis=-1)
    return np.clip(1.0 - rows, 0.0, 1.0).astype(np.float32)


def captioner_parts(model: Any, tokenizer: Any, name: str) -> tuple[VisionStepModel, HfVocabMap]:
    """The step model of a loaded captioner and its vocabulary map.

    The decode ends on the token generate() ends on (a VisionEncoderDecoder's
    ``eos_token_id``; BLIP's ``sep_token_id``), which takes AttnScope's eos; the loop's
    bos is never fed (the first step feeds ``start_ids``), so a start token equal to eos
    (GPT-2's ``<|endoftext|>``) costs nothing.
    """
    decoder = getattr(model, "text_decoder", None)
    if decoder is not None:  # BLIP
        text = model.config.text_config
        eos, start = _id(text.sep_token_id), _id(text.bos_token_id)
        what = "text_config sep_token_id / bos_token_id"
    else:
        decoder = model.decoder
        eos, start = _first(model.config.eos_token_id), _id(model.config.decoder_start_token_id)
        what = "eos_token_id / decoder_start_token_id"
    if eos is None or start is None:
        raise HfFolderError(f"{name}/config.json names no {what}")
    size = decoder.get_output_embeddings().out_features
    unk = _id(getattr(tokenizer, "unk_token_id", None))
    pad = _id(getattr(tokenizer, "pad_token_id", None))
    vocab = HfVocabMap.build(size, bos=None, eos=eos, unk=unk, pad=pad)
    return VisionStepModel(model, vocab, start_ids=[start]), vocab


def _id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _first(value: Any) -> int | None:
    return _id(value[0] if isinstance(value, list) and value else value)


def load_image_processor(folder: HfFolder) -> Any:
    """The folder's image processor, its class named in preprocessor_config.json (checked
    by engine/hf/vision_folder.py), read offline; HfFolderError if it cannot be built."""
    import transformers

    name = display_path(folder.path)
    kind = image_processor_class(read_image_processor_config(folder.path, name))
    try:
        return getattr(transformers, kind).from_pretrained(folder.path, local_files_only=True)
    except Exception as exc:  # transformers raises many types for bad settings: one line
        text = " ".join(str(exc).split())[:300]
        raise HfFolderError(f"{name}: the image processor cannot be loaded: {text}") from exc
