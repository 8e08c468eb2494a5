"""Which ``epoch-NNN.safetensors`` a run keeps: ``EpochKeeper``.

Every epoch's weights are saved beside ``best`` and ``last`` so that the app can show one
input's attention across the run (Compare > across a training run, engine/compare/).
``run.keep_epochs`` says how many stay:

- ``-1`` (the default): every epoch while they fit in ``run.epoch_budget_mb``; when the
  next one would not, the run is thinned evenly: the kept epochs become the multiples of
  2, then of 4, 8, ... (always with the newest epoch), the smallest stride that fits.
  A long run keeps its whole course at a coarser step instead of only its end. The
  choice is made from the files present each time, so a resumed run thins the same way.
- ``N > 0``: the last N epochs (checkpoint averaging), whatever their size;
- ``0``: none.

The budget is stated when training starts (``describe``), on rank 0's log.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

logger = logging.getLogger(__name__)

EPOCH_FILE = re.compile(r"^epoch-(\d{3,})\.safetensors$")
WITHIN_BUDGET = -1  # run.keep_epochs: every epoch that fits the disk budget, thinned evenly
MIB = 1024 * 1024


def epoch_checkpoint_name(epoch: int) -> str:
    """``epoch-007.safetensors``: zero-padded so names sort by epoch."""
    return f"epoch-{epoch:03d}.safetensors"


def epoch_files(folder: Path) -> dict[int, Path]:
    """epoch number -> its ``epoch-NNN.safetensors`` in ``folder``."""
    if not folder.is_dir():
        return {}
    found = {}
    for path in folder.iterdir():
        match = EPOCH_FILE.match(path.name)
        if match is not None:
            found[int(match.group(1))] = path
    return found


def epochs_to_keep(sizes: dict[int, int], *, keep_epochs: int, budget_bytes: int) -> set[int]:
    """The epochs (keys of ``sizes``: epoch -> file size) that stay; see the module."""
    if not sizes or keep_epochs == 0:
        return set()
    ordered = sorted(sizes)
    if keep_epochs > 0:
        return set(ordered[-keep_epochs:])
    newest, stride = ordered[-1], 1
    while True:
        kept = {epoch for epoch in ordered if epoch % stride == 0} | {newest}
        if sum(sizes[e] for e in kept) <= budget_bytes or kept == {newest}:
            return kept
        stride *= 2


class EpochKeeper:
    """Prunes a run folder's epoch checkpoints after each one is saved."""

    def __init__(self, folder: Path, *, keep_epochs: int, budget_mb: float) -> None:
        self.folder = folder
        self.keep_epochs = keep_epochs
        self.budget_bytes = int(budget_mb * MIB)
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self.keep_epochs != 0

    def describe(self) -> str:
        """One line stating what is kept (logged when training starts)."""
        if self.keep_epochs == 0:
            return "run.keep_epochs = 0: no epoch-NNN.safetensors kept"
        if self.keep_epochs > 0:
            return f"keeping the last {self.keep_epochs} epoch-NNN.safetensors (run.keep_epochs)"
        return (
            f"keeping every epoch-NNN.safetensors within {self.budget_bytes / MIB:g} MiB "
            "(run.epoch_budget_mb), for comparing epochs; past it the kept epochs are "
            "thinned evenly (run.keep_epochs = N keeps the last N instead)"
        )

    def prune(self) -> list[int]:
        """Delete the epoch files the policy no longer keeps; returns their epochs."""
        files = epoch_files(self.folder)
        sizes = {epoch: path.stat().st_size for epoch, path in files.items()}
        kept = epochs_to_keep(sizes, keep_epochs=self.keep_epochs, budget_bytes=self.budget_bytes)
        dropped = sorted(set(files) - kept)
        for epoch in dropped:
            files[epoch].unlink(missing_ok=True)
        if self.keep_epochs == WITHIN_BUDGET and dropped:
            logger.info(
                "epoch checkpoints over %g MiB: thinned to epochs %s",
                self.budget_bytes / MIB,
                ", ".join(map(str, sorted(kept))),
            )
            if kept == {max(files)} and not self._warned:
                self._warned = True
                logger.warning(
                    "one epoch checkpoint is larger than run.epoch_budget_mb (%g MiB): "
                    "only the newest is kept",
                    self.budget_bytes / MIB,
                )
        return dropped
