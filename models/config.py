"""Typed, frozen configuration for every model AttnScope can build.

A checkpoint stores ``ModelConfig.to_dict()``; loading rebuilds the model from
``ModelConfig.from_dict(...)`` and ``build_model`` (see ``registry.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any

TASKS = ("translation", "captioning")
RNN_CELLS = ("gru", "lstm")
TEXT_ENCODERS = ("rnn", "cnn", "conv_rnn")
IMAGE_BACKBONES = ("resnet18", "resnet34", "resnet50", "mobilenet_v2", "small_cnn")
ATTENTION_KINDS = (
    "additive",
    "dot",
    "general",
    "location",
    "location_sensitive",
    "multihead",
    "none",
)
ATTENTION_PLACEMENTS = ("bahdanau", "luong")
INIT_SCHEMES = ("default", "normal", "uniform", "xavier")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(choices)}")


@dataclass(frozen=True)
class TextEncoderConfig:
    """Text encoder: embedding, then an RNN, a CNN, or a CNN feeding an RNN."""

    kind: str = "rnn"  # rnn | cnn | conv_rnn
    cell: str = "gru"  # gru | lstm (rnn, conv_rnn)
    layers: int = 1
    hidden: int = 256  # per direction for a bidirectional RNN
    bidirectional: bool = True
    dropout: float = 0.1
    kernel_sizes: tuple[int, ...] = (3, 5, 7)  # cnn, conv_rnn: one conv layer per kernel
    max_positions: int = 512  # cnn: learned position embeddings

    def __post_init__(self) -> None:
        _check_choice("text encoder kind", self.kind, TEXT_ENCODERS)
        _check_choice("rnn cell", self.cell, RNN_CELLS)
        if self.layers < 1 or self.hidden < 1:
            raise ValueError(
                f"encoder layers and hidden must be >= 1, got {self.layers}, {self.hidden}"
            )
        if any(k % 2 == 0 or k < 1 for k in self.kernel_sizes):
            raise ValueError(f"kernel sizes must be odd and positive, got {self.kernel_sizes}")

    @property
    def output_size(self) -> int:
        """Feature size of each memory position."""
        if self.kind == "cnn":
            return self.hidden
        return self.hidden * (2 if self.bidirectional else 1)


@dataclass(frozen=True)
class ImageEncoderConfig:
    """Image encoder: a CNN trunk whose last feature map is the memory grid.

    ``small_cnn`` is a from-scratch trunk whose cells see only their
    neighbourhood (see ``encoders.SmallConvTrunk``); with ``positions`` each
    grid cell also gets a learned embedding, so the attended context says
    *where* it was read from. Without ``summary`` the decoder starts from a
    zero summary instead of the mean of all cells, which would otherwise tell it
    what the picture holds without attending anywhere.
    """

    backbone: str = "resnet18"
    grid: tuple[int, int] | None = (7, 7)  # pooled (h, w); None = the trunk's natural map
    projection: int = 0  # 0 = keep the trunk's channels, else a linear projection
    positions: bool = False  # learned embedding per grid cell, added to the memory (needs grid)
    summary: bool = True  # final = mean over cells (decoder init); False = zeros, so the
    # decoder learns about the picture only through attention (no bag-of-features bypass)
    local_keys: bool = False  # attention *keys* from each cell's own pixels (colour mean and
    # mean square, plus its position); the values stay the trunk's features. Where the
    # attention peaks then says which cells' own pixels matched (see encoders.ImageEncoder)
    dropout: float = 0.1
    image_size: tuple[int, int] = (224, 224)  # (h, w) the preprocessing resizes to
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    def __post_init__(self) -> None:
        _check_choice("image backbone", self.backbone, IMAGE_BACKBONES)
        if (self.grid is not None and min(self.grid) < 1) or min(self.image_size) < 1:
            raise ValueError(
                f"grid and image size must be positive, got {self.grid}, {self.image_size}"
            )
        if self.positions and self.grid is None:
            raise ValueError("grid cell positions need a fixed grid (h, w), got grid None")
        if self.local_keys and self.grid is None:
            raise ValueError("local attention keys need a fixed grid (h, w), got grid None")


@dataclass(frozen=True)
class AttentionConfig:
    """Which attention the decoder uses and its few settings."""

    kind: str = "additive"
    heads: int = 1  # multihead only
    hidden: int = 0  # additive / multihead projection size; 0 = decoder hidden
    location_channels: int = 8  # location_sensitive: conv filters over the alignment
    location_kernel: int = 15  # location_sensitive: odd conv width
    cumulative: bool = False  # location_sensitive: convolve the summed past alignments

    def __post_init__(self) -> None:
        _check_choice("attention kind", self.kind, ATTENTION_KINDS)
        if self.heads < 1:
            raise ValueError(f"attention heads must be >= 1, got {self.heads}")
        if self.location_kernel % 2 == 0:
            raise ValueError(f"location kernel must be odd, got {self.location_kernel}")


@dataclass(frozen=True)
class DecoderConfig:
    """RNN decoder; attention placement follows Bahdanau or Luong."""

    cell: str = "gru"
    layers: int = 1
    hidden: int = 256
    dropout: float = 0.1
    placement: str = "bahdanau"  # bahdanau: query = previous state; luong: current output
    input_feed: bool = True  # feed the previous attentional vector as input (Luong)

    def __post_init__(self) -> None:
        _check_choice("rnn cell", self.cell, RNN_CELLS)
        _check_choice("attention placement", self.placement, ATTENTION_PLACEMENTS)
        if self.layers < 1 or self.hidden < 1:
            raise ValueError(
                f"decoder layers and hidden must be >= 1, got {self.layers}, {self.hidden}"
            )


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model: stored verbatim in checkpoints."""

    task: str = "translation"
    src_vocab: int = 0  # translation only
    tgt_vocab: int = 0
    embed_dim: int = 256
    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    image_encoder: ImageEncoderConfig = field(default_factory=ImageEncoderConfig)
    attention: AttentionConfig = field(default_factory=AttentionConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    share_embeddings: bool = False  # one matrix for source and target (joint vocabulary)
    tie_output: bool = False  # output projection reuses the target embedding
    init: str = "default"  # default | normal (N(0, 0.01), the article's) | uniform | xavier
    pad_id: int = 0

    def __post_init__(self) -> None:
        _check_choice("task", self.task, TASKS)
        _check_choice("init scheme", self.init, INIT_SCHEMES)
        if self.tgt_vocab < 1:
            raise ValueError(f"tgt_vocab must be >= 1, got {self.tgt_vocab}")
        if self.task == "translation" and self.src_vocab < 1:
            raise ValueError(f"src_vocab must be >= 1 for translation, got {self.src_vocab}")
        if self.share_embeddings and self.src_vocab != self.tgt_vocab:
            raise ValueError(
                f"share_embeddings needs one joint vocabulary, got src {self.src_vocab} "
                f"and tgt {self.tgt_vocab}"
            )
        keyed = ("additive", "general", "location_sensitive")  # keys = a projection of memory
        local = self.task == "captioning" and self.image_encoder.local_keys
        if local and self.attention.kind not in keyed:
            raise ValueError(
                f"local attention keys need {', '.join(keyed)} attention, "
                f"got {self.attention.kind!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Rebuild from ``to_dict()`` output; unknown keys raise ValueError."""
        return _from_dict(cls, data)


_NESTED = {
    "text_encoder": TextEncoderConfig,
    "image_encoder": ImageEncoderConfig,
    "attention": AttentionConfig,
    "decoder": DecoderConfig,
}


def _from_dict(cls: type, data: dict[str, Any]) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__} must be a mapping, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {', '.join(unknown)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        sub = _NESTED.get(name) if cls is ModelConfig else None
        if sub is not None:
            kwargs[name] = _from_dict(sub, value)
        elif isinstance(value, list):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"bad {cls.__name__}: {exc}") from exc


def replace_nested(config: Any, **changes: Any) -> Any:
    """`dataclasses.replace` that also accepts dicts for nested configs."""
    from dataclasses import replace

    resolved = {}
    for key, value in changes.items():
        current = getattr(config, key)
        if is_dataclass(current) and isinstance(value, dict):
            resolved[key] = replace(current, **value)
        else:
            resolved[key] = value
    return replace(config, **resolved)
