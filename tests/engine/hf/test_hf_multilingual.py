"""mBART-50, mBART-cc25, M2M100 and NLLB folders: the language pair, and decodes that
equal generate() with the target language forced (``forced_bos_token_id``) or, for
mBART-cc25, started from (``decoder_start_token_id``)."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest

from attnscope.engine.alignment import word_index
from attnscope.engine.cli import main
from attnscope.engine.decoding.config import DecodeConfig
from attnscope.engine.decoding.driver import decode
from attnscope.engine.hf.loading import load_hf_folder
from attnscope.engine.hf.multilingual import (
    FORCED_FIRST,
    START_TOKEN,
    FolderLanguages,
    LanguageError,
)

from .generate_reference import (
    MAX_NEW,
    assert_same_attention,
    assert_same_tokens,
    generate_plain,
)
from .tiny_models import SENTENCES
from .tiny_multilingual import NLLB_CODES, save_tiny_multilingual

# family -> (folder settings, the pair the folder opens with, how the target is given).
# Seeds and eos biases whose greedy outputs end at different lengths (searched once).
FOLDERS = {
    "mbart50": ({"seed": 1, "eos_bias": 2.0}, ("en_XX", "ar_AR"), FORCED_FIRST),
    "mbart_cc25": (
        {"seed": 7, "eos_bias": 2.0, "start": "ro_RO"},
        ("en_XX", "ro_RO"),
        START_TOKEN,
    ),
    "m2m100": ({"seed": 5, "eos_bias": 2.0, "forced": "__de__"}, ("en", "de"), FORCED_FIRST),
    "nllb": ({"seed": 7, "eos_bias": 1.0}, ("eng_Latn", "fra_Latn"), FORCED_FIRST),
}


@pytest.fixture(scope="module", params=list(FOLDERS))
def case(request, tmp_path_factory):
    """(the test's name for the family, its tiny folder loaded)."""
    settings = FOLDERS[request.param][0]
    folder = tmp_path_factory.mktemp(request.param)
    return request.param, load_hf_folder(save_tiny_multilingual(folder, request.param, **settings))


@pytest.fixture
def loaded(case):
    return case[1]


def _batch(loaded):
    return loaded.tokenizer(SENTENCES, return_tensors="pt", padding=True)


def _ours(loaded, **settings):
    batch = _batch(loaded)
    memory = loaded.step_model.encode(batch.input_ids, batch.attention_mask)
    config = DecodeConfig(max_length=MAX_NEW, max_length_ratio=0, topk_alternatives=0, **settings)
    return decode(loaded.step_model, memory, config)


def _generate(loaded, **settings):
    """generate() told the target language as the model's users tell it."""
    target = loaded.languages.codes[loaded.languages.target]
    if loaded.languages.target_token == START_TOKEN:
        settings["decoder_start_token_id"] = target
    else:
        settings["forced_bos_token_id"] = target
    return generate_plain(loaded.model, _batch(loaded), **settings)


def test_the_folder_offers_its_codes_and_opens_with_its_default_pair(case):
    family, loaded = case
    source, target = FOLDERS[family][1]
    pair = loaded.languages.pair
    assert (pair.source, pair.target, pair.target_token) == (
        source,
        target,
        FOLDERS[family][2],
    )
    assert {source, target} <= set(pair.codes)
    if family == "nllb":
        assert pair.codes == tuple(NLLB_CODES)  # the tokenizer's extra special tokens
    # the source code marks every input: before it (mBART-50, M2M100, NLLB) or after eos
    ids = _batch(loaded).input_ids[0].tolist()
    code = loaded.languages.codes[source]
    assert ids[-1 if family == "mbart_cc25" else 0] == code


def test_greedy_tokens_and_cross_attention_equal_generate(loaded):
    results = _ours(loaded, strategy="greedy")
    out = _generate(loaded, num_beams=1)
    theirs = assert_same_tokens(loaded, results, out)
    assert len({len(t) for t in theirs}) > 1, "the tiny model should end at different lengths"
    code = loaded.languages.codes[loaded.languages.target]
    piece = loaded.tokenizer.convert_ids_to_tokens(code)  # "__de__" for M2M100's "de"
    forced = loaded.languages.target_token == FORCED_FIRST
    for result in results:
        first = loaded.vocab.model_ids(result.best.tokens[:1])[0]
        assert (first == code) == forced  # the code is the first token, probability 1
        if forced:
            assert result.best.token_log_probs[0] == 0.0
        assert piece not in loaded.text.detokenize(result.best.tokens)
    lengths = _batch(loaded).attention_mask.sum(dim=1).tolist()
    assert_same_attention(loaded, results, out, lengths, beams=False)


def test_beam_tokens_and_attention_follow_generate(loaded):
    results = _ours(loaded, strategy="beam", beam_size=3, length_penalty="none")
    out = _generate(loaded, num_beams=3, early_stopping=True, length_penalty=0.0)
    assert_same_tokens(loaded, results, out)
    lengths = _batch(loaded).attention_mask.sum(dim=1).tolist()
    assert_same_attention(loaded, results, out, lengths, beams=True)


def test_another_pair_marks_the_input_and_forces_its_target(loaded):
    languages = loaded.languages
    default = languages.pair
    source = default.target
    target = next(c for c in default.codes if c not in (default.source, default.target))
    try:
        pair = languages.select(source=source, target=target)
        assert (pair.source, pair.target) == (source, target)
        assert languages.codes[source] in _batch(loaded).input_ids[0].tolist()
        results = _ours(loaded, strategy="greedy")
        assert_same_tokens(loaded, results, _generate(loaded, num_beams=1))
        if languages.target_token == FORCED_FIRST:
            firsts = {loaded.vocab.model_ids(r.best.tokens[:1])[0] for r in results}
            assert firsts == {languages.codes[target]}
    finally:
        languages.select(source=default.source, target=default.target)


def test_an_unknown_code_is_refused_with_the_codes_offered_and_changes_nothing(case):
    family, loaded = case
    languages = loaded.languages
    before = (languages.pair, languages.step_model.forced_first_token)
    near = {"mbart50": "fr_FR", "mbart_cc25": "ro-RO", "m2m100": "dee", "nllb": "fra_latn"}
    with pytest.raises(LanguageError, match=r"unknown target language .*did you mean"):
        languages.select(target=near[family])
    with pytest.raises(LanguageError) as refused:
        languages.select(source=languages.pair.codes[-1], target="klingon")
    message = str(refused.value)
    assert "unknown target language 'klingon'" in message
    assert f"offers {len(languages.codes)} codes: {languages.pair.codes[0]}, " in message
    assert (languages.pair, languages.step_model.forced_first_token) == before


def test_a_folder_with_no_language_codes_has_no_pair(marian):
    assert marian.languages is None
    assert marian.step_model.forced_first_token is None


def test_the_cli_translates_with_the_languages_asked_and_refuses_an_unknown_one(
    case, monkeypatch, capsys
):
    family, loaded = case
    default = loaded.languages.pair
    source = default.target
    target = next(c for c in default.codes if c not in (default.source, default.target))
    folder = str(loaded.folder.path)
    argv = ["translate", "-c", folder, "--device", "cpu", "--json", "--max-length", "6"]
    monkeypatch.setattr("sys.stdin", io.StringIO("bird\n"))
    assert main([*argv, "--src-lang", source, "--tgt-lang", target]) == 0
    captured = capsys.readouterr()
    (record,) = [json.loads(line) for line in captured.out.splitlines()]
    assert f"translates {source} -> {target}\n" in captured.err
    label = loaded.text.readable(
        loaded.tokenizer.convert_ids_to_tokens(
            [loaded.languages.codes[source], loaded.languages.codes[target]]
        )
    )
    assert record["source_pieces"][-1 if family == "mbart_cc25" else 0] == label[0]
    if loaded.languages.target_token == FORCED_FIRST:
        assert record["pieces"][0] == label[1]
    monkeypatch.setattr("sys.stdin", io.StringIO("bird\n"))
    assert main([*argv, "--tgt-lang", "klingon"]) == 2
    assert "error: unknown target language 'klingon'" in capsys.readouterr().err


def test_the_cli_refuses_a_language_for_a_folder_that_offers_none(marian_dir, capsys):
    argv = ["translate", "-c", str(marian_dir), "--device", "cpu", "--tgt-lang", "de"]
    assert main(argv) == 2
    assert "offers no choice of language" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("pieces", "words"),
    [
        (["eng_Latn", "▁the", "▁cat", "</s>"], [-1, 0, 1, -1]),  # NLLB, mBART-50 source
        (["▁the", "▁cat", "</s>", "en_XX"], [0, 1, -1, -1]),  # mBART-cc25 source
        (["__de__", "▁das", "▁Ha", "us"], [-1, 0, 1, 1]),  # M2M100 target
        (["▁snake_Case", "▁en_XX"], [0, 1]),  # a word of the text stays a word
    ],
)
def test_language_codes_are_no_word_for_alignments(pieces, words):
    """Word alignments count the text's words: a code would shift every index by one."""
    assert word_index(pieces) == words


