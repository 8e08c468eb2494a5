"""scripts/average_checkpoints.py: the element-wise mean of one run's checkpoints."""

from pathlib import Path

import pytest
import torch
from script_support import load_script

from attnscope.engine.checkpoint import load_checkpoint, save_checkpoint


@pytest.fixture(scope="module")
def averager():
    return load_script("average_checkpoints")


def _shifted_copy(source: Path, target: Path, shift: float, epoch: int) -> Path:
    checkpoint = load_checkpoint(source)
    with torch.no_grad():
        for parameter in checkpoint.model.parameters():
            parameter.add_(shift)
    return save_checkpoint(
        target,
        model=checkpoint.model,
        tgt_tokenizer=checkpoint.tgt_tokenizer,
        src_tokenizer=checkpoint.src_tokenizer,
        info={"epoch": epoch},
    )


def test_average_is_the_element_wise_mean(averager, tiny_translation_checkpoint, tmp_path, capsys):
    a = _shifted_copy(tiny_translation_checkpoint, tmp_path / "a.safetensors", 0.0, 1)
    b = _shifted_copy(tiny_translation_checkpoint, tmp_path / "b.safetensors", 0.5, 2)
    c = _shifted_copy(tiny_translation_checkpoint, tmp_path / "c.safetensors", 1.0, 3)
    out = tmp_path / "avg.safetensors"
    assert averager.main([str(a), str(b), str(c), "--out", str(out)]) == 0
    assert "mean of 3 checkpoints" in capsys.readouterr().out

    averaged = load_checkpoint(out)
    middle = load_checkpoint(b)
    for name, tensor in averaged.model.state_dict().items():
        torch.testing.assert_close(tensor, middle.model.state_dict()[name], atol=1e-6, rtol=0)
    assert averaged.info["epoch"] == 3
    assert [entry["epoch"] for entry in averaged.info["averaged_from"]] == [1, 2, 3]
    assert averaged.tgt_tokenizer.to_bytes() == middle.tgt_tokenizer.to_bytes()


def test_checkpoints_of_different_models_are_refused(
    averager, tiny_translation_checkpoint, tiny_multihead_checkpoint, tmp_path
):
    out = tmp_path / "avg.safetensors"
    with pytest.raises(ValueError, match="model config differs"):
        averager.main(
            [str(tiny_translation_checkpoint), str(tiny_multihead_checkpoint), "--out", str(out)]
        )
    assert not out.exists()


def test_one_checkpoint_is_not_an_average(averager, tiny_translation_checkpoint, tmp_path):
    with pytest.raises(SystemExit):
        averager.main([str(tiny_translation_checkpoint), "--out", str(tmp_path / "x")])
