"""`attnscope evaluate` on a freshly trained reverse model and a tiny captioning model."""

import json

import pytest
from training_support import reverse_config, write_caption_dataset

from attnscope.engine.cli import main
from attnscope.engine.training.config import TrainConfig, merge_settings
from attnscope.engine.training.run import train


@pytest.fixture(scope="module")
def reverse_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reverse")
    config = reverse_config(folder, train=1600, val=60, run={"epochs": 4, "val_decode": False})
    result = train(config)
    return result.best_checkpoint, folder / "data"


def test_identical_hypotheses_and_references_score_100(reverse_run, tmp_path, capsys):
    checkpoint, data = reverse_run
    hypotheses = tmp_path / "hyp.txt"
    args = ["evaluate", "-c", str(checkpoint), "--src", str(data / "val.src")]
    assert main([*args, "--ref", str(data / "val.tgt"), "--hypotheses", str(hypotheses)]) == 0
    first = capsys.readouterr().out
    assert "BLEU = " in first and "chrF = " in first and "tok:13a" in first
    assert main([*args, "--ref", str(hypotheses), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bleu"]["score"] == pytest.approx(100.0)
    assert report["chrf"]["score"] == pytest.approx(100.0)
    assert report["count"] == 60 and report["decoding"] == "greedy"


def test_trained_reverse_model_scores_high_with_beam(reverse_run, capsys):
    checkpoint, data = reverse_run
    argv = [
        "evaluate",
        "-c",
        str(checkpoint),
        "--src",
        str(data / "val.src"),
        "--ref",
        str(data / "val.tgt"),
        "--beam",
        "3",
        "--json",
    ]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["decoding"] == "beam"
    assert report["bleu"]["score"] > 80.0
    assert report["bleu"]["signature"].startswith("nrefs:1|case:mixed")


def test_unusable_inputs_exit_2(reverse_run, tmp_path, capsys):
    checkpoint, data = reverse_run
    short = tmp_path / "short.txt"
    short.write_text("a b c\n")
    assert (
        main(
            ["evaluate", "-c", str(checkpoint), "--src", str(data / "val.src"), "--ref", str(short)]
        )
        == 2
    )
    assert "lines" in capsys.readouterr().err
    assert main(["evaluate", "-c", str(checkpoint), "--src", str(data / "val.src")]) == 2
    assert "--ref" in capsys.readouterr().err
    assert (
        main(["evaluate", "-c", str(tmp_path / "missing.safetensors"), "--src", "x", "--ref", "y"])
        == 2
    )


def test_captioning_checkpoint_reports_bleu_n_and_cider(tmp_path, capsys):
    data = write_caption_dataset(tmp_path / "data")
    settings = {
        "data": {"task": "captioning", **data, "batch_size": 8},
        "vocab": {"size": 24, "model_type": "bpe"},
        "model": {
            "embed_dim": 16,
            "decoder": {"hidden": 32},
            "image_encoder": {"image_size": [64, 64], "grid": [2, 2]},
        },
        "run": {
            "out_dir": str(tmp_path / "run"),
            "epochs": 1,
            "device": "cpu",
            "num_threads": 1,
            "val_decode": False,
        },
    }
    result = train(TrainConfig.from_dict(merge_settings(settings, {})))
    argv = [
        "evaluate",
        "-c",
        str(result.best_checkpoint),
        "--images",
        data["images"],
        "--captions",
        data["captions"],
        "--split-file",
        data["split_file"],
        "--split",
        "dev",
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    for name in ("BLEU-1", "BLEU-4", "CIDEr-D"):
        assert f"{name} = " in text
    assert main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "captioning" and report["count"] == 3  # 12 images, every 4th is dev
    assert 0.0 <= report["BLEU-1"] <= 1.0 and report["CIDEr-D"] >= 0.0
