"""Encoders: text (RNN, CNN, conv→RNN) and image (torchvision trunk → grid).

Each returns an ``EncoderMemory``: values (B, S, H), mask (B, S), final (B, H).
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from attnscope.models.config import ImageEncoderConfig, TextEncoderConfig
from attnscope.models.state import EncoderMemory

RNN_CLASSES = {"gru": nn.GRU, "lstm": nn.LSTM}


def lengths_to_mask(lengths: Tensor, max_length: int) -> Tensor:
    """(B,) lengths -> (B, max_length) bool mask, True at real positions."""
    positions = torch.arange(max_length, device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)


class RecurrentStack(nn.Module):
    """LSTM/GRU over packed padded sequences; returns outputs and a final summary."""

    def __init__(self, input_size: int, config: TextEncoderConfig) -> None:
        super().__init__()
        self.rnn = RNN_CLASSES[config.cell](
            input_size,
            config.hidden,
            num_layers=config.layers,
            dropout=config.dropout if config.layers > 1 else 0.0,
            bidirectional=config.bidirectional,
            batch_first=True,
        )
        self.directions = 2 if config.bidirectional else 1

    def forward(self, inputs: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, tuple[Tensor, ...]]:
        """inputs (B, S, E) -> outputs (B, S, H·dirs), final (B, H·dirs), states.

        states: the last hidden state (and, for an LSTM, cell state) of every layer and
        direction, each (B, layers·dirs, H) in the RNN's own order (layer 0 forward,
        layer 0 backward, layer 1 forward, ...), for decoders started from them.
        """
        if torch.is_grad_enabled() and bool((lengths == inputs.size(1)).all()):
            # Every row fills the tensor: nothing to pack. Under autograd the packed path's
            # per-step slices each zero-fill a full-size gradient in the backward (quadratic
            # in the length; attribution runs many copies of one source); without autograd
            # the packed path stays, so decodes keep their bits.
            outputs, hidden = self.rnn(inputs)
        else:
            packed = pack_padded_sequence(
                inputs, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            outputs, hidden = self.rnn(packed)
            outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=inputs.size(1))
        kinds = hidden if isinstance(hidden, tuple) else (hidden,)  # LSTM: (h, c)
        states = tuple(kind.transpose(0, 1) for kind in kinds)  # each (B, layers·dirs, H)
        last_layer = kinds[0][-self.directions :]  # (dirs, B, H)
        final = torch.cat(list(last_layer), dim=-1)  # (B, H·dirs)
        return outputs, final, states


class ResidualConvStack(nn.Module):
    """One residual 1-D convolution per kernel size (e.g. 3/5/7), padding kept at 0."""

    def __init__(self, channels: int, kernel_sizes: tuple[int, ...], dropout: float) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, 2 * channels, k, padding=k // 2) for k in kernel_sizes
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x (B, S, C), mask (B, S) -> (B, S, C)."""
        keep = mask.unsqueeze(-1).to(x.dtype)
        for conv in self.convs:
            h = conv(self.dropout(x * keep).transpose(1, 2))  # (B, 2C, S)
            x = x + nn.functional.glu(h, dim=1).transpose(1, 2)  # gated, residual
        return x * keep


class RNNTextEncoder(nn.Module):
    """Embedding + (bi)LSTM/GRU, 1..n layers, over packed sequences."""

    def __init__(self, embedding: nn.Embedding, config: TextEncoderConfig) -> None:
        super().__init__()
        self.embedding = embedding
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = RecurrentStack(embedding.embedding_dim, config)

    def forward(self, src: Tensor, lengths: Tensor) -> EncoderMemory:
        mask = lengths_to_mask(lengths, src.size(1))
        values, final, states = self.rnn(self.dropout(self.embedding(src)), lengths)
        return EncoderMemory(values=values, mask=mask, final=final, final_states=states)


class ConvTextEncoder(nn.Module):
    """Embedding + learned positions, then residual gated convolutions (kernels 3/5/7)."""

    def __init__(self, embedding: nn.Embedding, config: TextEncoderConfig) -> None:
        super().__init__()
        self.embedding = embedding
        self.positions = nn.Embedding(config.max_positions, embedding.embedding_dim)
        self.input_proj = nn.Linear(embedding.embedding_dim, config.hidden)
        self.convs = ResidualConvStack(config.hidden, config.kernel_sizes, config.dropout)
        self.dropout = nn.Dropout(config.dropout)
        self.max_positions = config.max_positions

    def forward(self, src: Tensor, lengths: Tensor) -> EncoderMemory:
        if src.size(1) > self.max_positions:
            raise ValueError(f"source has {src.size(1)} tokens; at most {self.max_positions}")
        mask = lengths_to_mask(lengths, src.size(1))
        positions = torch.arange(src.size(1), device=src.device)
        x = self.dropout(self.embedding(src) + self.positions(positions))
        values = self.convs(self.input_proj(x), mask)  # (B, S, H)
        keep = mask.unsqueeze(-1).to(values.dtype)
        final = (values * keep).sum(1) / keep.sum(1).clamp(min=1)  # masked mean, (B, H)
        return EncoderMemory(values=values, mask=mask, final=final)


class ConvRNNTextEncoder(nn.Module):
    """Convolutions over the embeddings feeding an LSTM/GRU (the article's hybrid)."""

    def __init__(self, embedding: nn.Embedding, config: TextEncoderConfig) -> None:
        super().__init__()
        self.embedding = embedding
        self.convs = ResidualConvStack(embedding.embedding_dim, config.kernel_sizes, config.dropout)
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = RecurrentStack(embedding.embedding_dim, config)

    def forward(self, src: Tensor, lengths: Tensor) -> EncoderMemory:
        mask = lengths_to_mask(lengths, src.size(1))
        x = self.convs(self.dropout(self.embedding(src)), mask)
        values, final, states = self.rnn(x, lengths)
        return EncoderMemory(values=values, mask=mask, final=final, final_states=states)


