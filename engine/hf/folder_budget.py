"""A lower bound of the parameters a config asks for, checked against the weights' size.

transformers allocates (and randomly initialises) every parameter the config asks for
before it reads the weights: a 1 kB config.json saying ``vocab_size`` 1,000,000 and
``d_model`` 4,096 beside a small weights file made it ask for 16,384,000,000 bytes
(measured under an 8 GB address-space limit, where the allocation failed). Each size is
bounded on its own (engine/hf/folder.py), but their product is not. A real folder stores
every parameter in at least one byte (float16: two), so weights smaller than this lower
bound cannot be the config's, and are refused before anything is built: whoever hands
over a folder has to hand over about as many bytes as the memory it makes the app use.
"""

from __future__ import annotations

from typing import Any

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


def _part_bound(part: dict[str, Any]) -> int:
    width = next((part[key] for key in _WIDTHS if _is_int(part.get(key))), 0)
    vocab = part["vocab_size"] if _is_int(part.get("vocab_size")) else 0
    layers = sum(part[key] for key in _LAYERS if _is_int(part.get(key)))
    return vocab * width + layers * 4 * width * width


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
