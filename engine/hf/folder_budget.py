"""The sizes a model folder's config may ask for: each one bounded, and their product.

``size_problem(config)`` checks each size field on its own (SIZE_BOUNDS: an untrusted
config must not make us build 10,000 layers). ``parameter_lower_bound(config)`` bounds
their product, checked against the weights' size:

transformers allocates (and randomly initialises) every parameter the config asks for
before it reads the weights: a 1 kB config.json saying ``vocab_size`` 1,000,000 and
``d_model`` 4,096 beside a small weights file made it ask for 16,384,000,000 bytes
(measured under an 8 GB address-space limit, where the allocation failed). Each size is
bounded on its own, but their product is not. A real folder stores
every parameter in at least one byte (float16: two), so weights smaller than this lower
bound cannot be the config's, and are refused before anything is built: whoever hands
over a folder has to hand over about as many bytes as the memory it makes the app use.
"""

from __future__ import annotations

from typing import Any

from attnscope.models.config import MAX_HEADS, MAX_LAYERS, MAX_POSITIONS, MAX_VOCAB, MAX_WIDTH

# config.json's num_labels makes transformers build an id2label dict of that many
# entries (10 million of them took 44 s); a translation model has a handful.
MAX_LABELS = 1024
# Every size field of the supported families' configs (Marian/BART names, T5 names),
# with its bounds; a field that is present must be an int within them.
SIZE_BOUNDS: dict[str, tuple[int, int]] = {
    "d_model": (1, MAX_WIDTH),
    "encoder_layers": (1, MAX_LAYERS),
    "decoder_layers": (1, MAX_LAYERS),
    "num_layers": (1, MAX_LAYERS),
    "num_decoder_layers": (1, MAX_LAYERS),
    "encoder_attention_heads": (1, MAX_HEADS),
    "decoder_attention_heads": (1, MAX_HEADS),
    "num_heads": (1, MAX_HEADS),
    "encoder_ffn_dim": (1, 4 * MAX_WIDTH),
    "decoder_ffn_dim": (1, 4 * MAX_WIDTH),
    "d_ff": (1, 4 * MAX_WIDTH),
    "d_kv": (1, MAX_WIDTH),
    "vocab_size": (1, MAX_VOCAB),
    "decoder_vocab_size": (1, MAX_VOCAB),
    "max_position_embeddings": (1, MAX_POSITIONS),
    # T5's relative position buckets: a table of buckets x heads (10**9 buckets is
    # gigabytes built before any weight is read)
    "relative_attention_num_buckets": (1, MAX_POSITIONS),
    "relative_attention_max_distance": (1, MAX_POSITIONS),
    "num_labels": (1, MAX_LABELS),
}

_WIDTHS = ("d_model", "hidden_size", "n_embd")
_LAYERS = (
    "encoder_layers",
    "decoder_layers",
    "num_layers",
    "num_decoder_layers",
    "num_hidden_layers",
    "n_layer",
)
# The nested halves of a captioner's config (engine/hf/vision_folder.py HALVES).
_HALVES = ("encoder", "decoder", "vision_config", "text_config")


def parameter_lower_bound(config: dict[str, Any]) -> int:
    """At least how many parameters ``config`` (sizes already bounded) builds: the token
    embedding (vocabulary x width) and four width x width projections per layer (the
    attention's query, key, value and output), counted on the config and on each nested
    half. Anything a config leaves out counts 0, so the bound stays below the model."""
    parts = [config, *(config[key] for key in _HALVES if isinstance(config.get(key), dict))]
    return sum(_part_bound(part) for part in parts)


def size_problem(config: dict[str, Any]) -> str | None:
    """What is wrong with ``config``'s sizes (a field of SIZE_BOUNDS that is not an int
    within its bounds), None when nothing is: an untrusted config must not make us build
    10,000 layers."""
    for key, (low, high) in SIZE_BOUNDS.items():
        value = config.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"{key} must be an integer in {low}..{high:,}, got {value!r:.40}"
    return None


def _part_bound(part: dict[str, Any]) -> int:
    width = next((part[key] for key in _WIDTHS if _is_int(part.get(key))), 0)
    vocab = part["vocab_size"] if _is_int(part.get("vocab_size")) else 0
    layers = sum(part[key] for key in _LAYERS if _is_int(part.get(key)))
    return vocab * width + layers * 4 * width * width


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
