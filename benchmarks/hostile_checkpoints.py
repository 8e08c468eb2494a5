"""Classes of hostile checkpoints (issue 23 item 11), derived from a valid one.

``CASES`` maps a case name to ``(builder, seed, pattern, load_only)``: the
builder takes (folder, seed checkpoint path) and returns the file to open;
``seed`` says which valid checkpoint it starts from ("translation" or
"captioning"); ``pattern`` is what the refusal must say; ``load_only`` marks
cases only loading can see (tensor values: ``info`` reads no weights). The
case names start with their class: json_, sizes_, settings_, tokenizer_,
values_, pt_, pickle_. ``TEXT_CASES`` build a tokenizer whose normalizer
expands and a line it would expand without bound.

Used by tests/engine/test_hostile_checkpoint_classes.py, the window test in
tests/reliability and ``fuzz_checkpoints.HOSTILE_JSON_TEXTS``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import struct
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

DEEP = 100_000  # levels: past the JSON scanner's own recursion limit
LONG = "9" * 5000  # past Python's int-string limit (4,300 digits)


# -- safetensors metadata and header -------------------------------------------------------------
def _parts(seed: Path) -> tuple[dict, dict[str, str]]:
    with safe_open(str(seed), framework="pt") as stream:
        return load_file(str(seed)), dict(stream.metadata())


def with_metadata(name: str, **changes: str):
    def build(folder: Path, seed: Path) -> Path:
        tensors, meta = _parts(seed)
        path = folder / name
        save_file(tensors, str(path), metadata={**meta, **changes})
        return path

    return build


def with_config(name: str, edit):
    def build(folder: Path, seed: Path) -> Path:
        tensors, meta = _parts(seed)
        config = json.loads(meta["model_config"])
        edit(config)
        path = folder / name
        save_file(tensors, str(path), metadata={**meta, "model_config": json.dumps(config)})
        return path

    return build


def with_info(name: str, **changes):
    def build(folder: Path, seed: Path) -> Path:
        tensors, meta = _parts(seed)
        info = {**json.loads(meta.get("training_info", "{}")), **changes}
        path = folder / name
        save_file(tensors, str(path), metadata={**meta, "training_info": json.dumps(info)})
        return path

    return build


def with_config_text(name: str, old: str, new: str):
    """Replace text in the stored model_config (to hold what json.dumps cannot write)."""

    def build(folder: Path, seed: Path) -> Path:
        tensors, meta = _parts(seed)
        text = meta["model_config"]
        assert old in text
        path = folder / name
        changed = {**meta, "model_config": text.replace(old, new, 1)}
        save_file(tensors, str(path), metadata=changed)
        return path

    return build


def raw_header(name: str, edit):
    """Rewrite the header's JSON text (as text, so it can hold what json.dumps cannot)."""

    def build(folder: Path, seed: Path) -> Path:
        blob = seed.read_bytes()
        (length,) = struct.unpack("<Q", blob[:8])
        text = edit(blob[8 : 8 + length].decode("utf-8"))
        path = folder / name
        raw = text.encode("utf-8")
        path.write_bytes(struct.pack("<Q", len(raw)) + raw + blob[8 + length :])
        return path

    return build


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def shape_of_first(text: str, new_shape: str) -> str:
    """The header text with the first tensor's shape list replaced by ``new_shape`` (text)."""
    return re.sub(r'"shape":\s*\[[^\]]*\]', lambda _: f'"shape": {new_shape}', text, count=1)


def set(path: tuple, value):
    def edit(config):
        holder = config
        for key in path[:-1]:
            holder = holder[key]
        holder[path[-1]] = value

    return edit


# -- plain state dicts ---------------------------------------------------------------------------
def _sidecar(seed: Path, path: Path, **changes) -> None:
    _, meta = _parts(seed)
    tgt = meta["tgt_tokenizer"]
    src = meta.get("src_tokenizer")
    doc = {
        "model_config": json.loads(meta["model_config"]),
        "tgt_tokenizer": "base64:" + tgt,
        "src_tokenizer": "base64:" + (tgt if src == "same-as-target" else src),
    }
    path.with_suffix(".json").write_text(json.dumps({**doc, **changes}))


def state_dict(name: str, edit=None, legacy: bool = False, **sidecar):
    def build(folder: Path, seed: Path) -> Path:
        tensors, _ = _parts(seed)
        if edit is not None:
            edit(tensors)
        path = folder / name
        torch.save(tensors, path, _use_new_zipfile_serialization=not legacy)
        _sidecar(seed, path, **sidecar)
        return path

    return build


