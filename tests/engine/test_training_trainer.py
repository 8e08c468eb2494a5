"""The training loop end to end on the tiny reverse task (CPU, 1 thread, seconds)."""

import numpy as np
import pytest
import torch
from training_support import reverse_config, reverse_pairs

from attnscope.engine.checkpoint import load_checkpoint
from attnscope.engine.decoding import EOS_ID, DecodeConfig, decode
from attnscope.engine.training.callbacks import read_metrics
from attnscope.engine.training.distributed import SINGLE_PROCESS
from attnscope.engine.training.run import build_trainer, train
from attnscope.engine.training.state import STATE_FILE, load_state


def _reverse_accuracy(checkpoint_path, count=100):
    """Exact-match accuracy and attention mass near the anti-diagonal, greedy decoding."""
    checkpoint = load_checkpoint(checkpoint_path)
    sources, targets = reverse_pairs(count, seed=99)
    correct, near, steps = 0, 0.0, 0
    for source, target in zip(sources, targets, strict=True):
        ids = checkpoint.src_tokenizer.encode(source)
        assert len(ids) == len(source.split())  # one piece per symbol
        row = [*ids, EOS_ID]  # sources end with eos, as in training and inference
        memory = checkpoint.model.encode(torch.tensor([row]), torch.tensor([len(row)]))
        result = decode(checkpoint.model, memory, DecodeConfig(topk_alternatives=0))[0]
        correct += checkpoint.tgt_tokenizer.decode(result.best.output_tokens) == target
        attention = result.best.attention[:, 0]  # (T, S)
        length = len(ids)
        for t in range(min(length, attention.shape[0])):
            mirror = length - 1 - t  # output t copies source position S-1-t
            near += float(attention[t, max(0, mirror - 1) : mirror + 2].sum())
            steps += 1
    return correct / count, near / steps


def test_attention_model_learns_to_reverse_with_anti_diagonal_attention(tmp_path):
    config = reverse_config(tmp_path, train=1600, val=100, run={"epochs": 4, "val_decode": False})
    result = train(config)
    assert result.status == "finished" and result.epochs_done == 4
    losses = [record["val_loss"] for record in result.history]
    assert losses[-1] < 0.5 * losses[0]
    accuracy, near_anti_diagonal = _reverse_accuracy(result.best_checkpoint)
    assert accuracy > 0.9
    assert near_anti_diagonal > 0.8  # attention mass within one position of S-1-t


def test_epoch_records_reach_callbacks_and_the_metrics_log(tmp_path):
    config = reverse_config(tmp_path, run={"log_every": 2})
    seen = []
    result = train(config, callbacks=[("on_epoch_end", lambda trainer, rec: seen.append(rec))])
    assert [r["epoch"] for r in seen] == [1, 2]
    assert {"train_loss", "val_loss", "val_ppl", "bleu", "bleu_signature"} <= set(seen[0])
    assert "tok:13a" in seen[0]["bleu_signature"]
    log = read_metrics(tmp_path / "run" / "metrics.jsonl")
    train_records = [r for r in log if r["event"] == "train"]
    assert train_records and all(r["step"] % 2 == 0 for r in train_records)
    assert train_records[0]["tokens_per_s"] > 0
    assert [r["epoch"] for r in log if r["event"] == "epoch"] == [1, 2]
    assert result.best_checkpoint.is_file() and result.last_checkpoint.is_file()
    info = load_checkpoint(result.last_checkpoint).info
    assert info["epoch"] == 2 and "bleu" in info["metrics"]


def _final_weights(out_dir):
    return load_state(out_dir / STATE_FILE)["model"]


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_same_seed_same_weights_other_seed_differs(tmp_path):
    first = reverse_config(tmp_path / "a", run={"epochs": 1, "val_decode": False})
    second = reverse_config(tmp_path / "b", run={"epochs": 1, "val_decode": False})
    other = reverse_config(tmp_path / "c", run={"epochs": 1, "val_decode": False, "seed": 7})
    for config in (first, second, other):
        train(config)
    _assert_same_weights(
        _final_weights(tmp_path / "a" / "run"), _final_weights(tmp_path / "b" / "run")
    )
    a, c = _final_weights(tmp_path / "a" / "run"), _final_weights(tmp_path / "c" / "run")
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_resume_mid_epoch_matches_an_uninterrupted_run(tmp_path):
    settings = {
        "optim": {"teacher_forcing": 0.7, "schedule": "inverse_sqrt", "warmup_steps": 3},
        "model": {"text_encoder": {"dropout": 0.2}, "decoder": {"dropout": 0.2}},
    }
    whole = reverse_config(tmp_path / "whole", **settings)
    reference = train(whole)

    interrupted = reverse_config(tmp_path / "parts", **settings)

    def stop_at_step_3(trainer, record):
        if record["step"] == 3:
            trainer.request_stop()

    first = train(interrupted, callbacks=[("on_batch_end", stop_at_step_3)])
    assert first.status == "interrupted" and first.step == 3
    state = load_state(tmp_path / "parts" / "run" / STATE_FILE)
    assert state["progress"]["epoch"] == 0 and state["progress"]["batch"] == 3
    assert (tmp_path / "parts" / "run" / "last.safetensors").is_file()

    resumed = reverse_config(tmp_path / "parts", **settings, run={"resume": True})
    second = train(resumed)
    assert second.status == "finished" and second.step == reference.step
    _assert_same_weights(
        _final_weights(tmp_path / "whole" / "run"), _final_weights(tmp_path / "parts" / "run")
    )
    assert [r["val_loss"] for r in second.history] == [r["val_loss"] for r in reference.history]
    steps = [
        r["step"]
        for r in read_metrics(tmp_path / "parts" / "run" / "metrics.jsonl")
        if r["event"] == "epoch"
    ]
    assert steps == sorted(set(steps))  # no duplicated records after the resume


