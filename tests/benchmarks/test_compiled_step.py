"""benchmarks/compiled_step.py: the C++ step it times is the model's own step, bit for bit.

The build needs a C++ compiler and ninja (CI has both); without them the
comparison is skipped and the refusal of other decoders is still checked.
"""

from __future__ import annotations

import shutil

import pytest
import torch

from attnscope.models.config import AttentionConfig, DecoderConfig, ModelConfig, TextEncoderConfig
from attnscope.models.registry import build_model
from benchmarks import compiled_step, workloads


def _model(**decoder) -> torch.nn.Module:
    config = ModelConfig(
        src_vocab=40,
        tgt_vocab=50,
        embed_dim=16,
        text_encoder=TextEncoderConfig(hidden=16, dropout=0.0),
        attention=AttentionConfig(kind="additive"),
        decoder=DecoderConfig(hidden=24, dropout=0.0, **decoder),
    )
    return build_model(config).eval()


def _memory(model: torch.nn.Module):
    source = workloads.random_sources(1, model.config.src_vocab, lengths=(7, 7), seed=1)
    with torch.inference_mode():
        return model.encode(*workloads.pad_batch(source))


@pytest.mark.skipif(
    shutil.which("c++") is None or shutil.which("ninja") is None,
    reason="building the compiled step needs a C++ compiler and ninja",
)
@pytest.mark.parametrize(
    "decoder",
    [{"layers": 1, "input_feed": False}, {"layers": 2, "input_feed": True}],
    ids=["1-layer", "2-layer-input-feed"],
)
def test_compiled_step_gives_the_models_bits(decoder):
    model = _model(**decoder)
    compiled = compiled_step.CompiledStep(model, compiled_step.build_extension())
    assert compiled_step.identical_steps(model, compiled, _memory(model), steps=6)
    with torch.inference_mode():  # the session runs on it like on the model
        from attnscope.engine.decoding import DecodeConfig
        from attnscope.engine.session import DecodeSession

        config = DecodeConfig(strategy="greedy", max_length=5, min_length=5, max_length_ratio=0)
        memory = _memory(model)
        expected = DecodeSession(model, memory, config).run()
        got = DecodeSession(compiled, memory, config).run()
    assert [s.tokens.tolist() for s in got] == [s.tokens.tolist() for s in expected]


@pytest.mark.parametrize("decoder", [{"cell": "lstm"}, {"placement": "luong"}])
def test_other_decoders_are_refused(decoder):
    with pytest.raises(ValueError, match="GRU decoders with additive attention"):
        compiled_step.CompiledStep(_model(**decoder), extension=None)


def test_bookkeeping_times_a_full_session_around_a_canned_answer(monkeypatch):
    model = _model()
    steps = []
    monkeypatch.setattr(
        compiled_step._CannedModel, "step", _counting(compiled_step._CannedModel.step, steps)
    )
    cost = compiled_step.bookkeeping_us(model, _memory(model), steps=3, rounds=2)
    assert set(cost) == {"warm", "cold"} and all(value > 0 for value in cost.values())
    assert len(steps) == 2 * 2 * 3  # rounds x (warm, cold) x steps, every one a session step


def _counting(step, calls):
    def counted(self, *args):
        calls.append(1)
        return step(self, *args)

    return counted
