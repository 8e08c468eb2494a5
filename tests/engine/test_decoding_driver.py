"""The decode loop: results as plain data, batching, cancelling, forcing, a real tiny model."""

import threading

import numpy as np
import pytest
import torch

from attnscope.engine.decoding.config import EOS_ID, DecodeConfig
from attnscope.engine.decoding.driver import decode, decode_steps
from attnscope.engine.decoding.results import DecodeResult, StepResult
from attnscope.engine.decoding.scripted import ScriptedModel, peaked, scripted_memory
from attnscope.engine.errors import DecodeCancelled
from attnscope.models.config import (
    AttentionConfig,
    DecoderConfig,
    ImageEncoderConfig,
    ModelConfig,
    TextEncoderConfig,
)
from attnscope.models.registry import build_model

V = 12


def wandering(b, prefix):
    """Input-dependent, history-dependent distribution; ends after a few tokens."""
    weights = {4 + (b + len(prefix)) % 6: 0.4, 4 + (b * 3 + sum(prefix)) % 7: 0.3}
    weights[EOS_ID] = 0.05 * len(prefix)
    return peaked(V, weights)


def tiny_translation_model(attention="additive"):
    config = ModelConfig(
        src_vocab=20,
        tgt_vocab=16,
        embed_dim=8,
        text_encoder=TextEncoderConfig(hidden=8, dropout=0.0),
        attention=AttentionConfig(kind=attention, heads=2 if attention == "multihead" else 1),
        decoder=DecoderConfig(hidden=16, dropout=0.0),
    )
    return build_model(config).eval()


def encode(model, lengths):
    src = torch.randint(4, 20, (len(lengths), max(lengths)))
    for row, n in enumerate(lengths):
        src[row, n:] = 0
    with torch.no_grad():
        return model.encode(src, torch.tensor(lengths))


def assert_plain(value):
    """Recursively: only numpy arrays, numbers, strings, tuples, None, frozen results."""
    assert not isinstance(value, torch.Tensor)
    if isinstance(value, StepResult | DecodeResult) or hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            assert_plain(getattr(value, name))
    elif isinstance(value, tuple | list):
        for item in value:
            assert_plain(item)
    else:
        assert value is None or isinstance(
            value, np.ndarray | int | float | str | bool | np.generic
        )


@pytest.mark.parametrize("strategy", ["greedy", "beam", "sampling"])
def test_results_are_plain_cpu_data(strategy):
    config = DecodeConfig(strategy=strategy, beam_size=3, n_best=2, seed=1)
    model = ScriptedModel(V, wandering, num_heads=2)
    steps = decode_steps(model, scripted_memory([3, 5]), config)
    collected = []
    with pytest.raises(StopIteration) as stop:
        while True:
            collected.append(next(steps))
    assert collected and all(isinstance(s, StepResult) for s in collected)
    for step in collected:
        assert_plain(step)
        assert step.attention.dtype == np.float32 and step.topk_probs.dtype == np.float32
        assert step.attention.shape[1:] == (2, 3 if step.batch_index == 0 else 5)
        assert not step.tokens.flags.writeable and not step.attention.flags.writeable
    for result in stop.value.value:
        assert_plain(result)


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_batch_equals_one_by_one_scripted(strategy):
    config = DecodeConfig(strategy=strategy, beam_size=3, n_best=3)
    lengths = [3, 6, 2, 4]
    batch = decode(ScriptedModel(V, wandering), scripted_memory(lengths), config)
    for b, length in enumerate(lengths):
        # the scripted model reads the input index from the memory values
        memory = scripted_memory(lengths).index_select(torch.tensor([b]))
        (alone,) = decode(ScriptedModel(V, wandering), memory, config)
        assert [h.tokens for h in batch[b].hypotheses] == [h.tokens for h in alone.hypotheses]
        np.testing.assert_allclose(batch[b].best.attention, alone.best.attention)
        assert batch[b].best.attention.shape[2] == length


def test_greedy_equals_beam_of_one_scripted():
    memory = scripted_memory([3, 5])
    greedy = decode(ScriptedModel(V, wandering), memory, DecodeConfig())
    beam = decode(ScriptedModel(V, wandering), memory, DecodeConfig(strategy="beam", beam_size=1))
    for g, b in zip(greedy, beam, strict=True):
        assert g.tokens == b.tokens
        assert g.best.score == pytest.approx(b.best.score)
        np.testing.assert_array_equal(g.best.attention, b.best.attention)


