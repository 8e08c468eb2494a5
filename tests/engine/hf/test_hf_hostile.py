"""Hostile Hugging Face folders, their files and their configs: the app's loader
(``load_inference_model``) gives one ``AttnScopeError`` line for each, reads nothing
outside the folder it was not linked to, and never blocks on a FIFO or /dev/zero.
(The weights themselves: test_hf_hostile_weights.py.)"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from attnscope.engine.decoding.config import DecodeConfig
from attnscope.engine.errors import AttnScopeError
from attnscope.engine.hf import folder as hf_folder
from attnscope.engine.hf.folder import read_hf_folder
from attnscope.engine.inference import load_inference_model

T5 = {"architectures": ["T5ForConditionalGeneration"], "is_encoder_decoder": True}


def refused(path, *words: str) -> str:
    """The one line loading ``path`` gives, holding each of ``words``."""
    with pytest.raises(AttnScopeError) as caught:
        load_inference_model(path, device="cpu")
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400
    for word in words:
        assert word in message
    return message


@pytest.fixture
def folder(tmp_path, marian_dir):
    """A fresh copy of the tiny Marian folder, to spoil."""
    return shutil.copytree(marian_dir, tmp_path / "model")


def _edit_config(folder, **changes) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | changes))


def _shard_index(folder, shard: str) -> None:
    """Move the weights behind an index whose every tensor is in ``shard``."""
    header = (folder / "model.safetensors").read_bytes()
    size = int.from_bytes(header[:8], "little")
    names = [n for n in json.loads(header[8 : 8 + size]) if n != "__metadata__"]
    (folder / "model.safetensors").rename(folder / "moved.safetensors")
    index = {"metadata": {}, "weight_map": dict.fromkeys(names, shard)}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))


@pytest.mark.parametrize(
    ("shard", "words"),
    [
        ("../outside.safetensors", ["'../outside.safetensors'", "in the folder itself"]),
        ("ABSOLUTE", ["in the folder itself"]),
        ("sub/model.safetensors", ["in the folder itself"]),
        ("pytorch_model.bin", ["'pytorch_model.bin'", ".safetensors file"]),
        ("model-00001-of-00002.safetensors", ["which is missing"]),
    ],
    ids=["parent", "absolute", "sub-folder", "pickle", "missing"],
)
def test_a_shard_index_names_only_shards_in_the_folder(folder, tmp_path, shard, words):
    if shard == "ABSOLUTE":
        shard = str(tmp_path / "elsewhere.safetensors")
    _shard_index(folder, shard)
    # the escaping shards exist, valid: only the index's check keeps them out
    for escape in (tmp_path / "outside.safetensors", tmp_path / "elsewhere.safetensors"):
        shutil.copy(folder / "moved.safetensors", escape)
    (folder / "sub").mkdir()
    shutil.copy(folder / "moved.safetensors", folder / "sub" / "model.safetensors")
    refused(folder, "model.safetensors.index.json", *words)


def test_a_good_shard_index_loads_and_a_huge_or_empty_one_is_refused(folder, monkeypatch):
    _shard_index(folder, "moved.safetensors")
    loaded = load_inference_model(folder, device="cpu")
    assert loaded.summary().layers == 2
    assert read_hf_folder(folder).weights_bytes() == (folder / "moved.safetensors").stat().st_size
    monkeypatch.setattr(hf_folder, "MAX_INDEX_BYTES", 100)
    refused(folder, "model.safetensors.index.json is larger than 100 bytes")
    monkeypatch.undo()
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {}}))
    refused(folder, "has no weight_map")


@pytest.mark.parametrize(
    ("name", "target", "words"),
    [
        ("model.safetensors", "/dev/zero", ["model.safetensors is a character device"]),
        ("config.json", "/dev/zero", ["config.json is a character device"]),
        ("tokenizer.json", "/dev/zero", ["tokenizer.json is a character device"]),
        ("chat_template.jinja", "/dev/zero", ["chat_template.jinja is a character device"]),
        ("model.safetensors", "LOOP", ["model.safetensors is a symbolic link loop"]),
        ("tokenizer.model", "FIFO", ["tokenizer.model is a FIFO"]),
        ("generation_config.json", "FIFO", ["generation_config.json is a FIFO"]),
        ("special_tokens_map.json", "FIFO", ["special_tokens_map.json is a FIFO"]),
        ("config.json", "DIR", ["config.json is a directory"]),
    ],
)
def test_special_files_are_refused_before_anything_reads_them(folder, name, target, words):
    path = folder / name
    path.unlink(missing_ok=True)
    if target == "FIFO":
        os.mkfifo(path)  # reading it would block the loader forever
    elif target == "DIR":
        path.mkdir()
    else:
        os.symlink(path if target == "LOOP" else target, path)
    refused(folder, *words)


def test_a_link_to_a_regular_file_is_followed_as_a_hub_snapshot_links_its_blobs(folder, tmp_path):
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    for name in ("model.safetensors", "config.json", "tokenizer.json"):
        shutil.move(folder / name, blobs / name)
        os.symlink(os.path.relpath(blobs / name, folder), folder / name)
    os.symlink("/nonexistent/README.md", folder / "README.md")  # never read: harmless
    assert load_inference_model(folder, device="cpu").summary().layers == 2


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'{"architectures": ["\xff\xfe"]}', ["config.json cannot be read", "utf-8"]),
        (b"[" * 100_000 + b"]" * 100_000, ["nests deeper than"]),
        (b'{"d_model": 16, "dropout": NaN}', ["NaN or Infinity"]),
        (b'{"layer_norm_eps": -Infinity}', ["NaN or Infinity"]),
        (b'{"d_model": 1' + b"0" * 5000 + b"}", ["config.json cannot be read"]),
        (b"[1, 2]", ["not a JSON object"]),
    ],
    ids=["not-utf8", "deep", "nan", "infinity", "long-number", "a-list"],
)
def test_a_malformed_config_gets_one_line(folder, content, words):
    (folder / "config.json").write_bytes(content)
    refused(folder, *words)


def test_a_huge_config_is_not_read(folder):
    (folder / "config.json").write_bytes(b" " * (hf_folder.MAX_CONFIG_BYTES + 1))
    refused(folder, "config.json is larger than 1,048,576 bytes")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("relative_attention_num_buckets", 10**9),  # T5: a buckets x heads table
        ("relative_attention_max_distance", -5),
        ("d_ff", 10**8),
        ("d_kv", 0),
        ("num_labels", 10**7),  # transformers builds id2label: 44 s measured
        ("max_position_embeddings", 10**9),  # mBART, M2M100, NLLB: a position table
        ("num_layers", "6"),
        ("num_heads", 2.0),
        ("vocab_size", True),
    ],
)
def test_every_size_field_is_bounded_before_building(tmp_path, field, value):
    folder = tmp_path / "t5"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"")
    (folder / "config.json").write_text(json.dumps(T5 | {field: value}))
    refused(folder, f"config.json: {field} must be an integer in")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\xff{{", ["generation_config.json cannot be read"]),
        (b'{"max_length": NaN}', ["generation_config.json holds NaN"]),
        (b" " * (1024 * 1024 + 1), ["generation_config.json is larger than"]),
    ],
)
def test_a_bad_generation_config_is_refused_not_silently_dropped(folder, content, words):
    (folder / "generation_config.json").write_bytes(content)
    refused(folder, *words)


def test_tokenizer_settings_never_pick_code_run_a_template_or_leave_the_folder(folder, tmp_path):
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    outside = tmp_path / "outside.json"
    outside.write_text("{not a tokenizer")
    unknown = settings | {
        # paths in the settings are not followed (old saves hold the saver's own paths)
        "tokenizer_file": str(outside),
        "vocab_file": str(outside),
        "tokenizer_class": "EvilTokenizer",  # not a transformers class: tokenizer.json is read
        "chat_template": "{{ ''.__class__.__mro__[1].__subclasses__() }}",  # never rendered
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(unknown))
    model = load_inference_model(folder, device="cpu")
    (translation,) = model.translate(["the cat sat"], DecodeConfig(max_length=5))
    assert translation.source_pieces == ("▁the", "▁cat", "▁sat", "</s>")  # tokenizer.json
    assert translation.pieces
    remote = unknown | {"auto_map": {"AutoTokenizer": ["evil.EvilTokenizer", None]}}
    (folder / "tokenizer_config.json").write_text(json.dumps(remote))
    refused(folder, "auto_map in tokenizer_config.json", "never runs code")


def test_garbage_sentencepiece_files_get_one_line(folder):
    (folder / "tokenizer.json").unlink()
    for name in ("source.spm", "target.spm"):
        (folder / name).write_bytes(b"not a sentencepiece model" * 10)
    (folder / "vocab.json").write_text('{"a": 0}')
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    settings["tokenizer_class"] = "MarianTokenizer"
    (folder / "tokenizer_config.json").write_text(json.dumps(settings))
    refused(folder, "the tokenizer cannot be loaded")


def test_a_hub_id_home_an_empty_folder_and_an_unreadable_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    refused("Helsinki-NLP/opus-mt-de-en", "never downloads")
    refused("~", "~")  # not expanded: no such file here
    (tmp_path / "empty").mkdir()
    refused(tmp_path / "empty", "has no config.json")
    if os.geteuid() == 0:
        return  # root reads any folder: the rest cannot be tried
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        refused(locked, "locked")
    finally:
        locked.chmod(0o700)


def test_a_tokenizer_of_too_many_added_tokens_is_not_loaded(folder, monkeypatch):
    tokenizer = json.loads((folder / "tokenizer.json").read_text())
    first = len(tokenizer["model"]["vocab"])
    extra = [{"id": first + i, "content": f"t{i}", "special": True} for i in range(50)]
    tokenizer["added_tokens"] += extra
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer))
    monkeypatch.setattr(hf_folder, "MAX_TOKENIZER_OBJECTS", 40)  # 20,000 in the app
    refused(folder, "tokenizer.json holds more than 40 JSON objects")


def test_a_config_asking_for_more_parameters_than_the_weights_hold(folder):
    # each size within its bound, their product 16 GB of float32 that transformers
    # would allocate before reading a byte of the 55 kB weights
    _edit_config(folder, vocab_size=1_000_000, decoder_vocab_size=1_000_000, d_model=4096)
    refused(folder, "asks for at least 4,364,435,456 parameters", "cannot be this model's")


def test_a_folder_of_too_many_entries_is_not_a_model_folder(folder, monkeypatch):
    monkeypatch.setattr(hf_folder, "MAX_FOLDER_ENTRIES", len(os.listdir(folder)))
    read_hf_folder(folder)  # exactly at the limit
    (folder / "README.md").write_text("one more")
    refused(folder, f"holds more than {len(os.listdir(folder)) - 1} entries")
