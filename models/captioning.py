"""Captioning model: image grid encoder + attention decoder (Show, Attend and Tell)."""

from __future__ import annotations

from torch import Tensor, nn

from attnscope.models.config import ModelConfig
from attnscope.models.decoders import build_decoder
from attnscope.models.encoders import ImageEncoder
from attnscope.models.seq2seq import EncoderDecoder
from attnscope.models.state import EncoderMemory


class CaptioningModel(EncoderDecoder):
    """CNN trunk over the image, soft attention over its h×w grid, RNN decoder."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.tgt_embedding = nn.Embedding(
            config.tgt_vocab, config.embed_dim, padding_idx=config.pad_id
        )
        self.encoder = ImageEncoder(config.image_encoder)
        grid = config.image_encoder.grid
        self.decoder = build_decoder(
            config,
            self.tgt_embedding,
            encoder_size=self.encoder.output_size,
            max_positions=grid[0] * grid[1] if grid else 1024,
        )

    def encode(self, images: Tensor) -> EncoderMemory:
        """images (B, 3, H, W) normalised -> memory over the grid cells (B, h·w, C)."""
        return self.decoder.precompute(self.encoder(images))

    def forward(self, images: Tensor, tgt_in: Tensor, **kwargs):
        """Teacher-forced: -> log_probs (B, T, V), attn (B, T, heads, h·w) | None."""
        return self.decode_teacher_forced(self.encode(images), tgt_in, **kwargs)


def doubly_stochastic_penalty(attn: Tensor, tgt_mask: Tensor) -> Tensor:
    """Show-Attend-Tell regulariser: mean over batch of Σ_cells (1 - Σ_t α_t,cell)².

    attn: (B, T, heads, S); tgt_mask: (B, T) bool, True at real target steps.
    Encourages every cell to receive about one unit of attention over the caption.
    """
    weights = attn * tgt_mask[:, :, None, None].to(attn.dtype)
    total = weights.sum(dim=1)  # (B, heads, S)
    return ((1.0 - total) ** 2).sum(dim=-1).mean()


__all__ = ["CaptioningModel", "doubly_stochastic_penalty"]
