"""Tiny VisionEncoderDecoder (ViT, DeiT, Swin encoders; GPT-2, BERT, TrOCR decoders) and BLIP
folders decoded by AttnScope's own loop equal Hugging Face's generate(), with the
cross-attention over the patch grid and the [CLS]/distillation share left out."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from attnscope.engine.decoding.config import DecodeConfig
from attnscope.engine.decoding.driver import decode
from attnscope.engine.hf.folder import HfFolderError, read_hf_folder
from attnscope.engine.hf.loading import load_hf_folder
from attnscope.engine.hf.vision import VisionStepModel, load_image_processor, prefix_share
from attnscope.engine.session import DecodeSession

from .tiny_captioners import pictures, save_blip, save_vision_encoder_decoder
from .tiny_models import edited_copy

MAX_NEW = 8
# (encoder, decoder, seed): seeds whose captions differ between pictures, some ending
# on eos and some at the length limit
CAPTIONERS = {
    "vit-gpt2": ("vit", "gpt2", 3),
    "vit-bert": ("vit", "bert", 2),
    "deit-trocr": ("deit", "trocr", 1),
    "swin-bert": ("swin", "bert", 2),
    "blip": ("blip", None, 1),
}
PREFIX = {"vit": 1, "deit": 2, "swin": 0, "blip": 1}


@pytest.fixture(scope="module", params=list(CAPTIONERS))
def captioner(request, tmp_path_factory):
    """(name, loaded folder, pixel values (4, 3, 32, 32)) of each tiny captioner."""
    encoder, decoder, seed = CAPTIONERS[request.param]
    folder = tmp_path_factory.mktemp(request.param)
    if encoder == "blip":
        save_blip(folder, seed=seed)
    else:
        save_vision_encoder_decoder(folder, encoder, decoder, seed=seed)
    loaded = load_hf_folder(folder)
    processor = load_image_processor(loaded.folder)
    pixels = processor(images=pictures(4), return_tensors="pt").pixel_values
    return request.param, loaded, pixels


def _config(**settings) -> DecodeConfig:
    return DecodeConfig(
        **{"max_length": MAX_NEW, "max_length_ratio": 0, "topk_alternatives": 0} | settings
    )


def _eos(loaded) -> int:
    return loaded.vocab.to_hf[3].item()


def _generate(loaded, pixels, **settings):
    return loaded.model.generate(
        pixel_values=pixels,
        do_sample=False,
        max_new_tokens=MAX_NEW,
        output_attentions=True,
        return_dict_in_generate=True,
        **settings,
    )


def _cut(tokens: list[int], eos: int) -> list[int]:
    return tokens[: tokens.index(eos) + 1] if eos in tokens else tokens


def _teacher_forced_cross_attention(loaded, pixels, sequences) -> torch.Tensor:
    """(N, layers, heads, T, prefix + h·w) of the decoder reading ``sequences`` whole."""
    step_model = loaded.step_model
    memory = step_model.encode(pixels)
    with torch.no_grad():
        out = step_model.decoder(
            input_ids=sequences, encoder_hidden_states=memory.hidden, output_attentions=True
        )
    return torch.stack(out.cross_attentions, dim=1)


def test_greedy_tokens_and_grid_attention_equal_generate(captioner):
    name, loaded, pixels = captioner
    memory = loaded.step_model.encode(pixels)
    results = decode(loaded.step_model, memory, _config(strategy="greedy"))
    out = _generate(loaded, pixels, num_beams=1)
    start = len(loaded.step_model.start_ids)
    theirs = [_cut(row[start:].tolist(), _eos(loaded)) for row in out.sequences]
    ours = [loaded.vocab.model_ids(r.best.tokens) for r in results]
    assert ours == theirs
    assert len({tuple(t) for t in theirs}) > 1, "the pictures should get different captions"
    # generate() gives a VisionEncoderDecoder's cross-attention; BLIP's decoder is a causal
    # LM there, so its cross-attention comes from reading generate()'s output whole
    full = _teacher_forced_cross_attention(loaded, pixels, out.sequences)
    prefix = PREFIX[CAPTIONERS[name][0]]
    for row, result in enumerate(results):
        attention = result.best.attention  # (T, layers · heads, h·w)
        steps = attention.shape[0]
        assert attention.shape[1:] == (loaded.step_model.num_heads, 16)
        expected = full[row, :, :, start - 1 : start - 1 + steps].permute(2, 0, 1, 3).numpy()
        if name != "blip":
            stepped = np.stack(
                [
                    torch.stack([a[row, :, -1] for a in step]).numpy()
                    for step in out.cross_attentions
                ]
            )[:steps]  # (T, layers, heads, prefix + h·w)
            np.testing.assert_allclose(stepped, expected, atol=1e-5)
        split = loaded.step_model.split_layers(attention)
        np.testing.assert_allclose(split, expected[..., prefix:], atol=1e-5)
        # the weight left out is the prefix tokens', exactly
        np.testing.assert_allclose(
            prefix_share(split), expected[..., :prefix].sum(axis=-1), atol=1e-5
        )


def test_the_patch_grid_and_its_prefix_tokens(captioner):
    """ViT and BLIP: [CLS] then a 4 × 4 grid; DeiT: [CLS], distillation, grid; Swin: the
    last stage's 4 × 4 grid alone, so its rows keep summing to 1."""
    name, loaded, pixels = captioner
    memory = loaded.step_model.encode(pixels)
    assert memory.grid == (4, 4)
    assert memory.prefix == PREFIX[CAPTIONERS[name][0]]
    assert memory.hidden.shape[1] == memory.prefix + 16
    # the decoder's width: the tiny ViT's 24-wide output went through enc_to_dec_proj
    assert memory.hidden.shape[2] == 16
    assert memory.mask.shape == (4, 16) and bool(memory.mask.all())
    result = decode(loaded.step_model, memory, _config(strategy="greedy"))[0]
    sums = result.best.attention.sum(axis=-1)  # (T, layers · heads)
    if memory.prefix == 0:
        np.testing.assert_allclose(sums, 1.0, atol=1e-5)
    else:
        assert (sums < 1.0).all() and (sums > 0.0).all()


