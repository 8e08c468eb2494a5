"""Real byte-level BPE and WordPiece tokenizers (trained here) label and group words right."""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from attnscope.engine.alignment import word_index
from attnscope.engine.hf.text import HfText
from attnscope.engine.hf.vocab_map import HfVocabMap
from attnscope.engine.pieces import BYTE_LEVEL, WORDPIECE

from .tiny_models import SENTENCES

TEXTS = [*SENTENCES, "café naïve über", "the cats sat on the catalogue"] * 3


def _text(tokenizer: PreTrainedTokenizerFast, eos: str) -> HfText:
    ids = tokenizer.convert_tokens_to_ids
    vocab = HfVocabMap.build(len(tokenizer), bos=None, eos=ids(eos), unk=None, pad=None)
    return HfText(tokenizer, vocab)


def _byte_level() -> PreTrainedTokenizerFast:
    """BART's layout: <s> the Ġcat ... </s>, no space marked before the first word."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=specials, initial_alphabet=alphabet, show_progress=False
    )
    tokenizer.train_from_iterator(TEXTS, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )


def _wordpiece() -> PreTrainedTokenizerFast:
    """BERT's layout: [CLS] the cat ##s ... [SEP]; [SEP] is the model's eos (BLIP)."""
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    trainer = trainers.WordPieceTrainer(vocab_size=60, special_tokens=specials, show_progress=False)
    tokenizer.train_from_iterator(TEXTS, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, cls_token="[CLS]", sep_token="[SEP]", unk_token="[UNK]"
    )


def test_byte_level_pieces_read_as_text_with_word_starts():
    text = _text(_byte_level(), "</s>")
    assert text.convention == BYTE_LEVEL
    pieces = text.source_pieces("the cats sat über café")
    assert pieces[0] == "<s>" and pieces[-1] == "</s>"
    assert not any("Ġ" in p or "Ã" in p for p in pieces)
    words = word_index(pieces)  # <s> and </s> are no words
    assert words[0] == words[-1] == -1 and max(words) == 4
    for number, word in enumerate(["the", "cats", "sat", "über", "café"]):
        joined = "".join(p for p, w in zip(pieces, words, strict=True) if w == number)
        assert joined.lstrip("▁") == word


def test_wordpiece_continuations_join_their_word():
    text = _text(_wordpiece(), "[SEP]")
    assert text.convention == WORDPIECE
    pieces = text.source_pieces("the cats sat on the catalogue")
    assert pieces[0] == "[CLS]" and pieces[-1] == "</s>"  # the model's eos reads as every eos
    assert not any(p.startswith("##") for p in pieces)
    # the tokenizer's [CLS] "the cat ##s sat on the cat ##a ##l ##og ##u ##e" [SEP]
    assert word_index(pieces) == [-1, 0, 1, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5, -1]
    cats = text.vocab.our_ids(text.tokenizer("cats").input_ids[1:-1])
    assert text.target_pieces(cats) == ["▁cat", "s"]
