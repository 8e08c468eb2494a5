"""A captioner folder through the app's one loader: ``load_inference_model(DIR)`` gives an
HfCaptionModel whose sessions, captions and CLI runs take a picture and show the grid."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers_checkpoint import captioning_model, tokenizer

from attnscope.engine.checkpoint import save_checkpoint
from attnscope.engine.cli import main
from attnscope.engine.decoding.config import DecodeConfig
from attnscope.engine.decoding.driver import decode
from attnscope.engine.errors import ImageInputError, InputTextError
from attnscope.engine.hf.folder import HfFolderError
from attnscope.engine.hf.vision import load_image_processor
from attnscope.engine.hf.vision_inference import HfCaptionModel
from attnscope.engine.image_masks import mask_image
from attnscope.engine.images import ImagePreprocess, load_image
from attnscope.engine.inference import load_inference_model

from .tiny_captioners import pictures, save_blip, save_vision_encoder_decoder
from .tiny_models import edited_copy

GREEDY = DecodeConfig(strategy="greedy", max_length=8, max_length_ratio=0, topk_alternatives=3)
PROCESSOR = "preprocessor_config.json"


@pytest.fixture(scope="module")
def vit_dir(tmp_path_factory):
    return save_vision_encoder_decoder(tmp_path_factory.mktemp("vit"), "vit", "gpt2", seed=1)


@pytest.fixture(scope="module")
def blip_dir(tmp_path_factory):
    return save_blip(tmp_path_factory.mktemp("blip"), seed=1)


@pytest.fixture(scope="module")
def vit(vit_dir):
    return load_inference_model(vit_dir, device="cpu")


@pytest.fixture(scope="module")
def picture_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("pictures") / "colours.png"
    pictures(1)[0].save(path)  # 48 × 40
    return path


def test_a_captioner_folder_opens_as_a_caption_model(vit):
    assert isinstance(vit, HfCaptionModel)
    summary = vit.summary()
    assert (summary.task, summary.layers, summary.heads) == ("captioning", 2, 4)
    assert summary.architecture == "ViT + [CLS] → GPT-2, 2 layers × 2 heads"
    assert summary.info["task"] == "captioning"


def test_a_session_shows_the_grid_over_the_photo(vit, picture_file):
    """The snapshot carries the 4 × 4 grid, the whole photo (ViT's processor resizes all
    of it) and the model's own step-wise attention over the grid cells."""
    opened = vit.open_session(str(picture_file), GREEDY)
    opened.run()
    snapshot = opened.snapshot()
    assert snapshot.grid == (4, 4)
    assert snapshot.image.shape == (40, 48, 3) and snapshot.image.dtype == np.uint8
    pixels = load_image_processor(vit.hf.folder)(images=pictures(1), return_tensors="pt")
    step_model = vit.hf.step_model
    (expected,) = decode(step_model, step_model.encode(pixels.pixel_values), GREEDY)
    assert [s.token_id for s in snapshot.steps] == list(expected.best.tokens)
    np.testing.assert_allclose(snapshot.attention, expected.best.attention, atol=1e-6)
    caption = vit.caption(picture_file, GREEDY)
    assert caption.text == snapshot.target_text
    assert caption.attention.shape == (len(expected.best.tokens), 4, 4, 4)  # (T, heads, h, w)


def test_text_and_broken_pictures_get_one_message(vit, tmp_path):
    with pytest.raises(InputTextError, match="captioning model"):
        vit.open_session("a sentence, not a picture", GREEDY)
    with pytest.raises(InputTextError, match="captioning model"):
        vit.source_ids("a sentence")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ImageInputError):
        vit.caption(broken, GREEDY)


def test_the_caption_never_runs_past_the_decoders_positions(vit, picture_file):
    """The tiny GPT-2 has 32 positions: a longer maximum is cut to them, not an error."""
    config = DecodeConfig(strategy="greedy", max_length=100, min_length=100, max_length_ratio=0)
    assert len(vit.caption(picture_file, config).pieces) == 32


def test_a_centre_cropping_processor_shows_what_the_model_saw(tmp_path, picture_file):
    """DeiT's processor resizes to 36 and crops the centre 32: the picture shown is the
    model's 32 × 32 input, so the grid lies on what each cell saw."""
    model = load_inference_model(
        save_vision_encoder_decoder(tmp_path, "deit", "gpt2"), device="cpu"
    )
    opened = model.open_session(str(picture_file), GREEDY)
    assert opened.grid == (4, 4)
    assert opened.image.shape == (32, 32, 3) and opened.image.dtype == np.uint8


def test_blip_with_a_prompt_continues_it(blip_dir, picture_file):
    model = load_inference_model(blip_dir, device="cpu")
    prompted = model.with_prompt("a big red")
    tokenizer = model.hf.tokenizer
    assert prompted.model.start_ids.tolist() == [
        4,
        *tokenizer("a big red", add_special_tokens=False).input_ids,
    ]
    pixel_values = prompted.processor(images=pictures(1), return_tensors="pt").pixel_values
    out = model.hf.model.generate(
        pixel_values=pixel_values,
        input_ids=tokenizer(["a big red"], return_tensors="pt").input_ids,
        max_new_tokens=8,
    )
    caption = prompted.caption(picture_file, GREEDY)
    generated = out[0, 4:].tolist()
    eos = model.hf.vocab.to_hf[3].item()
    generated = generated[: generated.index(eos) + 1] if eos in generated else generated
    assert caption.text == tokenizer.decode(generated, skip_special_tokens=True)


