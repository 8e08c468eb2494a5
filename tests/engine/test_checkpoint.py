"""Checkpoint save/load round trips, storage dtypes, plain PyTorch files and `info`."""

from __future__ import annotations

import base64
import json
import os

import pytest
import torch
from helpers_checkpoint import (
    captioning_config,
    captioning_model,
    captioning_outputs,
    read_parts,
    save_translation,
    tokenizer,
    translation_model,
    translation_outputs,
)

from attnscope.engine.checkpoint import (
    FORMAT_VERSION,
    Checkpoint,
    load_checkpoint,
    read_checkpoint_info,
    save_checkpoint,
)
from attnscope.engine.errors import CheckpointError
from attnscope.engine.images import ImagePreprocess
from attnscope.engine.tokenizers import TextTokenizer
from attnscope.models.config import AttentionConfig, ModelConfig, TextEncoderConfig


def _same_outputs(first, second, atol=0.0):
    (log_a, attn_a), (log_b, attn_b) = first, second
    assert torch.allclose(log_a, log_b, atol=atol)
    assert (attn_a is None) == (attn_b is None)
    if attn_a is not None:
        assert torch.allclose(attn_a, attn_b, atol=atol)


def test_translation_round_trip_gives_identical_outputs(tmp_path):
    model = translation_model()
    path = save_translation(tmp_path / "mt.safetensors", model=model, info={"epochs": 3})
    loaded = load_checkpoint(path)
    assert isinstance(loaded, Checkpoint) and loaded.task == "translation"
    assert loaded.config == model.config
    assert not loaded.model.training
    _same_outputs(translation_outputs(model), translation_outputs(loaded.model))
    assert loaded.src_tokenizer.to_bytes() == tokenizer("src").to_bytes()
    assert loaded.tgt_tokenizer.to_bytes() == tokenizer("tgt").to_bytes()
    assert loaded.image_preprocess is None
    assert loaded.info == {"epochs": 3}
    assert loaded.num_parameters == sum(p.numel() for p in model.parameters())
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())


def test_captioning_round_trip_gives_identical_outputs(tmp_path):
    model = captioning_model()
    model.encoder.trunk[1].conv[0][1].running_mean.fill_(0.25)  # buffers travel too
    preprocess = ImagePreprocess(size=(32, 32), mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2))
    path = save_checkpoint(
        tmp_path / "cap.safetensors",
        model=model,
        tgt_tokenizer=tokenizer("tgt"),
        image_preprocess=preprocess,
    )
    loaded = load_checkpoint(path, device="auto")
    assert loaded.task == "captioning" and loaded.src_tokenizer is None
    assert loaded.image_preprocess == preprocess
    _same_outputs(captioning_outputs(model), captioning_outputs(loaded.model))
    assert torch.equal(
        loaded.model.encoder.trunk[1].conv[0][1].running_mean, torch.full((32,), 0.25)
    )


def test_captioning_preprocess_defaults_to_the_model_config(tmp_path):
    model = captioning_model()
    path = save_checkpoint(
        tmp_path / "cap.safetensors", model=model, tgt_tokenizer=tokenizer("tgt")
    )
    loaded = load_checkpoint(path)
    assert loaded.image_preprocess == ImagePreprocess.from_model_config(model.config.image_encoder)


@pytest.mark.parametrize(
    "changes",
    [
        {"share_embeddings": True, "src_vocab": 40, "tgt_vocab": 40},
        {"attention": AttentionConfig(kind="multihead", heads=2, hidden=8)},
        {"attention": AttentionConfig(kind="none")},
        {"text_encoder": TextEncoderConfig(kind="cnn", hidden=8, kernel_sizes=(3,), dropout=0.0)},
    ],
)
def test_round_trip_across_architectures(tmp_path, changes):
    if "share_embeddings" in changes:
        joint = tokenizer("tgt")
        changes = {**changes, "src_vocab": joint.vocab_size, "tgt_vocab": joint.vocab_size}
        model = translation_model(**changes)
        path = save_checkpoint(
            tmp_path / "m.safetensors", model=model, tgt_tokenizer=joint, src_tokenizer=joint
        )
        stored, _ = read_parts(path)
        assert "src_embedding.weight" not in stored  # shared tensor stored once
    else:
        model = translation_model(**changes)
        path = save_translation(tmp_path / "m.safetensors", model=model)
    loaded = load_checkpoint(path)
    _same_outputs(translation_outputs(model), translation_outputs(loaded.model))
    if "share_embeddings" in changes:
        assert loaded.model.src_embedding.weight is loaded.model.tgt_embedding.weight