TEXT_ENCODERS = {"rnn": RNNTextEncoder, "cnn": ConvTextEncoder, "conv_rnn": ConvRNNTextEncoder}

TRUNK_CHANNELS = {
    "resnet18": 512,
    "resnet34": 512,
    "resnet50": 2048,
    "mobilenet_v2": 1280,
    "small_cnn": 128,
}
TRUNK_STRIDES = {name: 32 for name in TRUNK_CHANNELS} | {"small_cnn": 8}  # input px per cell
SMALL_CNN_WIDTHS = (16, 32, 64, 128)  # output channels of its four conv blocks


class SmallConvTrunk(nn.Sequential):
    """Four conv3x3 + BatchNorm + ReLU blocks, max-pooled (2x2) after the first three.

    (B, 3, H, W) -> (B, 128, H/8, W/8). Trained from scratch. Its receptive field
    is 38 px, i.e. a cell (8 px) and about two neighbours each side, so a
    cell's feature describes only what is near it and the decoder has to
    attend to the right place to read it (a deep ImageNet trunk's cells each
    see the whole picture, which lets attention stay unlocalised).
    """

    def __init__(self) -> None:
        layers: list[nn.Module] = []
        channels = 3
        for index, width in enumerate(SMALL_CNN_WIDTHS):
            layers += [
                nn.Conv2d(channels, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
            if index < len(SMALL_CNN_WIDTHS) - 1:
                layers.append(nn.MaxPool2d(2))
            channels = width
        super().__init__(*layers)


def build_trunk(backbone: str) -> nn.Module:
    """A trunk with random weights (never a download); torchvision's drop the classifier."""
    if backbone == "small_cnn":
        return SmallConvTrunk()
    import torchvision  # imported on demand: it pulls in torch._dynamo (seconds at start-up)

    if backbone == "mobilenet_v2":
        return torchvision.models.mobilenet_v2(weights=None).features
    if backbone in ("resnet18", "resnet34", "resnet50"):
        net = getattr(torchvision.models, backbone)(weights=None)
        return nn.Sequential(*list(net.children())[:-2])
    raise ValueError(f"unknown image backbone {backbone!r}; valid: {', '.join(TRUNK_CHANNELS)}")


class ImageEncoder(nn.Module):
    """CNN trunk → feature map (B, C, h, w) → grid memory (B, h·w, C').

    With ``config.grid`` set, the map is adaptive-average-pooled to that
    (h, w); otherwise the trunk's natural map is used (7×7 for 224×224 with a
    torchvision trunk). With ``config.positions`` a learned vector per grid
    cell is added to each cell's projected feature.

    With ``config.local_keys`` the attention's keys come from each cell's own
    pixels instead (per channel, the mean and mean square of the normalised
    input over the cell: its colour and how uniform it is), projected to the
    memory size, plus the cell's position; the values the decoder reads stay
    the trunk's features. The attention can then only pick cells by what is
    *in* them, so its peak marks the pixels it matched, while the context it
    reads still sees the trunk's wider receptive field.
    """

    def __init__(self, config: ImageEncoderConfig) -> None:
        super().__init__()
        self.trunk = build_trunk(config.backbone)
        self.pool = nn.AdaptiveAvgPool2d(tuple(config.grid)) if config.grid else nn.Identity()
        channels = TRUNK_CHANNELS[config.backbone]
        self.proj = nn.Linear(channels, config.projection) if config.projection else nn.Identity()
        self.output_size = config.projection or channels
        if config.positions:  # only then: other checkpoints keep their state dict
            cells = config.grid[0] * config.grid[1]
            self.positions = nn.Parameter(torch.randn(cells, self.output_size) * 0.02)
        else:
            self.positions = None
        self.summary = config.summary
        self.dropout = nn.Dropout(config.dropout)
        self.local_keys = nn.Linear(6, self.output_size) if config.local_keys else None

    def forward(self, images: Tensor) -> EncoderMemory:
        memory = self.from_trunk_features(self.trunk(images))
        if self.local_keys is None:
            return memory
        return replace(memory, key_source=self.cell_keys(images))

    def cell_keys(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) -> (B, h·w, C'): each cell's colour statistics, projected and positioned."""
        # self.pool is the grid's average pool (local keys need a fixed grid)
        stats = self.pool(torch.cat([images, images * images], dim=1))  # (B, 6, h, w)
        keys = self.local_keys(stats.flatten(2).transpose(1, 2))
        return keys if self.positions is None else keys + self.positions

    def from_trunk_features(self, features: Tensor) -> EncoderMemory:
        """The memory from the trunk's output (B, C, H', W'): pooled, projected, positioned.

        Training with a frozen trunk calls this on cached features.
        """
        pooled = self.pool(features)  # (B, C, h, w)
        batch, _, h, w = pooled.shape
        values = self.proj(pooled.flatten(2).transpose(1, 2))  # (B, h·w, C')
        if self.positions is not None:
            values = values + self.positions  # (h·w, C') broadcast over the batch
        values = self.dropout(values)
        mask = torch.ones(batch, h * w, dtype=torch.bool, device=features.device)
        final = values.mean(1) if self.summary else values.new_zeros(batch, values.size(-1))
        return EncoderMemory(values=values, mask=mask, final=final, grid=(h, w))  # final (B, C')
