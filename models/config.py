"""Typed, frozen configuration for every model AttnScope can build.

A checkpoint stores ``ModelConfig.to_dict()``; loading rebuilds the model from
``ModelConfig.from_dict(...)`` and ``build_model`` (see ``registry.py``).
"""

from __future__ import annotations

import math
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
# How the decoder's first state is made: "summary" = tanh(W·encoder summary) in every layer
# (zero LSTM cell); "final_states" = the encoder's last hidden (and cell) state of each
# layer, directions side by side; "final_states_bridge" = those through a Linear + ReLU
# per state kind (OpenNMT-py's -bridge). The last two are OpenNMT-py's RNN models.
DECODER_INITS = ("summary", "final_states", "final_states_bridge")
COMBINE_ACTIVATIONS = ("tanh", "none")  # h̃ = act(W [h; c] + b); none: OpenNMT-py's mlp
INIT_SCHEMES = ("default", "normal", "uniform", "xavier")


# Upper bounds on every size a config may declare. A checkpoint is untrusted: a config
# asking for 100,000 layers or a vocabulary of 10**12 must be refused before any module
# is built (even on the meta device, building 100,000 layers takes minutes). The bundled
# models sit far below each bound (hidden 256-512, vocabulary 8,000, 1-2 layers).
MAX_LAYERS = 32
MAX_WIDTH = 16_384  # embed_dim, hidden sizes, projections
MAX_HEADS = 64
MAX_VOCAB = 1_000_000
MAX_POSITIONS = 16_384  # learned text positions (cnn encoder)
MAX_KERNEL = 63  # convolution widths (text kernels, location kernel)
MAX_KERNELS = 16  # convolution layers of a text encoder
MAX_GRID_SIDE = 64  # cells per side of an image grid
MAX_IMAGE_SIDE = 2048  # pixels per side of the model input
MAX_LOCATION_CHANNELS = 1024


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(choices)}")


