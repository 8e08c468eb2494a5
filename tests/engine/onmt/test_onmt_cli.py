"""`attnscope import-onmt` end to end, and the vocabularies it embeds as tokenizers."""

from __future__ import annotations

import json

import pytest
import torch

from attnscope.engine.batch import translate_texts
from attnscope.engine.cli import main
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.errors import TokenizerError
from attnscope.engine.inference import load_inference_model
from attnscope.engine.onmt.convert import convert_onmt
from attnscope.engine.onmt.vocab_tokenizer import reordered_tokenizer, word_tokenizer
from attnscope.engine.tokenizers import TextTokenizer

from .onmt_fixtures import FIXTURES, checkpoint_dict, lines

SPECIALS = ["<blank>", "<unk>", "<s>", "</s>"]  # AttnScope's order: pad, unk, bos, eos


def test_import_then_translate_and_info(tmp_path, capsys):
    fixture = FIXTURES / "gru_mlp_tied"
    out = tmp_path / "gru.safetensors"
    assert main(["import-onmt", str(fixture / "model.pt"), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    translated = tmp_path / "beam5.txt"
    args = ["translate", "-c", str(out), "-i", str(fixture / "test.src"), "-o", str(translated)]
    assert main(args) == 0  # decodes as the import recommends: onmt_translate's beam 5
    assert lines(translated) == lines(fixture / "beam5.txt")
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["training_info"]["imported_from"] == "OpenNMT-py"
    assert info["model_config"]["decoder"]["init_from"] == "final_states_bridge"
    assert info["model_config"]["source_eos"] is False


def test_an_existing_output_is_kept_without_force(tmp_path, capsys):
    out = tmp_path / "kept.safetensors"
    out.write_bytes(b"precious")
    model = str(FIXTURES / "gru_mlp_tied" / "model.pt")
    assert main(["import-onmt", model, "-o", str(out)]) == 2
    assert "give --force" in capsys.readouterr().err
    assert out.read_bytes() == b"precious"


def test_the_output_must_be_safetensors(tmp_path, capsys):
    model = str(FIXTURES / "gru_mlp_tied" / "model.pt")
    assert main(["import-onmt", model, "-o", str(tmp_path / "out.pt")]) == 2
    assert "must be a .safetensors file" in capsys.readouterr().err


def test_a_refusal_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "state.pt"
    bad.write_bytes(b"\x80\x04not a zip")
    assert main(["import-onmt", str(bad), "-o", str(tmp_path / "x.safetensors")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("attnscope: error:") and "\n" not in err


def test_word_tokenizer_splits_at_spaces_and_reads_unknown_words_as_unk():
    tokenizer = word_tokenizer([*SPECIALS, "red", "blue", "GOLD"])
    assert tokenizer.encode("red  blue zebra GOLD") == [4, 5, 1, 6]
    assert tokenizer.decode([4, 1, 6]) == "red <unk> GOLD"  # as onmt_translate prints it


def test_word_tokenizer_refuses_subword_vocabularies():
    with pytest.raises(TokenizerError, match="give that model with --src-spm"):
        word_tokenizer([*SPECIALS, "\u2581red", "dish"])


def test_a_given_sentencepiece_model_is_reordered_to_the_vocabulary():
    corpus = ["the red fish swims", "a blue fish sings", "the red bird sings"] * 20
    spm = TextTokenizer.train(corpus, vocab_size=30, model_type="unigram")
    pieces = [spm.id_to_piece(i) for i in range(4, spm.vocab_size)]
    vocab = [*SPECIALS, *reversed(pieces), "\u2581unseen"]  # OpenNMT-py's own order differs
    reordered = reordered_tokenizer(spm.to_bytes(), vocab)
    assert reordered.vocab_size == len(vocab)
    assert [reordered.id_to_piece(i) for i in range(4, len(vocab))] == vocab[4:]
    text = "the red fish sings"
    assert [vocab[i] for i in reordered.encode(text)] == spm.pieces(text)
    assert reordered.decode(reordered.encode(text)) == text


def test_commands_given_the_opennmt_file_itself_say_to_convert_it(capsys):
    model = str(FIXTURES / "gru_mlp_tied" / "model.pt")
    assert main(["info", model]) == 2
    assert "is an OpenNMT-py checkpoint; convert it first: attnscope import-onmt" in (
        capsys.readouterr().err
    )


def test_a_subword_model_imports_with_its_sentencepiece_models(tmp_path):
    """The fixture with its vocabulary spelt as sentencepiece pieces (▁word) and given the
    sentencepiece models: the embedded tokenizers cut lines as those models do and the
    model translates as the word-level original did."""
    data = checkpoint_dict("lstm_brnn_general")
    for side in ("src", "tgt"):
        tokens = data["vocab"][side]
        data["vocab"][side] = [t if t.startswith("<") else f"\u2581{t}" for t in tokens]
        words = SPECIALS + [t for t in tokens if not t.startswith("<")][::-1]  # another order
        (tmp_path / f"{side}.model").write_bytes(word_tokenizer(words).to_bytes())
    torch.save(data, tmp_path / "pieces.pt")
    out = convert_onmt(
        tmp_path / "pieces.pt",
        tmp_path / "pieces.safetensors",
        src_spm=tmp_path / "src.model",
        tgt_spm=tmp_path / "tgt.model",
    )
    model = load_inference_model(out, device="cpu")
    fixture = FIXTURES / "lstm_brnn_general"
    greedy = DecodeConfig(strategy="greedy", max_length=250, max_length_ratio=1.25)
    outputs = [t.text for t in translate_texts(model, lines(fixture / "test.src"), greedy)]
    assert outputs == lines(fixture / "greedy.txt")
    assert model.checkpoint.info["tokenizers"] == "sentencepiece"
