"""Where a training run is (``Progress``, saved in its resumable state) and how it
ended (``TrainResult``), with the names of the checkpoints it keeps in ``run.out_dir``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BEST_CHECKPOINT = "best.safetensors"
LAST_CHECKPOINT = "last.safetensors"


@dataclass
class Progress:
    """Where the run is; saved in the training state (plain values only)."""

    epoch: int = 0  # current epoch, 0-based
    batch: int = 0  # batches of this epoch already trained
    step: int = 0  # optimizer steps in total
    best: float | None = None  # best validation metric so far
    bad_epochs: int = 0  # epochs since the best one
    epoch_loss: float = 0.0  # token-weighted sums over the epoch so far
    epoch_nll: float = 0.0
    epoch_tokens: int = 0
    epoch_seconds: float = 0.0


@dataclass(frozen=True)
class TrainResult:
    """How a run ended. status: finished | early_stopped | max_steps | interrupted."""

    status: str
    epochs_done: int
    step: int
    metric: str
    best: float | None
    out_dir: Path
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def best_checkpoint(self) -> Path:
        return self.out_dir / BEST_CHECKPOINT

    @property
    def last_checkpoint(self) -> Path:
        return self.out_dir / LAST_CHECKPOINT
