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


def test_train_records_languages_relative_paths_and_a_recommended_decoding(tmp_path, monkeypatch):
    """A run described by a TOML file beside its data: the checkpoint names the data relative
    to that file, the run folder by its name, the languages given, and the decoding the grid
    chose on validation with every setting's score."""
    project = tmp_path / "project"
    data = write_reverse_corpus(project / "data", train=200, val=30)
    toml = project / "run.toml"
    toml.write_text(
        '[data]\nsrc_lang = "de"\nbatch_size = 32\n[vocab]\nsize = 32\nmodel_type = "bpe"\n'
        "shared = true\n[model]\nembed_dim = 16\n[model.text_encoder]\nhidden = 16\n"
        '[model.decoder]\nhidden = 32\n[run]\nepochs = 1\ndevice = "cpu"\nnum_threads = 1\n'
        "progress_seconds = 3600\nsave_every_minutes = 0\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    flags = [f"--{key.replace('_', '-')}={value}" for key, value in data.items()]
    out = tmp_path / "elsewhere" / "run-7"
    assert (
        main(["train", "--config", str(toml), *flags, "--tgt-lang", "en", "--out", str(out)]) == 0
    )
    info = load_checkpoint(out / "best.safetensors").info
    assert (info["source_language"], info["target_language"]) == ("de", "en")
    recorded = info["train_config"]
    assert recorded["data"]["src_train"] == "data/train.src"  # relative to run.toml
    assert recorded["data"]["tgt_val"] == "data/val.tgt"
    assert recorded["run"]["out_dir"] == "run-7"  # outside the config's folder: its name
    assert str(tmp_path) not in json.dumps(info)
    choice = info["decoding_choice"]
    assert choice["metric"] == "bleu" and len(choice["grid"]) == 11
    assert choice["grid"][0]["decoding"] == {"strategy": "greedy"}
    best = max(choice["grid"], key=lambda entry: entry["score"])
    assert info["recommended_decoding"] == best["decoding"]
    last = load_checkpoint(out / "last.safetensors").info
    assert "recommended_decoding" not in last and last["target_language"] == "en"


def test_a_captioner_takes_no_source_language(tmp_path, capsys):
    argv = ["train", "--task", "captioning", "--images", str(tmp_path), "--captions", "c.csv"]
    assert main([*argv, "--src-lang", "de", "--print-config"]) == 2
    assert "image" in capsys.readouterr().err
    assert main([*argv, "--tgt-lang", "English", "--print-config"]) == 2
    assert "ISO 639" in capsys.readouterr().err