def _check_size(name: str, value: Any, low: int, high: int) -> None:
    """``value`` must be an int in [low, high]; the message names the field."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in {low}..{high:,}, got {value!r:.40}")


def _check_sizes(prefix: str, config: Any, bounds: dict[str, tuple[int, int]]) -> None:
    for name, (low, high) in bounds.items():
        _check_size(f"{prefix}.{name}", getattr(config, name), low, high)


def _check_pair(name: str, value: Any, high: int) -> None:
    if not isinstance(value, tuple) or len(value) != 2:
        raise ValueError(f"{name} must be two integers (h, w), got {value!r:.40}")
    for side in value:
        _check_size(name, side, 1, high)


def _check_dropout(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r:.40}")


def _check_unit_floats(name: str, values: Any, *, positive: bool) -> None:
    """Three finite channel values (image mean or std), std strictly positive and bounded."""
    ok = isinstance(values, tuple) and len(values) == 3
    ok = ok and all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values
    )
    ok = ok and all((1e-6 <= v <= 1e3) if positive else abs(v) <= 1e3 for v in values)
    if not ok:
        bound = "in [1e-6, 1000]" if positive else "finite and within ±1000"
        raise ValueError(f"{name} must be 3 numbers {bound}, got {values!r:.60}")


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
        bounds = {"layers": (1, MAX_LAYERS), "hidden": (1, MAX_WIDTH)}
        _check_sizes("text_encoder", self, bounds | {"max_positions": (1, MAX_POSITIONS)})
        _check_dropout("text_encoder.dropout", self.dropout)
        kernels = self.kernel_sizes
        if not isinstance(kernels, tuple) or not 1 <= len(kernels) <= MAX_KERNELS:
            raise ValueError(
                f"text_encoder.kernel_sizes must list 1..{MAX_KERNELS} widths, got {kernels!r:.60}"
            )
        for width in kernels:
            _check_size("text_encoder.kernel_sizes", width, 1, MAX_KERNEL)
        if any(k % 2 == 0 for k in kernels):
            raise ValueError(f"kernel sizes must be odd and positive, got {kernels}")

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
        if self.grid is not None:
            _check_pair("image_encoder.grid", self.grid, MAX_GRID_SIDE)
        _check_pair("image_encoder.image_size", self.image_size, MAX_IMAGE_SIDE)
        _check_size("image_encoder.projection", self.projection, 0, MAX_WIDTH)
        _check_dropout("image_encoder.dropout", self.dropout)
        _check_unit_floats("image_encoder.mean", self.mean, positive=False)
        _check_unit_floats("image_encoder.std", self.std, positive=True)
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
        bounds = {
            "heads": (1, MAX_HEADS),
            "hidden": (0, MAX_WIDTH),
            "location_channels": (1, MAX_LOCATION_CHANNELS),
            "location_kernel": (1, MAX_KERNEL),
        }
        _check_sizes("attention", self, bounds)
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
    init_from: str = "summary"  # see DECODER_INITS
    combine_activation: str = "tanh"  # see COMBINE_ACTIVATIONS

    def __post_init__(self) -> None:
        _check_choice("rnn cell", self.cell, RNN_CELLS)
        _check_choice("attention placement", self.placement, ATTENTION_PLACEMENTS)
        _check_choice("decoder init", self.init_from, DECODER_INITS)
        _check_choice("combine activation", self.combine_activation, COMBINE_ACTIVATIONS)
        _check_sizes("decoder", self, {"layers": (1, MAX_LAYERS), "hidden": (1, MAX_WIDTH)})
        _check_dropout("decoder.dropout", self.dropout)


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
    source_eos: bool = True  # the encoder reads the source ids then eos (OpenNMT-py's: no eos)

    def __post_init__(self) -> None:
        _check_choice("task", self.task, TASKS)
        _check_choice("init scheme", self.init, INIT_SCHEMES)
        _check_size("tgt_vocab", self.tgt_vocab, 1, MAX_VOCAB)
        _check_size("embed_dim", self.embed_dim, 1, MAX_WIDTH)
        _check_size("pad_id", self.pad_id, 0, 0)
        _check_size("src_vocab", self.src_vocab, 0, MAX_VOCAB)
        if self.task == "translation" and self.src_vocab < 1:
            raise ValueError(f"src_vocab must be >= 1 for translation, got {self.src_vocab}")
        if self.share_embeddings and self.src_vocab != self.tgt_vocab:
            raise ValueError(
                f"share_embeddings needs one joint vocabulary, got src {self.src_vocab} "
                f"and tgt {self.tgt_vocab}"
            )
        if self.decoder.init_from != "summary":
            _check_final_states_fit(self)
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


def _check_final_states_fit(config: ModelConfig) -> None:
    """A decoder started from the encoder's final states needs an RNN encoder of the same
    cell and depth whose output (directions side by side) is the decoder's width."""
    text, dec = config.text_encoder, config.decoder
    fits = (
        config.task == "translation"
        and text.kind in ("rnn", "conv_rnn")
        and (text.cell, text.layers, text.output_size) == (dec.cell, dec.layers, dec.hidden)
    )
    if not fits:
        raise ValueError(
            f"decoder init {dec.init_from!r} needs a text RNN encoder with the decoder's cell, "
            f"layers and width; got encoder {text.kind} {text.cell} x{text.layers} "
            f"(output {text.output_size}), decoder {dec.cell} x{dec.layers} (hidden {dec.hidden})"
        )


def minimum_parameters(config: ModelConfig) -> int:
    """A lower bound on the parameters of the model ``config`` builds, from its sizes alone.

    Counts only parts every such model has (embeddings, the output projection,
    the recurrent and convolution weights, learned position tables), so a
    checkpoint whose config claims far more than its tensors hold is refused
    before anything is built.
    """
    embed, dec = config.embed_dim, config.decoder
    count = config.tgt_vocab * embed + config.tgt_vocab  # target embedding, output bias
    if not config.tie_output:
        count += config.tgt_vocab * dec.hidden  # output weight (V, H)
    count += _recurrent_parameters(dec.cell, dec.layers, dec.hidden, embed, directions=1)
    if config.task == "captioning":
        image = config.image_encoder
        cells = image.grid[0] * image.grid[1] if image.grid and image.positions else 0
        return count + cells * image.projection
    if not config.share_embeddings:
        count += config.src_vocab * embed
    text = config.text_encoder
    convs = sum(2 * k for k in text.kernel_sizes)  # a (2C, C, k) weight per kernel, per C²
    if text.kind == "cnn":
        return count + text.max_positions * embed + convs * text.hidden**2
    directions = 2 if text.bidirectional else 1
    count += _recurrent_parameters(text.cell, text.layers, text.hidden, embed, directions)
    return count + (convs * embed**2 if text.kind == "conv_rnn" else 0)


def _recurrent_parameters(cell: str, layers: int, hidden: int, inputs: int, directions: int):
    """weight_hh of every layer and weight_ih of the first (at least ``inputs`` wide)."""
    gates = 4 if cell == "lstm" else 3
    return directions * gates * hidden * (layers * hidden + inputs)


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