def test_a_reference_is_written_as_the_decoder_produces_it(case):
    """The reference check forces a reference's ids: the target code first where it is
    forced, no code where the decoder starts from it (mBART-cc25)."""
    family, loaded = case
    ids = loaded.vocab.model_ids(loaded.text.target_ids("the cat"))
    code = loaded.languages.codes[loaded.languages.target]
    if family == "mbart_cc25":
        assert code not in ids and loaded.model.config.eos_token_id not in ids
    else:
        assert ids[0] == code and ids.count(code) == 1


def test_codes_outside_the_models_vocabulary_are_not_offered():
    """A tokenizer from a bigger model must not make the decode index past the logits."""
    tokenizer = SimpleNamespace(lang_code_to_id={"en_XX": 5, "fr_XX": 40}, src_lang="en_XX")
    step_model = SimpleNamespace(vocab=SimpleNamespace(size=40), forced_first_token=None)
    model = SimpleNamespace(config=SimpleNamespace(forced_bos_token_id=None))
    languages = FolderLanguages.open("mbart", model, tokenizer, step_model)
    assert languages.pair.codes == ("en_XX",)
    assert step_model.forced_first_token == 5
    tokenizer.lang_code_to_id = {"fr_XX": 40}
    assert FolderLanguages.open("mbart", model, tokenizer, step_model) is None


def test_info_lists_the_codes_the_options_take(case, marian_dir, capsys):
    _, loaded = case
    assert main(["info", str(loaded.folder.path), "--languages"]) == 0
    assert json.loads(capsys.readouterr().out)["language_codes"] == list(loaded.languages.codes)
    assert main(["info", str(marian_dir), "--languages"]) == 0
    assert json.loads(capsys.readouterr().out)["language_codes"] == []
