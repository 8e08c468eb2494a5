"""int8 weights (engine/quantize.py): the products quantized, the fast step giving the
reference step's bits, the float32 model untouched, CPU only, and ``--int8`` on the
decoding commands."""

from types import SimpleNamespace

import pytest
import torch

from attnscope.engine.cli import main
from attnscope.engine.decoding import DecodeConfig, decode
from attnscope.engine.errors import DeviceError
from attnscope.engine.quantize import is_int8, quantize_int8, use_int8
from attnscope.models.config import AttentionConfig, DecoderConfig, ModelConfig, TextEncoderConfig
from attnscope.models.fast_step import fast_paths_on, use_fast_paths
from attnscope.models.registry import build_model


def tiny_model(cell: str, attention: str, *, tie_output: bool = False, **decoder):
    config = ModelConfig(
        src_vocab=40,
        tgt_vocab=40,
        embed_dim=16,
        text_encoder=TextEncoderConfig(hidden=16, cell=cell, dropout=0.0),
        attention=AttentionConfig(kind=attention, heads=2 if attention == "multihead" else 1),
        decoder=DecoderConfig(cell=cell, hidden=32, dropout=0.0, **decoder),
        tie_output=tie_output,
    )
    torch.manual_seed(0)
    return build_model(config).eval()


@pytest.mark.parametrize(("cell", "attention"), [("gru", "additive"), ("lstm", "multihead")])
def test_int8_decodes_close_to_float32(cell, attention):
    model = tiny_model(cell, attention)
    quantized = quantize_int8(model)
    assert is_int8(quantized) and not is_int8(model)  # a copy: the float model is untouched
    assert fast_paths_on(quantized) and fast_paths_on(model)
    src, lengths = torch.randint(4, 40, (3, 7)), torch.tensor([7, 5, 3])
    config = DecodeConfig(strategy="beam", beam_size=3, max_length=6, max_length_ratio=0.0)
    with torch.inference_mode():
        ours, theirs = (decode(m, m.encode(src, lengths), config) for m in (model, quantized))
        memory = quantized.encode(src, lengths)
        log_probs, _, attention_weights = quantized.step(
            torch.full((3,), 2), quantized.init_state(memory), memory
        )
        reference, _, _ = model.step(torch.full((3,), 2), model.init_state(memory), memory)
    assert len(theirs) == len(ours) == 3
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(3), atol=1e-5)
    assert (log_probs - reference).abs().max() < 0.1  # int8 rounding, not another model
    assert attention_weights is not None


FAST_STEP_CASES = [
    ("gru", "additive", {}),
    ("gru", "additive", {"layers": 2, "placement": "luong", "tie_output": True}),
    ("gru", "location_sensitive", {"input_feed": False}),
    ("gru", "none", {}),
    ("lstm", "general", {"combine_activation": "none"}),
    ("lstm", "multihead", {}),
]


@pytest.mark.parametrize(("cell", "attention", "options"), FAST_STEP_CASES)
def test_int8_fast_step_gives_the_reference_steps_bits(cell, attention, options):
    """The fast step calls the int8 products' own ops: every step, padded batch and
    batch 1 alike, equals the reference step of the same int8 model bit for bit."""
    quantized = quantize_int8(tiny_model(cell, attention, **options))
    src, lengths = torch.randint(4, 40, (3, 7)), torch.tensor([7, 5, 3])
    config = DecodeConfig(strategy="beam", beam_size=3, max_length=6, max_length_ratio=0.0)
    runs = []
    for fast in (True, False):
        use_fast_paths(quantized, fast)
        with torch.inference_mode():
            memory = quantized.encode(src, lengths)
            state, tokens, steps = quantized.init_state(memory), torch.full((3,), 2), []
            for _ in range(4):
                log_probs, state, weights = quantized.step(tokens, state, memory)
                tokens = log_probs.argmax(-1)
                steps.append((log_probs, state.hidden, weights))
            beams = decode(quantized, quantized.encode(src[:1], lengths[:1]), config)
        runs.append((steps, beams[0].hypotheses))
    (fast_steps, fast_beams), (reference_steps, reference_beams) = runs
    for fast_step, reference_step in zip(fast_steps, reference_steps, strict=True):
        for ours, theirs in zip(fast_step, reference_step, strict=True):
            assert (ours is None and theirs is None) or torch.equal(ours, theirs)
    assert [h.tokens for h in fast_beams] == [h.tokens for h in reference_beams]
    assert [h.score for h in fast_beams] == [h.score for h in reference_beams]


def test_int8_is_cpu_only():
    on_gpu = SimpleNamespace(device=torch.device("cuda"), model=None)
    with pytest.raises(DeviceError, match="CPU only"):
        use_int8(on_gpu)


def test_the_apps_switch_quantizes_a_copy_and_switches_back(tiny_translation_checkpoint):
    from attnscope.engine.inference import load_inference_model
    from attnscope.engine.quantize import switch_int8

    model = load_inference_model(tiny_translation_checkpoint, device="cpu")
    float_network = model.model
    switch_int8(model, True)
    assert is_int8(model.model) and not is_int8(float_network)
    assert model.translate(["ein mann ."], DecodeConfig(max_length=5))[0].pieces
    switch_int8(model, False)
    assert model.model is float_network


def test_translate_int8_option(tiny_translation_checkpoint, tmp_path, capsys):
    source = tmp_path / "in.txt"
    source.write_text("ein mann .\n\nzwei hunde spielen .\n", encoding="utf-8")
    args = ["translate", "-c", str(tiny_translation_checkpoint), "-i", str(source), "--int8"]
    assert main([*args, "--max-length", "6"]) == 0
    lines = capsys.readouterr().out.split("\n")
    assert len(lines) == 4 and lines[0] and lines[1] == "" and lines[2]
