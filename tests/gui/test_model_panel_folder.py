"""A Hugging Face folder in the model panel: its facts in words under "Folder", the stored
JSON behind "Details…"; an AttnScope checkpoint keeps its "Training" record."""

import json

from attnscope.engine.inference_results import ModelSummary
from attnscope.gui.folder_description import describe_folder
from attnscope.gui.model_panel import ModelPanel

# what HfInferenceModel.info holds for the tiny folders (tests/engine/hf/tiny_*.py)
SIZES = {"d_model": 16, "encoder_layers": 2, "decoder_layers": 2, "vocab_size": 35}
NLLB = {
    "format": "huggingface",
    "architecture": "M2M100ForConditionalGeneration",
    "family": "m2m100",
    "task": "translation",
    "sizes": SIZES | {"encoder_attention_heads": 4, "decoder_attention_heads": 2},
    "weights": "model.safetensors",
    "weights_bytes": 56408,
    "tokenizer_files": ["tokenizer.json", "tokenizer_config.json"],
    "word_convention": "sentencepiece",
    "language_pair": {
        "source": "eng_Latn",
        "target": "deu_Latn",
        "target_token": "forced first token",
        "codes": [f"c{i}_Latn" for i in range(202)],
    },
}
T5 = {
    "format": "huggingface",
    "architecture": "T5ForConditionalGeneration",
    "family": "t5",
    "task": "translation",
    "sizes": {"d_model": 16, "num_layers": 2, "num_heads": 2, "d_ff": 32, "vocab_size": 21},
    "word_convention": "wordpiece",
    "source_language": "de",  # an opus-mt tokenizer's source_lang / target_lang
    "target_language": "en",
}
CAPTIONER = {
    "format": "huggingface",
    "architecture": "VisionEncoderDecoderModel",
    "family": "vision-encoder-decoder",
    "task": "captioning",
    "sizes": {
        "encoder": {"model_type": "swin", "hidden_size": 32, "depths": [1, 1], "num_heads": [1, 2]},
        "decoder": {
            "model_type": "gpt2",
            "n_embd": 32,
            "n_layer": 1,
            "n_head": 4,
            "vocab_size": 20,
        },
    },
}


def _summary(info):
    return ModelSummary(
        path="/tmp/folder",
        name="folder",
        task=info.get("task", "translation"),
        architecture="M2M100 2+2 layers",
        attention="scaled dot-product (cross)",
        heads=4,
        parameters=1000,
        src_vocab=35,
        tgt_vocab=35,
        device="cpu",
        info=info,
        examples=(),
        target_vocab=(),
        layers=2,
    )


def test_a_folder_reads_as_family_sizes_words_languages_and_files():
    assert describe_folder(NLLB).splitlines() == [
        "Family: m2m100 (M2M100ForConditionalGeneration)",
        "Layers: 2 encoder + 2 decoder",
        "Width: d_model 16 · 2 heads (encoder 4)",
        "Vocabulary: 35",
        "Words: sentencepiece (▁ starts a word)",
        "Languages: eng_Latn → deu_Latn (202 codes)",
        "Weights: model.safetensors, 56.4 kB",
        "Tokenizer: tokenizer.json, tokenizer_config.json",
    ]


def test_t5_names_and_a_named_pair_and_a_captioners_halves_are_read():
    lines = describe_folder(T5).splitlines()
    assert lines[1:3] == [
        "Layers: 2 encoder + 2 decoder",
        "Width: d_model 16 · 2 heads · feed-forward 32",
    ]
    assert "Words: wordpiece (## continues a word)" in lines
    assert "Languages: German → English" in lines
    assert describe_folder(CAPTIONER).splitlines()[1:] == [
        "Encoder: swin, 2 layers (1+1), 32 wide, 1/2 heads (per stage)",
        "Decoder: gpt2, 1 layer, 32 wide, 4 heads, vocabulary 20",
    ]


def test_wrongly_typed_facts_are_skipped_not_raised():
    text = describe_folder({"format": "huggingface", "sizes": [], "weights_bytes": "x"})
    assert text.splitlines()[:2] == ["Family: ? (?)", "Layers: ? encoder + ? decoder"]


def test_the_panel_shows_a_folder_in_words_and_its_json_on_demand(qtbot):
    panel = ModelPanel()
    qtbot.addWidget(panel)
    label = panel.layout().labelForField(panel._record_box)
    panel.set_summary(_summary(NLLB))
    assert label.text() == "Folder" and not panel.details.isHidden()
    assert panel.training.toPlainText() == describe_folder(NLLB)
    panel.details.click()
    assert json.loads(panel.training.toPlainText()) == NLLB
    panel.details.click()
    assert panel.training.toPlainText() == describe_folder(NLLB)
    panel.details.click()  # JSON shown, then a checkpoint: its record, the toggle gone
    panel.set_summary(_summary({"epoch": 3, "trained_by": "attnscope train"}))
    assert label.text() == "Training" and panel.details.isHidden()
    assert panel.training.toPlainText().startswith("Epoch 3\nTrained with attnscope train")
    panel.set_summary(_summary(NLLB))
    assert not panel.details.isChecked()
    assert panel.training.toPlainText() == describe_folder(NLLB)
