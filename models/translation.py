"""Translation model: a text encoder and a decoder sharing the one step."""

from __future__ import annotations

from torch import Tensor, nn

from attnscope.models.config import ModelConfig
from attnscope.models.decoders import build_decoder
from attnscope.models.encoders import TEXT_ENCODERS
from attnscope.models.seq2seq import EncoderDecoder
from attnscope.models.state import EncoderMemory


class TranslationModel(EncoderDecoder):
    """Text encoder (RNN / CNN / conv→RNN) + attention or plain decoder.

    With ``share_embeddings`` one matrix embeds source and target (a joint
    vocabulary); with ``tie_output`` the output projection reuses it too.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.tgt_embedding = nn.Embedding(
            config.tgt_vocab, config.embed_dim, padding_idx=config.pad_id
        )
        if config.share_embeddings:
            self.src_embedding = self.tgt_embedding
        else:
            self.src_embedding = nn.Embedding(
                config.src_vocab, config.embed_dim, padding_idx=config.pad_id
            )
        enc = config.text_encoder
        self.encoder = TEXT_ENCODERS[enc.kind](self.src_embedding, enc)
        self.decoder = build_decoder(
            config,
            self.tgt_embedding,
            encoder_size=enc.output_size,
            max_positions=enc.max_positions,
        )

    def encode(self, src: Tensor, src_lengths: Tensor) -> EncoderMemory:
        """src (B, S) token ids, src_lengths (B,) -> memory with attention keys."""
        memory = self.encoder(src, src_lengths)
        return self.decoder.precompute(memory)

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor, **kwargs):
        """Teacher-forced: -> log_probs (B, T, V), attn (B, T, heads, S) | None."""
        return self.decode_teacher_forced(self.encode(src, src_lengths), tgt_in, **kwargs)
