"""TextTokenizer: in-memory training, round trips, special ids and bad input."""

from __future__ import annotations

import io
import pickle

import pytest
import sentencepiece as spm

from attnscope.engine.errors import InputTextError, TokenizerError
from attnscope.engine.tokenizers import (
    MAX_TEXT_CHARS,
    SpecialTokens,
    TextTokenizer,
    clean_text,
)

CORPUS = [
    "the cat sat on the mat",
    "a dog ran in the park",
    "the dog and the cat are friends",
    "hello world , hello again",
    "où est la gare ? près du café",
] * 4


@pytest.fixture(scope="module")
def tokenizer() -> TextTokenizer:
    return TextTokenizer.train(CORPUS, vocab_size=80, num_threads=1)


def test_special_ids_follow_the_contract(tokenizer):
    assert tokenizer.specials == SpecialTokens(pad=0, unk=1, bos=2, eos=3)
    assert [tokenizer.id_to_piece(i) for i in range(4)] == ["<pad>", "<unk>", "<s>", "</s>"]
    assert 4 < tokenizer.vocab_size <= 80


def test_round_trip_of_seen_text(tokenizer):
    for text in ("the cat sat on the mat", "où est la gare ?", "hello world"):
        ids = tokenizer.encode(text)
        assert ids and all(i > 3 for i in ids)  # no bos/eos added, no unk needed
        assert tokenizer.decode(ids) == text


def test_decode_skips_specials_but_keeps_going_past_eos(tokenizer):
    cat, dog = tokenizer.encode("cat"), tokenizer.encode("dog")
    ids = [2, *cat, 3, 0, *dog, 3]
    assert tokenizer.decode(ids) == "cat dog"


def test_pieces_match_ids(tokenizer):
    pieces = tokenizer.pieces("the cat")
    assert "".join(pieces).replace("▁", " ").strip() == "the cat"
    assert [tokenizer.piece_to_id(p) for p in pieces] == tokenizer.encode("the cat")


def test_piece_to_id_is_none_for_unknown_pieces(tokenizer):
    assert tokenizer.piece_to_id("▁zyzzyva") is None
    assert tokenizer.piece_to_id("<unk>") == 1
    assert tokenizer.piece_to_id("▁the") is not None


def test_unknown_characters_become_unk(tokenizer):
    ids = tokenizer.encode("the 猫")
    assert 1 in ids


def test_bytes_round_trip_and_pickle(tokenizer):
    data = tokenizer.to_bytes()
    again = TextTokenizer.from_bytes(data)
    assert again.vocab_size == tokenizer.vocab_size
    assert again.encode("the dog and the cat") == tokenizer.encode("the dog and the cat")
    unpickled = pickle.loads(pickle.dumps(tokenizer))
    assert unpickled.encode("hello world") == tokenizer.encode("hello world")


@pytest.mark.parametrize("blob", [b"", b"not a model", bytes(range(256)) * 4])
def test_garbage_bytes_raise_tokenizer_error(blob):
    with pytest.raises(TokenizerError, match=r"sentencepiece|empty"):
        TextTokenizer.from_bytes(blob)


def test_model_with_other_special_ids_is_rejected():
    writer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS),
        model_writer=writer,
        vocab_size=40,
        hard_vocab_limit=False,
        minloglevel=2,
        num_threads=1,
    )  # sentencepiece's defaults: unk=0, bos=1, eos=2, no pad
    with pytest.raises(TokenizerError, match="special ids"):
        TextTokenizer.from_bytes(writer.getvalue())


def test_unigram_training_works_on_a_tiny_corpus():
    tok = TextTokenizer.train(CORPUS, vocab_size=40, model_type="unigram", num_threads=1)
    assert tok.decode(tok.encode("the cat")) == "the cat"


def test_training_rejects_bad_settings_and_empty_corpus():
    with pytest.raises(ValueError, match="model_type"):
        TextTokenizer.train(CORPUS, vocab_size=40, model_type="wordpiece")
    with pytest.raises(TokenizerError, match="empty corpus"):
        TextTokenizer.train(["", "  ", "\x00"], vocab_size=40)


def test_max_sentences_limits_the_training_corpus():
    lines = ["aaaa bbbb"] * 3 + ["zzzz qqqq"] * 50
    tok = TextTokenizer.train(lines, vocab_size=30, max_sentences=3, num_threads=1)
    assert tok.piece_to_id("z") is None and tok.piece_to_id("a") is not None


def test_control_characters_are_stripped(tokenizer):
    assert clean_text("a\x00b\x07c\td\ne\u200b") == "abc\td\ne\u200b"
    assert tokenizer.encode("the\x00 cat\x1b") == tokenizer.encode("the cat")


def test_empty_text_encodes_to_nothing(tokenizer):
    assert tokenizer.encode("") == []
    assert tokenizer.decode([]) == ""


def test_too_long_text_raises_input_text_error(tokenizer):
    with pytest.raises(InputTextError, match=f"{MAX_TEXT_CHARS + 1:,} characters"):
        tokenizer.encode("a" * (MAX_TEXT_CHARS + 1))
    with pytest.raises(InputTextError, match="must be a str"):
        tokenizer.encode(b"bytes")  # type: ignore[arg-type]


def test_out_of_range_ids_raise_tokenizer_error(tokenizer):
    with pytest.raises(TokenizerError, match="outside the vocabulary"):
        tokenizer.decode([5, tokenizer.vocab_size + 7])
    with pytest.raises(TokenizerError, match="outside the vocabulary"):
        tokenizer.id_to_piece(-1)


def test_special_tokens_dict_round_trip():
    specials = SpecialTokens()
    assert SpecialTokens.from_dict(specials.to_dict()) == specials
    with pytest.raises(ValueError, match="unknown special token"):
        SpecialTokens.from_dict({"pad": 0, "mask": 4})
    with pytest.raises(ValueError, match="integers"):
        SpecialTokens.from_dict({"pad": "0"})


def test_the_normalizers_longest_rewrite_is_read_from_the_model():
    """NFKC (every tokenizer AttnScope trains) rewrites one character into at most 33 bytes
    (U+FDFA); the bound that refuses hostile normalizers sits well above it."""
    from attnscope.engine.tokenizers import MAX_REWRITE_BYTES, longest_rewrite

    model = TextTokenizer.train(["hello world", "the cat"] * 5, vocab_size=20, num_threads=1)
    assert longest_rewrite(model.to_bytes()) == 33 < MAX_REWRITE_BYTES
    assert len(model.encode("\ufdfa" * 100)) > 100  # such text still tokenizes