@pytest.mark.parametrize("attention", ["additive", "multihead"])
def test_real_tiny_model_greedy_equals_beam_of_one(attention):
    model = tiny_translation_model(attention)
    memory = encode(model, [5, 3])
    config = DecodeConfig(max_length=10)
    greedy = decode(model, memory, config)
    beam = decode(model, memory, DecodeConfig(strategy="beam", beam_size=1, max_length=10))
    for g, b in zip(greedy, beam, strict=True):
        assert g.tokens == b.tokens and len(g.tokens) >= 1
        np.testing.assert_allclose(g.best.attention, b.best.attention, atol=1e-6)
        assert g.best.attention.shape[1] == model.num_heads


def test_real_tiny_model_batch_equals_one_by_one():
    model = tiny_translation_model()
    lengths = [6, 2, 4]
    memory = encode(model, lengths)
    for strategy in ("greedy", "beam"):
        config = DecodeConfig(strategy=strategy, beam_size=3, n_best=2, max_length=8)
        batch = decode(model, memory, config)
        for b in range(len(lengths)):
            (alone,) = decode(model, memory.index_select(torch.tensor([b])), config)
            assert [h.tokens for h in batch[b].hypotheses] == [h.tokens for h in alone.hypotheses]
            assert batch[b].best.score == pytest.approx(alone.best.score, abs=1e-4)
            np.testing.assert_allclose(batch[b].best.attention, alone.best.attention, atol=1e-5)


def test_cancel_between_steps():
    cancel = threading.Event()
    steps = decode_steps(
        ScriptedModel(V, wandering), scripted_memory([4]), DecodeConfig(), cancel=cancel
    )
    first = next(steps)
    assert first.step == 0
    cancel.set()
    with pytest.raises(DecodeCancelled, match="step 1"):
        next(steps)


def test_cancel_callable_before_the_first_step():
    with pytest.raises(DecodeCancelled):
        decode(
            ScriptedModel(V, wandering), scripted_memory([4]), DecodeConfig(), cancel=lambda: True
        )


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_forced_prefix_and_ban_eos_until(strategy):
    config = DecodeConfig(strategy=strategy, beam_size=2)
    eos_first = ScriptedModel(V, lambda b, p: peaked(V, {EOS_ID: 0.9, 9: 0.05}))
    (result,) = decode(
        eos_first, scripted_memory([4]), config, forced_prefix=[7, 8], ban_eos_until=4
    )
    assert result.tokens[:2] == (7, 8)
    assert result.tokens.index(EOS_ID) == 4
    assert [s.forced for s in result.steps[:3]] == [True, True, False]


def test_captioning_model_attends_over_grid_cells():
    config = ModelConfig(
        task="captioning",
        tgt_vocab=16,
        embed_dim=8,
        image_encoder=ImageEncoderConfig(grid=(2, 3), projection=8, image_size=(32, 32)),
        decoder=DecoderConfig(hidden=16, dropout=0.0),
    )
    model = build_model(config).eval()
    with torch.no_grad():
        memory = model.encode(torch.randn(2, 3, 32, 32))
    for strategy in ("greedy", "beam"):
        results = decode(model, memory, DecodeConfig(strategy=strategy, beam_size=2, max_length=6))
        for result in results:
            assert result.best.attention.shape == (len(result.tokens), 1, 6)
            np.testing.assert_allclose(result.best.attention.sum(axis=2), 1.0, rtol=1e-5)


def test_alternatives_can_be_switched_off():
    config = DecodeConfig(topk_alternatives=0, max_length=3)
    (result,) = decode(ScriptedModel(V, wandering), scripted_memory([4]), config)
    assert result.steps[0].topk_ids.shape == (1, 0)
    assert result.steps[0].topk_probs.shape == (1, 0)


def test_impossible_forced_token_ends_with_an_empty_hypothesis():
    never = ScriptedModel(V, lambda b, p: peaked(V, {4: 1.0}, floor=0.0))
    config = DecodeConfig(strategy="beam", beam_size=2)
    (result,) = decode(never, scripted_memory([3]), config, forced_prefix=[5])
    assert result.tokens == () and result.steps == ()
