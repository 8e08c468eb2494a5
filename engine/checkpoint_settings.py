"""Settings a checkpoint carries for its users, validated like any other untrusted input.

A checkpoint's image preprocessing decides the size of every picture's tensor,
and its ``training_info["recommended_decoding"]`` is applied by ``--recommended``
and by the app's Use the model's recommended settings. A hostile or broken file
must not make either one a beam of 10**8, an unbounded caption, a NaN
normalisation or a picture too small for the model's trunk; each is refused
with a ``CheckpointError`` naming the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.errors import CheckpointError
from attnscope.engine.images import ImagePreprocess
from attnscope.models.config import ModelConfig
from attnscope.models.encoders import TRUNK_STRIDES

RECOMMENDED = "recommended_decoding"


def checked_preprocess(
    path: Path | str, stored: dict | None, config: ModelConfig
) -> ImagePreprocess:
    """The stored image preprocessing (or the encoder's defaults), fit for the model's trunk."""
    try:
        if stored is not None:
            preprocess = ImagePreprocess.from_dict(stored)
        else:
            preprocess = ImagePreprocess.from_model_config(config.image_encoder)
    except ValueError as exc:
        raise CheckpointError(f"{path}: image_preprocess is invalid: {exc}") from exc
    backbone = config.image_encoder.backbone
    smallest = TRUNK_STRIDES[backbone]  # input pixels per feature-map cell
    if min(preprocess.size) < smallest:
        raise CheckpointError(
            f"{path}: image_preprocess size {list(preprocess.size)} is too small for the "
            f"{backbone} trunk, which needs at least {smallest}x{smallest} pixels"
        )
    return preprocess


def check_recommended_decoding(path: Path | str, info: dict[str, Any]) -> None:
    """``info["recommended_decoding"]``, if present, must be valid DecodeConfig settings."""
    if RECOMMENDED not in info:
        return
    try:
        DecodeConfig.from_dict(info[RECOMMENDED])
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: training_info.{RECOMMENDED} is invalid: {exc}") from exc
