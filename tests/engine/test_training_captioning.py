"""Captioning training on a few generated images: cache, fine-tuning, trunk weights, checkpoint."""

import pytest
import torch
from safetensors.torch import save_file
from training_support import write_caption_dataset

from attnscope.engine.checkpoint import load_checkpoint
from attnscope.engine.training.config import TrainConfig, merge_settings
from attnscope.engine.training.run import train
from attnscope.engine.training.tasks import encode_from_features
from attnscope.models.encoders import build_trunk
from attnscope.models.registry import build_model


def _config(tmp_path, **overrides) -> TrainConfig:
    settings = {
        "data": {"task": "captioning", **write_caption_dataset(tmp_path / "data"), "batch_size": 8},
        "vocab": {"size": 24, "model_type": "bpe"},
        "model": {
            "embed_dim": 16,
            "decoder": {"hidden": 32, "dropout": 0.0},
            "image_encoder": {"image_size": [64, 64], "grid": [2, 2], "dropout": 0.0},
        },
        "optim": {"lr": 0.005},
        "run": {
            "out_dir": str(tmp_path / "run"),
            "epochs": 1,
            "device": "cpu",
            "num_threads": 1,
            "progress_seconds": 3600,
        },
    }
    return TrainConfig.from_dict(merge_settings(settings, overrides))


def test_captioning_run_caches_features_and_saves_a_loadable_checkpoint(tmp_path):
    cached = []
    result = train(
        _config(tmp_path, data={"max_val_examples": 100}),  # more than the 3 dev images
        callbacks=[("on_epoch_end", lambda t, r: cached.append(t.task.train.features is not None))],
    )
    assert result.status == "finished" and cached == [True]
    record = result.history[0]
    assert {"val_loss", "bleu1", "bleu4", "cider"} <= set(record)
    assert record["cider"] >= 0.0
    checkpoint = load_checkpoint(result.best_checkpoint)
    assert checkpoint.task == "captioning"
    assert checkpoint.image_preprocess.size == (64, 64)
    assert checkpoint.info["metrics"]["cider"] == record["cider"]
    choice = checkpoint.info["decoding_choice"]  # the grid ran on the dev images, CIDEr-D
    assert choice["metric"] == "cider" and choice["data"].endswith("3 images")
    assert checkpoint.info["recommended_decoding"]["max_length"] == choice["fixed"]["max_length"]
    assert choice["grid"][0]["score"] == pytest.approx(record["cider"], abs=1e-4)  # greedy


def test_features_path_equals_the_full_encoder():
    config = _config_model()
    model = build_model(config).eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        direct = model.encode(images)
        cached = encode_from_features(model, model.encoder.trunk(images))
    assert torch.allclose(direct.values, cached.values, atol=1e-6)
    assert torch.allclose(direct.final, cached.final, atol=1e-6)
    assert direct.grid == cached.grid


def _config_model():
    from attnscope.models.config import ImageEncoderConfig, ModelConfig

    return ModelConfig(
        task="captioning",
        tgt_vocab=20,
        embed_dim=8,
        image_encoder=ImageEncoderConfig(image_size=(64, 64), grid=(2, 2), projection=16),
    )


def test_trunk_unfreezes_after_n_epochs_keeping_batchnorm_statistics(tmp_path):
    snapshots = []

    def snapshot(trainer, record):
        trunk = trainer.model.encoder.trunk.state_dict()
        snapshots.append({k: v.clone() for k, v in trunk.items()})

    config = _config(tmp_path, run={"epochs": 2, "fine_tune_after": 1, "val_decode": False})
    train(config, callbacks=[("on_epoch_end", snapshot)])
    first, second = snapshots
    assert any(not torch.equal(first[k], second[k]) for k in first if k.endswith("weight"))
    running = [k for k in first if k.endswith(("running_mean", "running_var"))]
    assert running and all(torch.equal(first[k], second[k]) for k in running)


def test_trunk_starts_from_a_local_weights_file(tmp_path):
    torch.manual_seed(42)
    trunk = build_trunk("resnet18")
    weights = tmp_path / "trunk.safetensors"
    save_file({k: v.contiguous() for k, v in trunk.state_dict().items()}, weights)
    config = _config(tmp_path, run={"trunk_weights": str(weights), "val_decode": False})
    result = train(config)
    loaded = load_checkpoint(result.last_checkpoint).model.encoder.trunk.state_dict()
    for name, value in trunk.state_dict().items():
        assert torch.equal(loaded[name], value), name  # frozen: unchanged by training


def test_small_cnn_trains_from_scratch_with_learned_batchnorm_statistics(tmp_path):
    image_encoder = {"backbone": "small_cnn", "grid": [8, 8], "positions": True}
    run = {
        "fine_tune_after": 0,
        "trunk_lr_scale": 1.0,
        "update_trunk_statistics": True,
        "cache_features": False,
        "val_decode": False,
    }
    config = _config(tmp_path, model={"image_encoder": image_encoder}, run=run)
    initial = build_model(config.model_config(src_vocab=0, tgt_vocab=24)).encoder
    cached = []
    result = train(
        config,
        callbacks=[("on_epoch_end", lambda t, r: cached.append(t.task.train.features is not None))],
    )
    assert result.status == "finished" and cached == [False]
    loaded = load_checkpoint(result.last_checkpoint).model.encoder
    trained, start = loaded.trunk.state_dict(), initial.trunk.state_dict()
    running = [k for k in trained if k.endswith("running_mean")]
    assert running and all(not torch.equal(trained[k], start[k]) for k in running)
    assert loaded.positions.shape == (64, initial.output_size)
