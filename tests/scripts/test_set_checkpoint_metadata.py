"""scripts/set_checkpoint_metadata.py: languages, recommended decoding and portable paths
written into a checkpoint's header, its tensors byte for byte the same."""

import json
import shutil

import pytest
from safetensors import safe_open
from script_support import load_script

from attnscope.engine.checkpoint import load_checkpoint, save_checkpoint
from attnscope.engine.checkpoint_info import machine_paths, read_info

TRAIN_CONFIG = {
    "data": {
        "src_train": "/home/someone/data/multi30k/train.de.gz",
        "images": None,
        "split_file": "C:\\data\\splits.tsv",
    },
    "run": {"out_dir": "/work/runs/deen-bahdanau", "trunk_weights": "/w/trunk.safetensors"},
}
CHOICE = {
    "recommended_decoding": {"strategy": "beam", "beam_size": 3},
    "decoding_choice": {"metric": "bleu", "grid": [{"decoding": {"strategy": "greedy"}}]},
}


@pytest.fixture(scope="module")
def setter():
    return load_script("set_checkpoint_metadata")


@pytest.fixture
def trained(tiny_translation_checkpoint, tmp_path):
    checkpoint = load_checkpoint(tiny_translation_checkpoint)
    return save_checkpoint(
        tmp_path / "trained.safetensors",
        model=checkpoint.model,
        src_tokenizer=checkpoint.src_tokenizer,
        tgt_tokenizer=checkpoint.tgt_tokenizer,
        info={**checkpoint.info, "train_config": TRAIN_CONFIG},
    )


def tensor_bytes(path):
    with safe_open(str(path), "pt") as handle:
        return {name: handle.get_tensor(name).numpy().tobytes() for name in handle.keys()}  # noqa: SIM118


def test_metadata_changes_and_tensors_stay_byte_identical(setter, trained, tmp_path, capsys):
    before = tensor_bytes(trained)
    choice = tmp_path / "choice.json"
    choice.write_text(json.dumps(CHOICE), encoding="utf-8")
    argv = [str(trained), "--src-lang", "de", "--tgt-lang", "en", "--info-json", str(choice)]
    assert setter.main(argv) == 0
    assert tensor_bytes(trained) == before
    info = load_checkpoint(trained).info  # still a loadable checkpoint
    assert (info["source_language"], info["target_language"]) == ("de", "en")
    assert info["recommended_decoding"] == CHOICE["recommended_decoding"]
    assert info["decoding_choice"] == CHOICE["decoding_choice"]
    assert info["note"] == "tiny random test model"  # the rest is kept
    assert machine_paths(info) == []
    data, run = info["train_config"]["data"], info["train_config"]["run"]
    assert (data["src_train"], data["split_file"], data["images"]) == (
        "train.de.gz",
        "splits.tsv",
        None,
    )
    assert (run["out_dir"], run["trunk_weights"]) == ("deen-bahdanau", "trunk.safetensors")
    line = capsys.readouterr().out
    digests = [word for word in line.split() if word.endswith("…")]
    assert len(digests) == 2 and digests[0] == digests[1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--src-lang", "German"], "ISO 639"),
        (["--tgt-lang", "e n"], "ISO 639"),
    ],
)
def test_bad_language_codes_are_refused_and_the_file_is_untouched(
    setter, trained, argv, message, capsys
):
    raw = trained.read_bytes()
    assert setter.main([str(trained), *argv]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and message in err
    assert trained.read_bytes() == raw


def test_an_unusable_recommendation_is_refused(setter, trained, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"recommended_decoding": {"beam_width": 3}}), encoding="utf-8")
    raw = trained.read_bytes()
    assert setter.main([str(trained), "--info-json", str(bad)]) == 2
    assert "recommended_decoding" in capsys.readouterr().err
    assert trained.read_bytes() == raw


def test_a_target_language_alone_on_a_copy(setter, trained, tmp_path):
    copy = tmp_path / "copy.safetensors"
    shutil.copy(trained, copy)
    assert read_info(copy) == read_info(trained)
    assert setter.main([str(copy), "--tgt-lang", "en"]) == 0
    assert read_info(copy)["target_language"] == "en"
    assert "source_language" not in read_info(copy)
