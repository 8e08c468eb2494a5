"""`attnscope train`: flags -> TrainConfig, TOML precedence, exit codes, torchrun on gloo."""

import json
import os
import subprocess
import sys

import pytest
from training_support import write_reverse_corpus

from attnscope.engine.checkpoint import load_checkpoint
from attnscope.engine.cli import build_parser, main
from attnscope.engine.commands.train import build_config
from attnscope.engine.training.callbacks import read_metrics


def _parse(argv):
    return build_parser(load="train").parse_args(["train", *argv])


def _data_flags(folder):
    paths = write_reverse_corpus(folder, train=300, val=40)
    return [
        "--src-train",
        paths["src_train"],
        "--tgt-train",
        paths["tgt_train"],
        "--src-val",
        paths["src_val"],
        "--tgt-val",
        paths["tgt_val"],
    ]


def test_flags_map_onto_config_sections(tmp_path):
    args = _parse(
        [
            *_data_flags(tmp_path),
            "--hidden",
            "48",
            "--cell",
            "lstm",
            "--attention",
            "multihead",
            "--heads",
            "2",
            "--no-bidirectional",
            "--grid",
            "4",
            "4",
            "--lr",
            "0.01",
            "--schedule",
            "inverse_sqrt",
            "--warmup-steps",
            "10",
            "--epochs",
            "3",
            "--shared-vocab",
            "--val-split",
            "dev",
            "test",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    config = build_config(args)
    model = config.model_config(src_vocab=20, tgt_vocab=20)
    assert model.text_encoder.hidden == model.decoder.hidden == 48
    assert model.text_encoder.cell == model.decoder.cell == "lstm"
    assert model.attention.kind == "multihead" and model.attention.heads == 2
    assert not model.text_encoder.bidirectional
    assert model.image_encoder.grid == (4, 4)
    assert config.optim.lr == 0.01 and config.optim.schedule == "inverse_sqrt"
    assert config.vocab.shared and config.run.epochs == 3
    assert config.data.val_splits == ("dev", "test")


def test_flags_override_the_toml_file(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text("[run]\nepochs = 7\nseed = 5\n[model.decoder]\nhidden = 12\n")
    args = _parse([*_data_flags(tmp_path), "--config", str(toml), "--epochs", "2"])
    config = build_config(args)
    assert config.run.epochs == 2 and config.run.seed == 5
    assert config.model_config(src_vocab=9, tgt_vocab=9).decoder.hidden == 12


def test_print_config_and_bad_settings(tmp_path, capsys):
    assert main(["train", *_data_flags(tmp_path), "--print-config"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["data"]["src_val"].endswith("val.src")
    assert main(["train", "--epochs", "2"]) == 2
    assert "training data" in capsys.readouterr().err
    assert main(["train", *_data_flags(tmp_path), "--attention", "telepathy"]) == 2
    assert "attention kind" in capsys.readouterr().err


@pytest.mark.timeout(180)
def test_torchrun_two_gloo_processes_train_a_loadable_checkpoint(tmp_path):
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--standalone",
        "-m",
        "attnscope",
        "train",
        *_data_flags(tmp_path / "data"),
        "--shared-vocab",
        "--vocab-size",
        "32",
        "--vocab-type",
        "bpe",
        "--embed-dim",
        "16",
        "--hidden",
        "32",
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--out",
        str(out),
        "--device",
        "cpu",
        "--threads",
        "1",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=170)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])  # printed once, by rank 0
    assert summary["status"] == "finished" and summary["steps"] == 10  # 10 batches / 2 ranks x 2
    checkpoint = load_checkpoint(out / "best.safetensors")
    assert checkpoint.task == "translation" and checkpoint.info["world_size"] == 2
    epochs = [r for r in read_metrics(out / "metrics.jsonl") if r["event"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2]  # rank 0 alone writes the log
