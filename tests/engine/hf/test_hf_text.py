"""The folder's tokenizer on both sides: bounded input, AttnScope target ids back to text."""

from __future__ import annotations

import pytest

from attnscope.engine.decoding.config import EOS_ID, DecodeConfig
from attnscope.engine.decoding.driver import decode
from attnscope.engine.errors import InputTextError
from attnscope.engine.hf.loading import load_hf_folder
from attnscope.engine.hf.text import HfText

from .tiny_models import SENTENCES, marian_spm_tokenizer, save_tiny_model


def _translations_equal_generate(loaded):
    ids, mask = loaded.text.encode_batch(SENTENCES)
    memory = loaded.step_model.encode(ids, mask)
    config = DecodeConfig(max_length=12, max_length_ratio=0, topk_alternatives=0)
    ours = [
        loaded.text.detokenize(r.best.tokens) for r in decode(loaded.step_model, memory, config)
    ]
    batch = loaded.tokenizer(SENTENCES, return_tensors="pt", padding=True)
    assert ids.equal(batch.input_ids)
    assert mask.equal(batch.attention_mask)
    out = loaded.model.generate(**batch, do_sample=False, max_new_tokens=12)
    assert ours == loaded.tokenizer.batch_decode(out, skip_special_tokens=True)


def test_translations_equal_generate_decoded_by_the_tokenizer(loaded):
    _translations_equal_generate(loaded)


@pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")
def test_an_opus_mt_style_folder_with_marian_sentencepiece_tokenizer(tmp_path):
    """source.spm, target.spm and vocab.json, read back by MarianTokenizer offline."""
    (tmp_path / "spm").mkdir()
    tokenizer = marian_spm_tokenizer(tmp_path / "spm")
    folder = save_tiny_model(tmp_path / "model", "marian", seed=3, tokenizer=tokenizer)
    loaded = load_hf_folder(folder)
    assert type(loaded.tokenizer).__name__ == "MarianTokenizer"
    assert {"source.spm", "target.spm", "vocab.json"} <= set(loaded.folder.tokenizer_files)
    assert loaded.text.source_pieces("the cat")[-1] == "</s>"
    _translations_equal_generate(loaded)


def test_pieces_on_both_sides(marian):
    """The tiny word-level vocabulary has one piece per word: each labelled as a word start."""
    assert marian.text.source_pieces("the cat\x07 sat") == ["▁the", "▁cat", "▁sat", "</s>"]
    assert marian.text.target_piece(EOS_ID) == "</s>"


def test_empty_and_overlong_inputs_are_refused(marian):
    with pytest.raises(InputTextError, match="empty"):
        marian.text.encode(" \x07 ")
    short = HfText(marian.tokenizer, marian.vocab, max_source_tokens=3)
    assert short.encode("the cat") == marian.tokenizer("the cat").input_ids
    with pytest.raises(InputTextError, match="makes 4 tokens; this model reads at most 3"):
        short.encode("the cat sat")
