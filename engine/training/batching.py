"""Length-bucketed batches that waste little padding, reproducible per (seed, epoch).

Every epoch's batch list is a pure function of the example lengths, the
batching settings, the seed and the epoch number. That is what makes
resuming exact: a restarted run rebuilds the same list and skips the
batches it already consumed. Under ``torchrun`` each rank takes every
``world_size``-th batch of the same list, so all ranks run the same number
of steps (DistributedDataParallel needs that).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

_EPOCH_STRIDE = 1_000_003  # keeps (seed, epoch) -> generator seed collision-free in practice


@dataclass(frozen=True)
class BatchingConfig:
    """How examples are grouped.

    batch_size:   sentences per batch when ``batch_tokens`` is 0
    batch_tokens: if > 0, a batch holds as many examples as fit in this many
                  padded tokens (examples x longest side), at least one
    shuffle:      shuffle examples (ties in length) and the batch order each epoch
    """

    batch_size: int = 64
    batch_tokens: int = 0
    shuffle: bool = True

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.batch_tokens < 0:
            raise ValueError(f"batch_tokens must be >= 0, got {self.batch_tokens}")


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A CPU generator for everything random about one epoch's data order."""
    generator = torch.Generator()
    generator.manual_seed(seed * _EPOCH_STRIDE + epoch)
    return generator


def _sorted_by_length(lengths: Sequence[tuple[int, int]], generator: torch.Generator | None):
    order = list(range(len(lengths)))
    if generator is not None:
        order = torch.randperm(len(lengths), generator=generator).tolist()
    # Target length first: the decoder runs one step per target position, so
    # target padding costs the most. Stable sort: ties keep the random order.
    return sorted(order, key=lambda i: (lengths[i][1], lengths[i][0]))


def _cut(order: list[int], lengths: Sequence[tuple[int, int]], config: BatchingConfig):
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index in order:
        size = max(lengths[index])
        grown = max(longest, size)
        full = (
            (len(current) + 1) * grown > config.batch_tokens
            if config.batch_tokens
            else len(current) >= config.batch_size
        )
        if current and full:
            batches.append(current)
            current, grown = [], size
        current.append(index)
        longest = grown
    if current:
        batches.append(current)
    return batches


def make_batches(
    lengths: Sequence[tuple[int, int]],
    config: BatchingConfig,
    *,
    seed: int = 0,
    epoch: int = 0,
) -> list[list[int]]:
    """Example indices grouped into batches of similar length.

    lengths: per example (source length, target length) in tokens (captioning
    uses (0, target length)). Examples are sorted by length (ties broken at
    random), cut into batches by ``config``, and the batch order is shuffled.
    """
    generator = epoch_generator(seed, epoch) if config.shuffle else None
    batches = _cut(_sorted_by_length(lengths, generator), lengths, config)
    if generator is not None:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator)]
    return batches


def batches_for_rank(batches: list[list[int]], rank: int, world_size: int) -> list[list[int]]:
    """This rank's share: every ``world_size``-th batch; all ranks get the same count.

    The last ``len(batches) % world_size`` batches are dropped for this epoch
    (a different set every epoch, since the order is reshuffled).
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} outside 0..{world_size - 1}")
    usable = len(batches) - len(batches) % world_size
    return batches[rank:usable:world_size]


def padding_ratio(batches: Sequence[Sequence[int]], lengths: Sequence[tuple[int, int]]) -> float:
    """Fraction of padded positions over all batches (source and target sides together)."""
    real = padded = 0
    for batch in batches:
        for side in (0, 1):
            longest = max(lengths[i][side] for i in batch)
            real += sum(lengths[i][side] for i in batch)
            padded += longest * len(batch)
    return 0.0 if padded == 0 else 1.0 - real / padded
