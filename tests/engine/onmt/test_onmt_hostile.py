"""Hostile or foreign `.pt` files given to import-onmt: each refused with one message, and
no code in them ever runs. Every file is made here, tiny."""

from __future__ import annotations

import argparse
import pickle
import sys
import types

import pytest
import torch

from attnscope.engine.errors import CheckpointError
from attnscope.engine.onmt.convert import import_onmt
from attnscope.engine.onmt.detect import looks_like_onmt_checkpoint

from .onmt_fixtures import FIXTURES, checkpoint_dict


class _Payload:
    """Unpickling this creates ``marker`` (a stand-in for arbitrary code)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _onmt_like(**changes) -> dict:
    return checkpoint_dict("gru_mlp_tied", **changes)


def _refused(path, pattern):
    with pytest.raises(CheckpointError, match=pattern) as info:
        import_onmt(path)
    assert str(path) in str(info.value)
    return info.value


def test_the_payload_is_live_when_unpickled_unsafely(tmp_path):
    marker = tmp_path / "proof"
    pickle.loads(pickle.dumps(_Payload(marker))).close()
    assert marker.exists()  # so the tests below really would notice execution


@pytest.mark.parametrize("where", ["opt", "vocab", "model"])
def test_a_payload_never_runs_and_its_global_is_named(tmp_path, where):
    marker = tmp_path / "pwned"
    path = tmp_path / "payload.pt"
    torch.save(_onmt_like(**{where: _Payload(marker)}), path)
    _refused(path, r"its pickle needs io\.open")
    assert not marker.exists()
    assert not marker.exists()


def test_a_payload_inside_the_allowed_namespace_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "namespace-payload.pt"
    torch.save(_onmt_like(opt=argparse.Namespace(rnn_type=_Payload(marker))), path)
    _refused(path, r"io\.open")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        ({"vocab": argparse.Namespace(src=["a"])}, r"argparse\.Namespace at /vocab"),
        ({"model": {"w": argparse.Namespace()}}, r"argparse\.Namespace at /model/w"),
        ({"opt": {"rnn_type": "LSTM"}}, r"'opt' must be the training options, got dict"),
        ({"opt": argparse.Namespace(rnn_type=torch.zeros(2))}, r"option 'rnn_type' holds Tensor"),
        ({"extra": 1}, r"entries OpenNMT-py does not write: extra"),
    ],
)
def test_allowed_globals_in_unexpected_places_are_refused(tmp_path, changes, pattern):
    path = tmp_path / "misplaced.pt"
    torch.save(_onmt_like(**changes), path)
    _refused(path, pattern)


def test_a_huge_storage_declared_by_a_broadcast_view_is_refused(tmp_path):
    path = tmp_path / "giant.pt"
    data = _onmt_like()
    data["model"]["decoder.attn.v.weight"] = torch.zeros(1).expand(100_000, 100_000)
    torch.save(data, path)
    _refused(path, r"strides \[0, 0\]: a broadcast view that would expand")


def test_a_plain_state_dict_is_not_an_opennmt_checkpoint(tmp_path):
    path = tmp_path / "state.pt"
    torch.save({"encoder.weight": torch.zeros(2, 2)}, path)
    _refused(path, r"is not an OpenNMT-py checkpoint: it needs 'opt' and 'vocab'")
    assert not looks_like_onmt_checkpoint(path)


def test_a_fairseq_like_checkpoint_is_named_as_not_opennmt(tmp_path):
    path = tmp_path / "fairseq.pt"
    args = argparse.Namespace(arch="lstm", encoder_layers=1)
    torch.save({"args": args, "model": {"w": torch.zeros(1)}, "extra_state": {}}, path)
    _refused(path, r"is not an OpenNMT-py checkpoint: it needs 'opt' and 'vocab'")


def test_an_opennmt_v2_vocabulary_is_refused_saying_why(tmp_path, monkeypatch):
    """v2 pickled torchtext Field objects as its vocabulary: only their code can build them."""
    module = types.ModuleType("torchtext.data.field")

    class Field:
        pass

    Field.__module__, Field.__qualname__ = module.__name__, "Field"
    module.Field = Field
    monkeypatch.setitem(sys.modules, "torchtext", types.ModuleType("torchtext"))
    monkeypatch.setitem(sys.modules, "torchtext.data", types.ModuleType("torchtext.data"))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    path = tmp_path / "v2.pt"
    torch.save(_onmt_like(vocab={"src": Field(), "tgt": Field()}), path)
    monkeypatch.delitem(sys.modules, module.__name__)  # as on a machine without torchtext
    error = _refused(path, r"OpenNMT-py 2\.x checkpoint .* torchtext\.data\.field\.Field")
    assert "3.x" in str(error)


def test_a_raw_pickle_is_never_handed_to_torch(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "raw.pt"
    path.write_bytes(pickle.dumps({"opt": _Payload(marker)}))
    _refused(path, "raw Python pickle")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("option", "value", "part"),
    [
        ("coverage_attn", True, "coverage attention"),
        ("copy_attn", True, "copy attention"),
        ("context_gate", "both", "a context gate"),
        ("encoder_type", "transformer", "a Transformer encoder"),
        ("decoder_type", "transformer", "a Transformer decoder"),
        ("encoder_type", "cnn", "a CNN encoder or decoder"),
        ("global_attention", "none", "global attention 'none'"),
        ("rnn_type", "SRU", "rnn_type 'SRU'"),
    ],
)
def test_parts_that_cannot_be_mapped_are_named(tmp_path, option, value, part):
    data = _onmt_like()
    setattr(data["opt"], option, value)
    path = tmp_path / "unsupported.pt"
    torch.save(data, path)
    _refused(path, f"uses {part}")


def test_weights_that_do_not_fit_the_options_are_named(tmp_path):
    data = _onmt_like()
    del data["model"]["decoder.attn.v.weight"]
    path = tmp_path / "missing.pt"
    torch.save(data, path)
    _refused(path, r"lack decoder\.attn\.v\.weight")


def test_a_missing_safetensors_weights_file_is_named(tmp_path):
    path = tmp_path / "split.pt"
    torch.save(_onmt_like(model=None, generator=None), path)
    _refused(path, r"split\.safetensors beside it .* which is missing")


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"hidden_size": 16_384, "word_vec_size": 16_384}, "the config implies at least"),
        ({"layers": 100_000}, r"layers must be an integer in 1\.\.32"),
        ({"word_vec_size": "24"}, "word_vec_size = '24', not an integer"),
    ],
)
def test_options_declaring_a_model_the_weights_do_not_hold_are_refused(tmp_path, options, pattern):
    """The options are untrusted: sizes are checked against the stored weights (and the
    project's bounds) before any module is built."""
    data = _onmt_like()
    for option, value in options.items():
        setattr(data["opt"], option, value)
    path = tmp_path / "sizes.pt"
    torch.save(data, path)
    _refused(path, pattern)


def test_only_a_torch_zip_naming_the_options_class_looks_like_opennmt(tmp_path):
    assert looks_like_onmt_checkpoint(FIXTURES / "lstm_brnn_general" / "model.pt")
    other = tmp_path / "other.pt"
    torch.save({"w": torch.zeros(1)}, other)
    assert not looks_like_onmt_checkpoint(other)
    assert not looks_like_onmt_checkpoint(tmp_path / "missing.pt")


def test_a_truncated_safetensors_weights_file_is_refused(tmp_path):
    """The safetensors variant's weights file is checked like any safetensors file."""
    fixture = FIXTURES / "gru_general_st"
    (tmp_path / "model.pt").write_bytes((fixture / "model.pt").read_bytes())
    weights = (fixture / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(weights[: len(weights) - 100])
    with pytest.raises(CheckpointError, match=r"model\.safetensors: .*truncated or corrupt"):
        import_onmt(tmp_path / "model.pt")