def test_periodic_state_is_written_mid_epoch(tmp_path):
    config = reverse_config(
        tmp_path, run={"epochs": 1, "save_every_minutes": 1e-9, "val_decode": False}
    )
    positions = []

    def look(trainer, record):
        if record["batch"] == 2:
            positions.append(load_state(tmp_path / "run" / STATE_FILE)["progress"]["batch"])

    train(config, callbacks=[("on_batch_end", look)])
    assert positions == [1]  # written after batch 1, read during batch 2's callback


def test_resume_refuses_changed_data_settings(tmp_path):
    train(reverse_config(tmp_path, run={"epochs": 1, "val_decode": False}))
    changed = reverse_config(tmp_path, data={"batch_size": 8}, run={"resume": True})
    with pytest.raises(ValueError, match=r"\[data\]"):
        train(changed)


def test_max_steps_stops_and_validates(tmp_path):
    result = train(reverse_config(tmp_path, run={"max_steps": 4, "val_decode": False}))
    assert result.status == "max_steps" and result.step == 4
    assert len(result.history) == 1 and np.isfinite(result.history[0]["val_loss"])


def test_tsv_pairs_with_swapped_columns_and_an_automatic_hold_out(tmp_path):
    sources, targets = reverse_pairs(120, seed=4)
    tsv = tmp_path / "pairs.tsv"
    rows = zip(sources, targets, strict=True)
    tsv.write_text("".join(f"{t}\t{s}\tattribution #{i}\n" for i, (s, t) in enumerate(rows)))
    config = reverse_config(
        tmp_path,
        data={
            "src_train": None,
            "tgt_train": None,
            "src_val": None,
            "tgt_val": None,
            "pairs_train": str(tsv),
            "source_column": 1,
            "target_column": 0,
            "val_size": 20,
        },
        run={"epochs": 1},
    )
    trainer = build_trainer(config, device=torch.device("cpu"), context=SINGLE_PROCESS)
    assert len(trainer.task.train.sources) == 100 and len(trainer.task.val.sources) == 20
    assert set(trainer.task.val.references) <= set(targets)  # column 0 is the target


def test_early_stopping_and_plateau_decay_follow_the_validation_metric(tmp_path):
    config = reverse_config(
        tmp_path,
        optim={"schedule": "plateau", "plateau_patience": 1, "plateau_factor": 0.5},
        run={"epochs": 6, "early_stopping": 2, "best_metric": "loss", "val_decode": False},
    )
    trainer = build_trainer(config, device=torch.device("cpu"), context=SINGLE_PROCESS)
    losses = iter([3.0, 2.0, 2.5, 2.6, 1.0, 1.0])
    trainer.task.validate = lambda model, device, decode: {"val_loss": next(losses), "val_ppl": 1.0}
    result = trainer.fit()
    assert result.status == "early_stopped" and result.epochs_done == 4
    assert [r["best"] for r in result.history] == [True, True, False, False]
    assert result.best == 2.0
    assert trainer.schedule.plateau_scale == pytest.approx(0.25)  # decayed after epochs 3 and 4


def test_keep_epochs_keeps_the_last_epoch_checkpoints(tmp_path):
    result = train(
        reverse_config(tmp_path, run={"epochs": 3, "keep_epochs": 2, "val_decode": False})
    )
    kept = sorted(p.name for p in (tmp_path / "run").glob("epoch-*.safetensors"))
    assert kept == ["epoch-002.safetensors", "epoch-003.safetensors"]
    info = load_checkpoint(tmp_path / "run" / "epoch-003.safetensors").info
    assert info["epoch"] == result.history[-1]["epoch"] == 3