def sidecar_text(name: str, text: str):
    def build(folder: Path, seed: Path) -> Path:
        path = state_dict(name)(folder, seed)
        path.with_suffix(".json").write_text(text)
        return path

    return build


def tokenizer_at(name: str, make_target):
    def build(folder: Path, seed: Path) -> Path:
        target = make_target(folder)
        return state_dict(name, tgt_tokenizer=str(target))(folder, seed)

    return build


def fifo(folder: Path) -> Path:
    target = folder / "tokenizer.fifo"
    os.mkfifo(target)
    return target


def sparse(folder: Path, size: int) -> Path:
    target = folder / "huge.model"
    with target.open("wb") as stream:
        stream.truncate(size)
    return target


def expanded(tensors: dict) -> None:
    name = next(k for k, v in tensors.items() if v.dim() == 2)
    tensors[name] = torch.zeros(1).expand(tensors[name].shape)  # 4 bytes posing as a matrix


def poisoned(value: float, dtype=None):
    def edit(tensors: dict) -> None:
        name = next(k for k, v in tensors.items() if v.is_floating_point() and v.dim() == 2)
        tensor = tensors[name].clone().to(dtype or tensors[name].dtype)
        tensor[0, 0] = value
        tensors[name] = tensor

    return edit


def with_tensors(name: str, edit):
    def build(folder: Path, seed: Path) -> Path:
        tensors, meta = _parts(seed)
        edit(tensors)
        path = folder / name
        save_file(tensors, str(path), metadata=meta)
        return path

    return build


def legacy_declaring(name: str, numel: int):
    """A legacy torch.save file whose pickle declares a storage of ``numel`` floats."""

    def build(folder: Path, seed: Path) -> Path:
        path = folder / name
        torch.save({"w": torch.ones(4)}, path, _use_new_zipfile_serialization=False)
        blob = path.read_bytes()
        marker = b"cpuq\x06K\x04"  # the location, then the storage's element count 4
        assert marker in blob, "torch.save's legacy layout changed"
        path.write_bytes(blob.replace(marker, b"cpuq\x06\x8a\x05" + numel.to_bytes(5, "little")))
        _sidecar(seed, path)
        return path

    return build


def bytes_file(name: str, make):
    def build(folder: Path, seed: Path) -> Path:
        path = folder / name
        path.write_bytes(make(seed))
        if path.suffix != ".safetensors":
            _sidecar(seed, path)
        return path

    return build


def torch_zip(seed: Path) -> bytes:
    buffer = io.BytesIO()
    torch.save(_parts(seed)[0], buffer)
    return buffer.getvalue()


def big_state_dict(folder: Path, seed: Path) -> Path:
    path = folder / "huge.pt"
    with path.open("wb") as stream:
        stream.write(b"PK\x03\x04")
        stream.truncate(9 * 1024**3)  # sparse: no disk used
    _sidecar(seed, path)
    return path


def _expanding_tokenizer(rewrite: int, folder: Path) -> bytes:
    """A sentencepiece model whose normalizer rewrites "a" into ``rewrite`` x's."""
    import sentencepiece as spm

    tsv = folder / f"rules-{rewrite}.tsv"
    tsv.write_text("61\t" + " ".join(["78"] * rewrite) + "\n")
    writer = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["hello world", "the cat sat", "abc def"] * 10),
            model_writer=writer,
            vocab_size=30,
            model_type="bpe",
            pad_id=0,
            unk_id=1,
            bos_id=2,
            eos_id=3,
            hard_vocab_limit=False,
            normalization_rule_tsv=str(tsv),
            minloglevel=2,
            num_threads=1,
        )
    finally:
        tsv.unlink(missing_ok=True)
    return writer.getvalue()


def line_of(rewrite: int, text: str):
    def build(folder: Path):
        return _expanding_tokenizer(rewrite, folder), text, "grows past"

    return build


def implied_state_dict(folder: Path, seed: Path) -> Path:
    """A .pt whose JSON config declares a decoder 1,000 times the size of its tensors."""
    _, meta = _parts(seed)
    config = json.loads(meta["model_config"])
    config["decoder"]["hidden"] = 8000
    return state_dict("implied.pt", model_config=config)(folder, seed)


def expanding_checkpoint(folder: Path, seed: Path) -> Path:
    blob = base64.b64encode(_expanding_tokenizer(1000, folder)).decode()
    return with_metadata("expanding.safetensors", tgt_tokenizer=blob)(folder, seed)


def fifo_sidecar(folder: Path, seed: Path) -> Path:
    path = state_dict("fifo-sidecar.pt")(folder, seed)
    path.with_suffix(".json").unlink()
    os.mkfifo(path.with_suffix(".json"))
    return path
