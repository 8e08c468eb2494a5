"""Bad Hugging Face folders each get one clear line; nothing is downloaded or unpickled."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys

import pytest
import torch

from attnscope.engine.errors import AttnScopeError
from attnscope.engine.hf.folder import HfFolderError, read_hf_folder
from attnscope.engine.hf.loading import load_hf_folder

from .tiny_models import bare_folder

MARIAN = {"architectures": ["MarianMTModel"], "model_type": "marian", "is_encoder_decoder": True}


def _refused(path, *words: str) -> str:
    with pytest.raises(HfFolderError) as caught:
        read_hf_folder(path)
    message = str(caught.value)
    assert isinstance(caught.value, AttnScopeError)
    assert "\n" not in message
    for word in words:
        assert word in message
    return message


def test_a_hub_id_is_not_downloaded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _refused("Helsinki-NLP/opus-mt-de-en", "not a local folder", "never downloads")


def test_a_missing_folder_and_a_file(tmp_path):
    _refused(tmp_path / "nowhere" / "model", "does not exist")
    (tmp_path / "model.safetensors").write_bytes(b"")
    _refused(tmp_path / "model.safetensors", "is not a folder")


def test_a_missing_or_malformed_config(tmp_path):
    folder = bare_folder(tmp_path)
    _refused(folder, "has no config.json")
    (folder / "config.json").write_text("{not json")
    _refused(folder, "config.json cannot be read")
    (folder / "config.json").write_text("[1, 2]")
    _refused(folder, "not a JSON object")


def test_remote_code_is_never_trusted(tmp_path):
    config = MARIAN | {"auto_map": {"AutoModelForSeq2SeqLM": "modeling_evil.EvilModel"}}
    _refused(bare_folder(tmp_path, config), "auto_map", "never runs code")


def test_a_tokenizer_with_remote_code_or_a_fifo_is_refused(tmp_path):
    folder = bare_folder(tmp_path, MARIAN)
    (folder / "tokenizer_config.json").write_text(json.dumps({"auto_map": {"AutoTokenizer": "x"}}))
    _refused(folder, "tokenizer needs its own Python code", "never runs code")
    (folder / "tokenizer_config.json").unlink()
    os.mkfifo(folder / "tokenizer.json")
    _refused(folder, "tokenizer.json is a FIFO")


@pytest.mark.parametrize(
    "config",
    [
        {"architectures": ["BertForMaskedLM"], "model_type": "bert"},
        {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"},
        MARIAN | {"architectures": ["MarianForCausalLM"]},
    ],
    ids=["encoder-only", "decoder-only", "decoder-only-marian"],
)
def test_one_sided_models_need_an_encoder_decoder(tmp_path, config):
    _refused(bare_folder(tmp_path, config), "needs an encoder–decoder")


def test_an_unknown_architecture_lists_the_supported_ones(tmp_path):
    config = MARIAN | {"architectures": ["FSMTForConditionalGeneration"]}
    _refused(bare_folder(tmp_path, config), "unknown architecture", "MarianMTModel")
    (tmp_path / "x").mkdir()
    _refused(bare_folder(tmp_path / "x", MARIAN | {"architectures": []}), "names no architecture")


@pytest.mark.parametrize(
    ("field", "value"), [("decoder_layers", 100_000), ("vocab_size", 10**12), ("d_model", True)]
)
def test_absurd_sizes_are_refused_before_building(tmp_path, field, value):
    _refused(bare_folder(tmp_path, MARIAN | {field: value}), field, "must be an integer")


def test_missing_weights(tmp_path):
    _refused(bare_folder(tmp_path, MARIAN, weights=None), "has no weights")


class _Payload:
    """Unpickling this creates ``marker``: what a hostile pytorch_model.bin could run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_pickled_weights_are_refused_and_never_read(tmp_path):
    marker = tmp_path / "payload-ran"
    payload = pickle.dumps(_Payload(marker))
    pickle.loads(payload)  # control: the payload does run when unpickled
    assert marker.exists()
    marker.rmdir()
    folder = bare_folder(tmp_path, MARIAN, weights=None)
    (folder / "pytorch_model.bin").write_bytes(payload)
    _refused(folder, "pytorch_model.bin", "never reads")
    assert not marker.exists()


