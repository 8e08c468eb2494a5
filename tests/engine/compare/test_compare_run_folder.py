"""Run folders: the kept epochs and metrics of a run trained here, and the bad folders."""

from __future__ import annotations

import os
import shutil

import pytest

from attnscope.engine.compare import RunFolderError, load_run


def copy_run(trained_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(trained_run, folder)
    return folder


def test_a_trained_run_lists_every_kept_epoch_and_its_metrics(trained_run):
    run = load_run(trained_run)
    assert [e.epoch for e in run.epochs] == [1, 2, 3]
    assert run.final.path.name == "epoch-003.safetensors"
    assert run.skipped == () and run.missing_epochs == ()
    assert [epoch for epoch, _ in run.metric("val_loss")] == [1, 2, 3]
    assert [epoch for epoch, _ in run.metric("bleu")] == [1, 2, 3]
    assert {"bleu", "val_loss", "train_loss"} <= set(run.metric_names())


def test_missing_corrupt_and_foreign_epoch_files_are_skipped_with_a_message(
    trained_run, tmp_path, translators
):
    folder = copy_run(trained_run, tmp_path)
    (folder / "epoch-001.safetensors").write_bytes(b"\x00" * 64)  # corrupt
    (folder / "epoch-004.safetensors").symlink_to(tmp_path / "gone.safetensors")  # missing
    shutil.copy(translators["additive"], folder / "epoch-005.safetensors")  # another run's
    shutil.copy(folder / "epoch-002.safetensors", folder / "epoch-007.safetensors")  # renamed
    (folder / "epoch-006.safetensors").mkdir()  # not a file at all
    with (folder / "metrics.jsonl").open("a", encoding="utf-8") as log:
        log.write("{not json\n")
    run = load_run(folder)
    assert [e.epoch for e in run.epochs] == [2, 3]
    messages = "\n".join(run.skipped)
    assert [m.split()[0] for m in run.skipped][:5] == [
        f"epoch-00{n}.safetensors" for n in (1, 4, 5, 6, 7)
    ]
    assert "epoch-001.safetensors skipped" in messages
    assert "epoch-004.safetensors skipped: it is a broken symbolic link" in messages
    assert "epoch-005.safetensors skipped: it is from another run" in messages
    assert "epoch-006.safetensors skipped: it is a directory" in messages
    assert "epoch-007.safetensors skipped: it holds epoch 2's weights" in messages
    assert "metrics.jsonl: 1 unreadable line(s) skipped" in messages
    assert run.missing_epochs == (1,)  # recorded in metrics.jsonl, weights not usable


def test_a_folder_with_no_epochs_is_a_clear_error(trained_run, tmp_path):
    folder = copy_run(trained_run, tmp_path)
    for path in folder.glob("epoch-*.safetensors"):
        path.unlink()
    with pytest.raises(RunFolderError, match=r"no usable epoch-NNN.safetensors.*keep_epochs"):
        load_run(folder)
    (folder / "epoch-002.safetensors").write_text("broken", encoding="utf-8")
    with pytest.raises(RunFolderError, match=r"epoch-002.safetensors skipped"):
        load_run(folder)
    with pytest.raises(RunFolderError, match=r"not a folder"):
        load_run(folder / "metrics.jsonl")


def test_a_folder_flooded_with_epoch_files_reads_only_the_newest(
    trained_run, tmp_path, monkeypatch
):
    from attnscope.engine.compare import run_folder

    folder = copy_run(trained_run, tmp_path)
    monkeypatch.setattr(run_folder, "MAX_EPOCH_FILES", 2)
    run = load_run(folder)
    assert [e.epoch for e in run.epochs] == [2, 3]
    assert "1 epoch files before the newest 2 skipped" in run.skipped[0]


def test_a_metrics_log_that_is_a_pipe_is_skipped_without_blocking(trained_run, tmp_path):
    folder = copy_run(trained_run, tmp_path)
    (folder / "metrics.jsonl").unlink()
    os.mkfifo(folder / "metrics.jsonl")  # reading it would wait for a writer forever
    run = load_run(folder)
    assert run.metrics == () and [e.epoch for e in run.epochs] == [1, 2, 3]
    assert "metrics.jsonl skipped: cannot read metrics log" in run.skipped[-1]