def test_beam_tokens_and_attention_equal_generate(captioner):
    """Beam 3 with the average length penalty (generate()'s length_penalty 1.0)."""
    name, loaded, pixels = captioner
    memory = loaded.step_model.encode(pixels)
    config = _config(strategy="beam", beam_size=3, length_penalty="average")
    results = decode(loaded.step_model, memory, config)
    out = _generate(loaded, pixels, num_beams=3, early_stopping=True, length_penalty=1.0)
    start = len(loaded.step_model.start_ids)
    theirs = [_cut(row[start:].tolist(), _eos(loaded)) for row in out.sequences]
    assert [loaded.vocab.model_ids(r.best.tokens) for r in results] == theirs
    full = _teacher_forced_cross_attention(loaded, pixels, out.sequences)
    prefix = PREFIX[CAPTIONERS[name][0]]
    for row, result in enumerate(results):
        split = loaded.step_model.split_layers(result.best.attention)
        steps = split.shape[0]
        expected = full[row, :, :, start - 1 : start - 1 + steps].permute(2, 0, 1, 3).numpy()
        np.testing.assert_allclose(split, expected[..., prefix:], atol=1e-5)
        if name != "blip":  # generate()'s own per-step attention, through its beam indices
            beams = out.beam_indices[row, :steps].tolist()
            stepped = np.stack(
                [
                    torch.stack([a[beam, :, -1] for a in out.cross_attentions[t]]).numpy()
                    for t, beam in enumerate(beams)
                ]
            )
            np.testing.assert_allclose(split, stepped[..., prefix:], atol=1e-5)


def test_blip_prompt_continues_as_generate_does(tmp_path):
    """BLIP's start is [DEC] then the prompt ("a picture of" in the model card)."""
    loaded = load_hf_folder(save_blip(tmp_path, seed=1))
    pixels = load_image_processor(loaded.folder)(images=pictures(2), return_tensors="pt")
    pixels = pixels.pixel_values
    prompt = loaded.tokenizer(["a big red"] * 2, return_tensors="pt")  # [CLS] … [SEP]
    out = loaded.model.generate(
        pixel_values=pixels, input_ids=prompt.input_ids.clone(), max_new_tokens=6
    )
    start = [4, *loaded.tokenizer("a big red", add_special_tokens=False).input_ids]
    step_model = VisionStepModel(loaded.model, loaded.vocab, start_ids=start)
    results = decode(
        step_model, step_model.encode(pixels), _config(strategy="greedy", max_length=6)
    )
    eos = _eos(loaded)
    assert [loaded.vocab.model_ids(r.best.tokens) for r in results] == [
        _cut(row[len(start) :].tolist(), eos) for row in out
    ]