def test_a_good_folder_is_described(marian_dir):
    facts = read_hf_folder(marian_dir).describe()
    assert facts["architecture"] == "MarianMTModel"
    assert facts["sizes"]["decoder_layers"] == 2
    assert facts["weights"] == "model.safetensors"
    assert "tokenizer.json" in facts["tokenizer_files"]
    assert facts["weights_bytes"] == (marian_dir / "model.safetensors").stat().st_size


def test_sharded_weights_count_every_shard(tmp_path):
    folder = bare_folder(tmp_path, MARIAN, weights="model.safetensors.index.json")
    (folder / "model-00001-of-00002.safetensors").write_bytes(b"x" * 10)
    (folder / "model-00002-of-00002.safetensors").write_bytes(b"x" * 5)
    shards = {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": shards}))
    assert read_hf_folder(folder).describe()["weights_bytes"] == 15


def test_weights_that_do_not_fit_the_config(tmp_path, marian_dir):
    folder = shutil.copytree(marian_dir, tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | {"d_model": 32}))
    with pytest.raises(HfFolderError, match="the model cannot be loaded"):
        load_hf_folder(folder)


@pytest.mark.parametrize(
    "weights",
    [b"", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}", (2**40).to_bytes(8, "little")],
    ids=["empty", "bad-header", "huge-header"],
)
def test_corrupt_safetensors_get_one_line(tmp_path, marian_dir, weights):
    folder = shutil.copytree(marian_dir, tmp_path / "model")
    (folder / "model.safetensors").write_bytes(weights)
    # an empty file is refused before loading: it cannot hold the config's parameters
    match = r"the model cannot be loaded: .*header|cannot be this model's"
    with pytest.raises(HfFolderError, match=match) as caught:
        load_hf_folder(folder)
    assert "\n" not in str(caught.value)


def test_half_precision_weights_load_as_float32(tmp_path, marian_dir):
    from transformers import MarianMTModel

    folder = shutil.copytree(marian_dir, tmp_path / "model")
    MarianMTModel.from_pretrained(marian_dir).half().save_pretrained(folder)
    loaded = load_hf_folder(folder)
    assert {p.dtype for p in loaded.model.parameters()} == {torch.float32}


@pytest.mark.parametrize("field", ["eos_token_id", "decoder_start_token_id"])
def test_a_config_without_eos_or_start_token(tmp_path, marian_dir, field):
    folder = shutil.copytree(marian_dir, tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | {field: None}))
    with pytest.raises(HfFolderError, match=f"(names no |field '){field}"):
        load_hf_folder(folder)


def test_a_corrupt_tokenizer_gets_one_line(tmp_path, marian_dir):
    folder = shutil.copytree(marian_dir, tmp_path / "model")
    (folder / "tokenizer.json").write_bytes(b"{not json")
    with pytest.raises(HfFolderError, match="the tokenizer cannot be loaded") as caught:
        load_hf_folder(folder)
    assert "\n" not in str(caught.value)


def test_a_folder_without_tokenizer(tmp_path, marian_dir):
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(marian_dir / name, folder / name)
    with pytest.raises(HfFolderError, match="has no tokenizer files"):
        load_hf_folder(folder)


def test_transformers_4_is_refused_with_the_version_to_install(marian_dir, monkeypatch):
    import transformers

    monkeypatch.setattr(transformers, "__version__", "4.46.0")
    with pytest.raises(HfFolderError, match=r"transformers 4\.46\.0 is installed.*>=5,<6"):
        load_hf_folder(marian_dir)


CHECK_LAZY = """
import sys
from attnscope.engine import cli
try:
    cli.main(["--help"])
except SystemExit:
    pass
import attnscope.engine.hf.folder
print("imported:" + ",".join(m for m in ("transformers", "torch") if m in sys.modules))
"""


def test_help_and_the_folder_check_import_neither_transformers_nor_torch():
    """transformers is imported only when a folder is opened (load_hf_folder)."""
    done = subprocess.run(
        [sys.executable, "-c", CHECK_LAZY], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "imported:"


def test_info_describes_a_folder_and_refuses_a_bad_one(marian_dir, tmp_path, capsys):
    from attnscope.engine.cli import main

    assert main(["info", str(marian_dir)]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["format"] == "huggingface"
    assert facts["sizes"]["decoder_attention_heads"] == 2
    assert main(["info", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "has no config.json" in error
    assert error.count("\n") == 1
