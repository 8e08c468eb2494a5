"""Which epoch checkpoints a run keeps: all within the disk budget, thinned evenly past it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from attnscope.engine.training.config import RunConfig
from attnscope.engine.training.epoch_files import (
    MIB,
    EpochKeeper,
    epoch_checkpoint_name,
    epoch_files,
    epochs_to_keep,
)


def test_every_epoch_is_kept_while_it_fits_then_the_run_is_thinned_evenly():
    sizes = dict.fromkeys(range(1, 9), 10)
    assert epochs_to_keep(sizes, keep_epochs=-1, budget_bytes=80) == set(range(1, 9))
    assert epochs_to_keep(sizes, keep_epochs=-1, budget_bytes=79) == {2, 4, 6, 8}
    assert epochs_to_keep({**sizes, 9: 10}, keep_epochs=-1, budget_bytes=50) == {2, 4, 6, 8, 9}
    assert epochs_to_keep(sizes, keep_epochs=-1, budget_bytes=25) == {4, 8}
    assert epochs_to_keep(sizes, keep_epochs=-1, budget_bytes=5) == {8}  # the newest stays
    assert epochs_to_keep(sizes, keep_epochs=3, budget_bytes=5) == {6, 7, 8}
    assert epochs_to_keep(sizes, keep_epochs=0, budget_bytes=80) == set()


def test_the_keeper_prunes_the_folder_and_states_its_budget(tmp_path, caplog):
    keeper = EpochKeeper(tmp_path, keep_epochs=-1, budget_mb=30 / MIB)
    assert keeper.enabled
    with caplog.at_level(logging.INFO):
        for epoch in range(1, 5):
            (tmp_path / epoch_checkpoint_name(epoch)).write_bytes(b"x" * 10)
            keeper.prune()
    assert sorted(epoch_files(tmp_path)) == [2, 4]
    assert "thinned to epochs 2, 4" in caplog.text


def test_the_default_keeps_epochs_within_a_stated_budget():
    run = RunConfig()
    assert run.keep_epochs == -1 and run.epoch_budget_mb == 1024.0
    keeper = EpochKeeper(Path("run"), keep_epochs=run.keep_epochs, budget_mb=run.epoch_budget_mb)
    assert "keeping every epoch-NNN.safetensors within 1024 MiB" in keeper.describe()
    with pytest.raises(ValueError, match=r"keep_epochs must be -1"):
        RunConfig(keep_epochs=-2)
    with pytest.raises(ValueError, match=r"epoch_budget_mb must be > 0"):
        RunConfig(epoch_budget_mb=0)