def test_a_session_steps_back_exactly(captioner):
    _, loaded, pixels = captioner
    memory = loaded.step_model.encode(pixels[:1])
    session = DecodeSession(loaded.step_model, memory, _config(strategy="beam", beam_size=3))
    session.run()
    tokens, attention = session.tokens, session.attention_matrix()
    for _ in range(3):
        session.back()
    session.run()
    assert session.tokens == tokens
    np.testing.assert_array_equal(session.attention_matrix(), attention)


# -- refused folders ---------------------------------------------------------------


@pytest.fixture(scope="module")
def vit_gpt2_dir(tmp_path_factory):
    return save_vision_encoder_decoder(tmp_path_factory.mktemp("vit-gpt2"), "vit", "gpt2")


@pytest.mark.parametrize(
    ("file", "edit", "message"),
    [
        (
            "config.json",
            lambda c: c["decoder"].update(n_layer=10_000),
            r"decoder\.n_layer must be an integer in 1\.\.32",
        ),
        (
            "config.json",
            lambda c: c["encoder"].update(hidden_size=10**9),
            r"encoder\.hidden_size must be an integer in 1\.\.16,384",
        ),
        (
            "config.json",
            lambda c: c["encoder"].update(model_type="swin", depths=[1] * 9),
            r"encoder\.depths must be .* a list of up to 8",
        ),
        (
            "config.json",
            lambda c: c["encoder"].update(model_type="swin", mlp_ratio=1e6),
            r"encoder\.mlp_ratio must be a number in \(0, 16\]",
        ),
        (
            "config.json",
            lambda c: c["encoder"].update(image_size=2048, patch_size=2),
            r"grid of 1024 patches a side; at most 64",
        ),
        (
            "config.json",
            lambda c: c["decoder"].update(model_type="llama"),
            r"text decoder 'llama' is not supported",
        ),
        (
            "config.json",
            lambda c: c["encoder"].update(auto_map={"AutoModel": "x.Y"}),
            r"auto_map in config.json encoder",
        ),
        (
            "preprocessor_config.json",
            lambda p: p.update(size={"height": 10**7, "width": 32}),
            r"size must hold integers in 1\.\.2,048",
        ),
        (
            "preprocessor_config.json",
            lambda p: p.update(image_processor_type="EvilImageProcessor"),
            r"image processor 'EvilImageProcessor' is not supported",
        ),
        (
            "preprocessor_config.json",
            lambda p: p.update(auto_map={"AutoImageProcessor": "x.Y"}),
            r"image processor needs its own Python code",
        ),
    ],
)
def test_hostile_configs_are_refused_before_anything_is_built(
    vit_gpt2_dir, tmp_path, file, edit, message
):
    folder = edited_copy(vit_gpt2_dir, tmp_path / "edited", file, edit)
    with pytest.raises(HfFolderError, match=message):
        read_hf_folder(folder)


def test_a_blip_config_with_huge_text_layers_is_refused(tmp_path):
    folder = tmp_path / "blip"
    folder.mkdir()
    config = {
        "architectures": ["BlipForConditionalGeneration"],
        "model_type": "blip",
        "vision_config": {"hidden_size": 16},
        "text_config": {"num_hidden_layers": 100_000},
    }
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(HfFolderError, match=r"text_config\.num_hidden_layers must be"):
        read_hf_folder(folder)


def test_a_missing_preprocessor_is_refused_with_one_message(vit_gpt2_dir, tmp_path):
    folder = tmp_path / "no-processor"
    folder.mkdir()
    for path in vit_gpt2_dir.iterdir():
        if path.name != "preprocessor_config.json":
            (folder / path.name).symlink_to(path)
    with pytest.raises(HfFolderError, match=r"has no preprocessor_config\.json: a captioner"):
        read_hf_folder(folder)


def test_a_captioner_folder_says_its_task(vit_gpt2_dir):
    folder = read_hf_folder(vit_gpt2_dir)
    assert folder.task == "captioning"
    facts = folder.describe()
    assert facts["task"] == "captioning"
    assert facts["sizes"]["encoder"]["model_type"] == "vit"
    assert facts["sizes"]["decoder"]["n_layer"] == 2