def test_fp16_storage_halves_the_file_and_loads_as_float32(tmp_path):
    model = translation_model()
    full = save_translation(tmp_path / "fp32.safetensors", model=model)
    half = save_translation(tmp_path / "fp16.safetensors", model=model, storage_dtype=torch.float16)
    tensors, meta = read_parts(half)
    assert meta["dtype"] == "float16" and all(t.dtype == torch.float16 for t in tensors.values())
    tensor_bytes = sum(t.numel() * 4 for t in model.state_dict().values())
    assert full.stat().st_size - half.stat().st_size > 0.4 * tensor_bytes
    loaded = load_checkpoint(half)
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())
    _same_outputs(translation_outputs(model), translation_outputs(loaded.model), atol=1e-2)
    assert read_checkpoint_info(half)["storage_dtype"] == "float16"


def test_bfloat16_storage_round_trip(tmp_path):
    model = captioning_model()
    path = save_checkpoint(
        tmp_path / "cap.safetensors",
        model=model,
        tgt_tokenizer=tokenizer("tgt"),
        storage_dtype=torch.bfloat16,
    )
    loaded = load_checkpoint(path)
    original = dict(model.named_parameters())
    for name, param in loaded.model.named_parameters():
        assert param.dtype == torch.float32
        assert torch.equal(param, original[name].to(torch.bfloat16).float())


@pytest.mark.parametrize("task", ["translation", "captioning"])
def test_info_describes_the_checkpoint_without_building_it(tmp_path, task):
    if task == "translation":
        model = translation_model()
        path = save_translation(tmp_path / "m.safetensors", model=model, info={"bleu": 12.5})
    else:
        model = captioning_model()
        path = save_checkpoint(
            tmp_path / "m.safetensors",
            model=model,
            tgt_tokenizer=tokenizer("tgt"),
            info={"bleu": 12.5},
        )
    info = read_checkpoint_info(path)
    assert json.loads(json.dumps(info)) == info  # JSON-ready
    assert info["task"] == task and info["format_version"] == FORMAT_VERSION
    assert info["file_size"] == os.path.getsize(path)
    assert info["num_parameters"] == sum(p.numel() for p in model.parameters())
    assert info["tgt_vocab"] == tokenizer("tgt").vocab_size
    assert info["src_vocab"] == (tokenizer("src").vocab_size if task == "translation" else None)
    assert info["attention"] == "additive" and info["heads"] == 1
    assert info["training_info"] == {"bleu": 12.5}
    assert ModelConfig.from_dict(info["model_config"]) == model.config
    assert set(info["architecture"]) == {"encoder", "attention", "decoder"}
    if task == "captioning":
        assert "mobilenet_v2" in info["architecture"]["encoder"]
        assert info["image_preprocess"]["size"] == [32, 32]


def test_info_of_a_multihead_model_counts_heads(tmp_path):
    model = translation_model(attention=AttentionConfig(kind="multihead", heads=2, hidden=8))
    info = read_checkpoint_info(save_translation(tmp_path / "m.safetensors", model=model))
    assert info["attention"] == "multihead" and info["heads"] == 2 == model.num_heads


def test_save_is_atomic_and_overwrites(tmp_path):
    path = save_translation(tmp_path / "sub" / "m.safetensors", info={"run": 1})
    save_translation(path, info={"run": 2})
    assert load_checkpoint(path).info == {"run": 2}
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.safetensors"]  # no temp files


def test_save_unwraps_a_distributed_wrapper(tmp_path):
    class Wrapper(torch.nn.Module):  # stands in for DistributedDataParallel
        def __init__(self, module):
            super().__init__()
            self.module = module

    model = translation_model()
    path = save_translation(tmp_path / "m.safetensors", model=Wrapper(model))
    _same_outputs(translation_outputs(model), translation_outputs(load_checkpoint(path).model))


