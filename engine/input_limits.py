"""How much input a model takes: every model states its own limit, checked before encoding.

A text source is refused with a message (InputTextError) before it reaches the
encoder when it is longer than the model can read: the convolutional encoder's
learned positions end at ``max_positions`` (the zh→en model: 64), and no model takes
more than ``MAX_SOURCE_TOKENS`` positions at once. Pictures are bounded by their
pixel count (engine/images.py) and resized to the checkpoint's input size.
"""

from __future__ import annotations

from typing import Any

from attnscope.engine.images import MAX_IMAGE_PIXELS
from attnscope.models.config import ModelConfig

MAX_SOURCE_TOKENS = 400  # positions, eos included: longer texts are refused with a message


def max_source_positions(config: ModelConfig) -> int | None:
    """Source positions (eos included) the model reads at once; None for a captioner."""
    if config.task != "translation":
        return None
    encoder = config.text_encoder
    if encoder.kind == "cnn":  # learned positions: the embedding table ends there
        return min(MAX_SOURCE_TOKENS, encoder.max_positions)
    return MAX_SOURCE_TOKENS


def input_limit(config: ModelConfig) -> dict[str, Any]:
    """The limit as ``attnscope info`` shows it."""
    positions = max_source_positions(config)
    if positions is None:
        return {"max_image_pixels": MAX_IMAGE_PIXELS}
    return {"max_source_tokens": positions - 1, "max_source_positions": positions}
