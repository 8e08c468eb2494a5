"""engine/checkpoint_info.py: portable paths, and the shipped checkpoints' metadata: no machine
paths, a language pair and a recommended decoding chosen on validation in every one."""

from pathlib import Path

import pytest

from attnscope.engine.checkpoint_info import (
    is_machine_path,
    machine_paths,
    portable_paths,
    read_info,
)
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.resources import resource_dir

SHIPPED = sorted((resource_dir() / "checkpoints").glob("*.safetensors"))
LANGUAGES = {
    "deen-bahdanau": ("de", "en"),
    "deen-multihead": ("de", "en"),
    "deen-noattn": ("de", "en"),
    "zhen-tatoeba": ("zh", "en"),
    "flickr8k-mobilenet": (None, "en"),
    "shapes-attention": (None, "en"),
}


def test_machine_paths_are_recognised():
    assert is_machine_path("/work/shared/data/multi30k/train.de.gz")
    assert is_machine_path("C:\\runs\\x") and is_machine_path("~/data/x.txt")
    assert not is_machine_path("train.de.gz") and not is_machine_path("a/b.tsv")
    assert not is_machine_path("beam 5, GNMT α 1.5")


def test_portable_paths_are_relative_to_the_base_or_a_basename(tmp_path):
    base = tmp_path / "project"
    settings = {
        "data": {"src_train": str(base / "data" / "train.de"), "tgt_train": "/elsewhere/t.en"},
        "run": {"out_dir": str(tmp_path / "runs" / "r1"), "epochs": 3},
        "list": ["/x/y/z.txt", "plain"],
    }
    portable = portable_paths(settings, base)
    assert portable["data"] == {"src_train": "data/train.de", "tgt_train": "t.en"}
    assert portable["run"] == {"out_dir": "r1", "epochs": 3}
    assert portable["list"] == ["z.txt", "plain"]
    assert machine_paths(portable) == []


def test_keyed_relative_paths_are_taken_from_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = tmp_path / "configs"
    value = {"src_train": "configs/data/a.de", "out_dir": "runs/x", "note": "runs/x"}
    portable = portable_paths(value, base, keys=frozenset({"src_train", "out_dir"}))
    assert portable == {"src_train": "data/a.de", "out_dir": "x", "note": "runs/x"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_checkpoints_hold_no_machine_path(path: Path):
    info = read_info(path)
    assert machine_paths(info) == []
    assert "/work/" not in str(info)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_checkpoints_name_their_languages(path: Path):
    info = read_info(path)
    source, target = LANGUAGES[path.stem]
    assert info.get("source_language") == source and info["target_language"] == target


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_checkpoints_recommend_a_decoding_chosen_on_validation(path: Path):
    info = read_info(path)
    recommended = info["recommended_decoding"]
    DecodeConfig(**recommended)  # usable as it is
    grid = info["decoding_choice"]["grid"]
    best = max(grid, key=lambda entry: entry["score"])
    assert {**best["decoding"], **info["decoding_choice"]["fixed"]} == recommended


@pytest.mark.parametrize(
    ("name", "pair"),
    [("deen-bahdanau", "German → English"), ("flickr8k-mobilenet", "image → English")],
)
def test_info_shows_the_language_pair(name, pair, capsys):
    import json

    from attnscope.engine.cli import main

    assert main(["info", str(resource_dir() / "checkpoints" / f"{name}.safetensors")]) == 0
    assert json.loads(capsys.readouterr().out)["languages"] == pair


def test_info_of_a_checkpoint_without_languages_has_no_pair(tiny_translation_checkpoint, capsys):
    import json

    from attnscope.engine.cli import main

    assert main(["info", str(tiny_translation_checkpoint)]) == 0
    assert "languages" not in json.loads(capsys.readouterr().out)