def test_save_rejects_inconsistent_inputs(tmp_path):
    model = translation_model()
    with pytest.raises(ValueError, match="source tokenizer"):
        save_checkpoint(tmp_path / "a.safetensors", model=model, tgt_tokenizer=tokenizer("tgt"))
    with pytest.raises(ValueError, match="target tokenizer has"):
        save_checkpoint(
            tmp_path / "b.safetensors",
            model=model,
            tgt_tokenizer=_other_size(),
            src_tokenizer=tokenizer("src"),
        )
    with pytest.raises(ValueError, match=r"use \.safetensors"):
        save_translation(tmp_path / "c.pt", model=model)
    with pytest.raises(ValueError, match="storage dtype"):
        save_translation(tmp_path / "d.safetensors", model=model, storage_dtype=torch.int8)
    with pytest.raises(ValueError, match="no ModelConfig"):
        save_checkpoint(
            tmp_path / "e.safetensors", model=torch.nn.Linear(2, 2), tgt_tokenizer=tokenizer("tgt")
        )
    assert not list(tmp_path.iterdir())


def _other_size():
    return TextTokenizer.train(["x y z"] * 3, vocab_size=12, num_threads=1)


def _sidecar(tmp_path, model, name, **overrides):
    (tmp_path / "spm").mkdir(exist_ok=True)
    (tmp_path / "spm" / "tgt.model").write_bytes(tokenizer("tgt").to_bytes())
    doc = {
        "model_config": model.config.to_dict(),
        "tgt_tokenizer": "spm/tgt.model",
        "src_tokenizer": "base64:" + base64.b64encode(tokenizer("src").to_bytes()).decode(),
        "training_info": {"source": "elsewhere"},
        **overrides,
    }
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_plain_state_dict_with_a_json_sidecar_loads(tmp_path):
    model = translation_model()
    torch.save(model.state_dict(), tmp_path / "model.pt")  # includes every alias name
    _sidecar(tmp_path, model, "model.json")
    loaded = load_checkpoint(tmp_path / "model.pt")
    _same_outputs(translation_outputs(model), translation_outputs(loaded.model))
    assert loaded.info == {"source": "elsewhere"}
    info = read_checkpoint_info(tmp_path / "model.pt")
    assert info["container"] == "pytorch"
    assert info["num_parameters"] == sum(p.numel() for p in model.parameters())


def test_lightning_style_ckpt_with_ddp_prefix_and_explicit_config(tmp_path):
    model = translation_model()
    state = {f"module.{k}": v.clone() for k, v in model.state_dict().items()}  # sharing lost
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "run.ckpt")
    config = _sidecar(tmp_path, model, "settings.json")
    loaded = load_checkpoint(tmp_path / "run.ckpt", config_path=config)
    _same_outputs(translation_outputs(model), translation_outputs(loaded.model))


def test_plain_state_dict_without_its_json_says_so(tmp_path):
    torch.save(translation_model().state_dict(), tmp_path / "lonely.pth")
    with pytest.raises(
        CheckpointError, match=r"lonely\.pth: .*needs its JSON config \(lonely\.json"
    ):
        load_checkpoint(tmp_path / "lonely.pth")


def test_sidecar_with_missing_tokenizer_file_names_it(tmp_path):
    model = translation_model()
    torch.save(model.state_dict(), tmp_path / "m.pt")
    _sidecar(tmp_path, model, "m.json", tgt_tokenizer="spm/nope.model")
    with pytest.raises(
        CheckpointError, match=r"m\.pt \(config .*m\.json\): 'tgt_tokenizer' file .*nope\.model"
    ):
        load_checkpoint(tmp_path / "m.pt")


def test_captioning_state_dict_sidecar_round_trip(tmp_path):
    model = captioning_model()
    torch.save(model.state_dict(), tmp_path / "cap.pt")
    doc = {
        "model_config": captioning_config().to_dict(),
        "tgt_tokenizer": "base64:" + base64.b64encode(tokenizer("tgt").to_bytes()).decode(),
    }
    (tmp_path / "cap.json").write_text(json.dumps(doc))
    loaded = load_checkpoint(tmp_path / "cap.pt")
    assert loaded.image_preprocess.size == (32, 32)
    _same_outputs(captioning_outputs(model), captioning_outputs(loaded.model))