def test_a_broken_image_processor_is_one_message(vit_dir, tmp_path, picture_file):
    folder = edited_copy(
        vit_dir, tmp_path / "bad-processor", PROCESSOR, lambda s: s.update(resample="x")
    )
    model = load_inference_model(folder, device="cpu")  # the settings are read as given
    with pytest.raises(HfFolderError, match="its image processor cannot read the picture"):
        model.caption(picture_file, GREEDY)


def test_the_caption_command_reads_a_folder(vit, vit_dir, picture_file, capsys):
    assert main(["caption", "-c", str(vit_dir), "--device", "cpu", str(picture_file)]) == 0
    name, text = capsys.readouterr().out.rstrip("\n").split("\t")
    assert name.endswith("colours.png")
    assert text == vit.caption(picture_file, DecodeConfig()).text


def test_the_image_what_if_greys_with_the_processors_mean(vit, picture_file):
    """Masking a region (the app's image what-if) fills it with the processor's mean and
    captions the masked copy like any picture."""
    assert vit.image_mean == (0.5, 0.5, 0.5)  # ViTImageProcessor's default
    rgb = np.asarray(load_image(picture_file))
    mask = np.zeros(rgb.shape[:2], dtype=bool)
    mask[:20] = True
    masked = mask_image(rgb, mask, "grey", mean=vit.image_mean)
    assert (masked[:20] == 128).all()
    opened = vit.open_session(masked, GREEDY)
    opened.run()
    assert opened.snapshot().grid == (4, 4)


def test_the_caption_record_carries_layers_and_heads_over_the_grid(vit_dir, picture_file, capsys):
    command = ["caption", "-c", str(vit_dir), "--device", "cpu", "--json", str(picture_file)]
    assert main(command) == 0
    record = json.loads(capsys.readouterr().out.splitlines()[0])
    attention = np.asarray(record["attention"])
    assert record["grid"] == [4, 4]
    assert attention.shape == (len(record["pieces"]), 2, 2, 4, 4)  # (T, layers, heads, h, w)


def test_an_attention_edit_is_refused_and_the_session_stays(vit, picture_file):
    """An edit's weights cover the grid cells; the model's own row also covers [CLS]."""
    opened = vit.open_session(str(picture_file), GREEDY)
    opened.run(until=2)
    tokens = opened.session.tokens
    weights = np.full((vit.model.num_heads, 16), 1 / 16, dtype=np.float32)
    with pytest.raises(ValueError, match="VisionStepModel does not take attention edits"):
        opened.session.edit_attention(1, weights)
    assert opened.session.tokens == tokens


def test_the_caption_command_continues_a_prompt(blip_dir, picture_file, capsys):
    command = ["caption", "-c", str(blip_dir), "--device", "cpu", str(picture_file)]
    assert main([*command, "--prompt", "a big red"]) == 0
    text = capsys.readouterr().out.rstrip("\n").split("\t")[1]
    model = load_inference_model(blip_dir, device="cpu").with_prompt("a big red")
    assert text == model.caption(picture_file, DecodeConfig()).text


def test_a_prompt_for_a_checkpoint_is_refused(tmp_path, picture_file, capsys):
    path = save_checkpoint(
        tmp_path / "cap.safetensors",
        model=captioning_model(),
        tgt_tokenizer=tokenizer("tgt"),
        image_preprocess=ImagePreprocess(size=(32, 32)),
    )
    command = ["caption", "-c", str(path), "--device", "cpu", str(picture_file)]
    assert main([*command, "--prompt", "a picture of"]) == 2
    assert "--prompt needs a Hugging Face captioner folder" in capsys.readouterr().err


def test_an_older_feature_extractor_file_is_read_as_its_image_processor(
    vit, vit_dir, tmp_path, picture_file
):
    """Folders saved before image processors name a ViTFeatureExtractor and one size."""

    def legacy_settings(settings: dict) -> None:
        del settings["image_processor_type"]
        settings |= {"feature_extractor_type": "ViTFeatureExtractor", "size": 32}

    folder = edited_copy(vit_dir, tmp_path / "legacy", PROCESSOR, legacy_settings)
    legacy = load_inference_model(folder, device="cpu")
    assert type(legacy.processor).__name__.startswith("ViTImageProcessor")
    assert legacy.caption(picture_file, GREEDY).text == vit.caption(picture_file, GREEDY).text


@pytest.mark.parametrize("kind", ["vit", "blip"])
def test_a_processor_size_the_encoder_cannot_read_is_one_message(
    vit_dir, blip_dir, tmp_path, picture_file, kind
):
    """A processor making 40 × 40 inputs for an encoder built for 32 × 32."""
    source = vit_dir if kind == "vit" else blip_dir
    resize = {"size": {"height": 40, "width": 40}}
    folder = edited_copy(source, tmp_path / "resized", PROCESSOR, lambda s: s.update(resize))
    model = load_inference_model(folder, device="cpu")
    with pytest.raises(HfFolderError, match="encoder cannot read the 40×40 image"):
        model.caption(picture_file, GREEDY)
