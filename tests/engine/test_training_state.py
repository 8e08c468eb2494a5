"""Label-smoothed loss and the weights_only training-state file."""

import math

import pytest
import torch

from attnscope.engine.errors import CheckpointError
from attnscope.engine.training.loss import pad_sequences, sequence_loss
from attnscope.engine.training.state import check_plain, load_state, save_state


def test_sequence_loss_ignores_padding_and_smooths():
    log_probs = torch.log_softmax(torch.randn(2, 3, 5), dim=-1)  # (B, T, V)
    target = torch.tensor([[4, 2, 0], [1, 0, 0]])  # 0 = pad
    plain = sequence_loss(log_probs, target)
    expected = -(log_probs[0, 0, 4] + log_probs[0, 1, 2] + log_probs[1, 0, 1])
    assert plain.tokens == 3
    assert torch.allclose(plain.nll, expected) and torch.allclose(plain.loss, expected)
    smoothed = sequence_loss(log_probs, target, label_smoothing=0.2)
    uniform = -(log_probs[0, 0].mean() + log_probs[0, 1].mean() + log_probs[1, 0].mean())
    assert torch.allclose(smoothed.loss, 0.8 * expected + 0.2 * uniform)
    assert torch.allclose(smoothed.nll, expected)


def test_pad_sequences_adds_bos_eos_and_pads():
    out = pad_sequences([[5, 6], [7]], prefix=2, suffix=3)
    assert out.tolist() == [[2, 5, 6, 3], [2, 7, 3, 0]]
    assert pad_sequences([[]]).shape == (1, 1)


def test_state_round_trip_keeps_tensors_and_plain_values(tmp_path):
    state = {
        "model": {"w": torch.arange(3.0)},
        "progress": {"epoch": 1, "best": None},
        "history": "[]",
        "betas": (0.9, 0.99),
        "rng": torch.get_rng_state(),
    }
    path = save_state(tmp_path / "train_state.pt", state)
    loaded = load_state(path)
    assert torch.equal(loaded["model"]["w"], state["model"]["w"])
    assert loaded["progress"] == {"epoch": 1, "best": None}
    assert tuple(loaded["betas"]) == (0.9, 0.99)
    assert not (tmp_path / "train_state.pt.tmp").exists()


def test_objects_that_would_need_unpickling_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"state\.bad is a \w*Path"):
        check_plain({"bad": tmp_path})
    with pytest.raises(TypeError, match="nan"):
        check_plain({"ok": [1, 2.5, "x"], "n": {math.nan: 1}})


def test_foreign_or_missing_files_are_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="nothing to resume"):
        load_state(tmp_path / "missing.pt")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(1)}, other)
    with pytest.raises(CheckpointError, match="not an AttnScope training state"):
        load_state(other)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a zip file")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_state(garbage)
