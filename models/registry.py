"""``build_model(config)``: the one place a config becomes a model."""

from __future__ import annotations

from typing import Any

from torch import nn

from attnscope.models.captioning import CaptioningModel
from attnscope.models.config import ModelConfig
from attnscope.models.seq2seq import EncoderDecoder
from attnscope.models.translation import TranslationModel

MODELS: dict[str, type[EncoderDecoder]] = {
    "translation": TranslationModel,
    "captioning": CaptioningModel,
}


def _init_normal(param: nn.Parameter) -> None:
    nn.init.normal_(param, mean=0.0, std=0.01)  # the source article's scheme


def _init_uniform(param: nn.Parameter) -> None:
    nn.init.uniform_(param, -0.1, 0.1)


def _init_xavier(param: nn.Parameter) -> None:
    if param.dim() > 1:
        nn.init.xavier_uniform_(param)
    else:
        nn.init.zeros_(param)


INIT_SCHEMES = {"normal": _init_normal, "uniform": _init_uniform, "xavier": _init_xavier}


def initialise(model: EncoderDecoder, scheme: str) -> None:
    """Re-initialise every parameter outside a CNN trunk; "default" keeps torch's."""
    if scheme == "default":
        return
    if scheme not in INIT_SCHEMES:
        raise ValueError(
            f"unknown init scheme {scheme!r}; valid: default, {', '.join(INIT_SCHEMES)}"
        )
    for name, param in model.named_parameters():
        if ".trunk." not in f".{name}":
            INIT_SCHEMES[scheme](param)


def build_model(config: ModelConfig | dict[str, Any]) -> EncoderDecoder:
    """A TranslationModel or CaptioningModel for ``config`` (dataclass or plain dict)."""
    if isinstance(config, dict):
        config = ModelConfig.from_dict(config)
    if config.task not in MODELS:
        raise ValueError(f"unknown task {config.task!r}; valid: {', '.join(MODELS)}")
    model = MODELS[config.task](config)
    initialise(model, config.init)
    return model
