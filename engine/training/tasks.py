"""What the trainer needs from a task (translation, captioning), and the shared forward.

The ``Trainer`` is task-agnostic: it asks a ``TrainingTask`` for batches,
the loss terms and a validation, and runs the optimisation. ``ForwardPass``
is the one module DistributedDataParallel wraps for both tasks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.training.config import OptimConfig, TrainConfig
from attnscope.engine.training.distributed import DistributedContext
from attnscope.engine.training.loss import SequenceLoss, sequence_loss
from attnscope.models.config import ModelConfig
from attnscope.models.seq2seq import EncoderDecoder
from attnscope.models.state import EncoderMemory


@dataclass(frozen=True)
class Batch:
    """One training or validation batch.

    inputs:        the encoder's arguments: (src (B, S), src_lengths (B,)) for text,
                   (images (B, 3, H, W),) or (trunk features (B, C, h, w),) for images
    tgt_in:        (B, T) bos + target ids (decoder input)
    tgt_out:       (B, T) target ids + eos (what the decoder should predict)
    from_features: inputs are cached CNN trunk features, not images
    """

    inputs: tuple[Tensor, ...]
    tgt_in: Tensor
    tgt_out: Tensor
    from_features: bool = False

    def to(self, device: torch.device) -> Batch:
        return replace(
            self,
            inputs=tuple(t.to(device, non_blocking=True) for t in self.inputs),
            tgt_in=self.tgt_in.to(device, non_blocking=True),
            tgt_out=self.tgt_out.to(device, non_blocking=True),
        )

    @property
    def size(self) -> int:
        return self.tgt_in.size(0)


def encode_from_features(model: EncoderDecoder, features: Tensor) -> EncoderMemory:
    """Captioning encode from precomputed trunk output (B, C, h, w), skipping the trunk.

    Runs the same ``ImageEncoder.from_trunk_features`` as its forward (a test
    checks the two agree), so a frozen trunk runs once per image instead of
    once per epoch.
    """
    memory = model.encoder.from_trunk_features(features)
    return model.decoder.precompute(memory)


def encode_batch(model: EncoderDecoder, batch: Batch) -> EncoderMemory:
    """The encoder memory of a batch, from images, features or source tokens."""
    if batch.from_features:
        return encode_from_features(model, *batch.inputs)
    return model.encode(*batch.inputs)


class ForwardPass(nn.Module):
    """Encode + teacher-forced decode of a Batch: the module DDP wraps.

    Returns log_probs (B, T, V) and attn (B, T, heads, S) | None.
    """

    def __init__(self, model: EncoderDecoder) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        batch: Batch,
        *,
        teacher_forcing: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        memory = encode_batch(self.model, batch)
        return self.model.decode_teacher_forced(
            memory, batch.tgt_in, teacher_forcing=teacher_forcing, generator=generator
        )


@dataclass(frozen=True)
class LossTerms:
    """What one batch contributes: the token loss and any task regulariser."""

    tokens: SequenceLoss
    regularizer: Tensor | None = None

    def objective(self) -> Tensor:
        """Per-token training objective (what backward() runs on)."""
        loss = self.tokens.loss / max(self.tokens.tokens, 1)
        return loss if self.regularizer is None else loss + self.regularizer


class TrainingTask(ABC):
    """Data, vocabulary, loss and validation of one task, for the generic Trainer."""

    name: str
    model_config: ModelConfig
    train_lengths: list[tuple[int, int]]  # (source, target) tokens per training example

    def __init__(self, config: TrainConfig, context: DistributedContext) -> None:
        self.config = config
        self.context = context

    @abstractmethod
    def collate(self, indices: list[int]) -> Batch:
        """The training examples ``indices`` as a (CPU) batch."""

    def loss_terms(self, log_probs: Tensor, attn: Tensor | None, batch: Batch) -> LossTerms:
        """Label-smoothed token loss; tasks add regularisers by overriding."""
        optim: OptimConfig = self.config.optim
        tokens = sequence_loss(
            log_probs,
            batch.tgt_out,
            pad_id=self.model_config.pad_id,
            label_smoothing=optim.label_smoothing,
        )
        return LossTerms(tokens)

    @abstractmethod
    def validate(
        self, model: EncoderDecoder, device: torch.device, *, decode: bool
    ) -> dict[str, Any]:
        """Validation metrics: always "val_loss" and "val_ppl", plus decoded scores."""

    @abstractmethod
    def validation_decoding(self) -> DecodeConfig:
        """The decoding each epoch's validation uses (greedy, with a length cap)."""

    @abstractmethod
    def score_decoding(
        self, model: EncoderDecoder, device: torch.device, config: DecodeConfig
    ) -> float:
        """``decoded_metric`` on the validation data decoded with ``config`` (a collective
        call under torchrun: every rank makes it)."""

    @property
    @abstractmethod
    def decoded_metric(self) -> str:
        """Key of the decoded score that selects the best checkpoint ("bleu", "cider")."""

    def prepare_model(self, model: EncoderDecoder) -> None:
        """Task-specific set-up after the model is built (e.g. trunk weights, freezing)."""
        return None

    def on_epoch_start(self, epoch: int, model: EncoderDecoder) -> bool:
        """Called before each epoch; True when the set of trainable parameters changed."""
        return False

    def param_groups(self, model: EncoderDecoder) -> list[dict[str, Any]]:
        """Optimizer parameter groups; a group may carry an ``lr_scale``."""
        return [{"params": [p for p in model.parameters()]}]

    def train_mode(self, model: EncoderDecoder) -> None:
        """Put the model in training mode (tasks may keep parts in eval mode)."""
        model.train()

    @abstractmethod
    def tokenizers(self) -> dict[str, Any]:
        """{"src": ..., "tgt": ...} tokenizers of the run (src absent for captioning)."""

    @abstractmethod
    def save_checkpoint(self, path: Path, model: EncoderDecoder, info: dict[str, Any]) -> None:
        """Write the shareable single-file checkpoint."""
