"""Classes of hostile checkpoints (issue 23 item 11): each case is refused by ``load_checkpoint``
and ``read_checkpoint_info`` with a CheckpointError naming the field, and by ``attnscope info``
and ``attnscope translate`` with one line on stderr and exit status 2.

The cases live in ``benchmarks/hostile_checkpoint_cases.py``, named by class, so the
reliability suite and the fuzzers use the same builders.
"""

from __future__ import annotations

import io
import tracemalloc

import pytest
from helpers_checkpoint import captioning_model, save_translation, tokenizer

from attnscope.engine.checkpoint import load_checkpoint, read_checkpoint_info, save_checkpoint
from attnscope.engine.cli import main
from attnscope.engine.errors import CheckpointError, InputTextError
from attnscope.engine.tokenizers import MAX_TEXT_CHARS, TextTokenizer
from benchmarks.hostile_checkpoint_cases import CASES, TEXT_CASES

pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    """A valid translation and captioning checkpoint to derive the hostile cases from."""
    folder = tmp_path_factory.mktemp("seeds")
    return {
        "translation": save_translation(folder / "valid.safetensors"),
        "captioning": save_checkpoint(
            folder / "caption.safetensors", model=captioning_model(), tgt_tokenizer=tokenizer("tgt")
        ),
    }


def _build(case, seeds, tmp_path):
    return CASES[case].build(tmp_path, seeds[CASES[case].seed])


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_case_is_refused_naming_the_field(case, seeds, tmp_path):
    path = _build(case, seeds, tmp_path)
    readers = (
        [load_checkpoint] if CASES[case].load_only else [read_checkpoint_info, load_checkpoint]
    )
    for reader in readers:
        with pytest.raises(CheckpointError, match=CASES[case].pattern) as caught:
            reader(path)
        assert path.name in str(caught.value)
        assert "\n" not in str(caught.value)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", ["info", "translate"])
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_cli_gives_one_line_and_exit_2(case, command, seeds, tmp_path, capsys, monkeypatch):
    if command == "info" and CASES[case].load_only:
        pytest.skip("info reads no weights")
    path = _build(case, seeds, tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO("hallo welt\n"))
    args = ["info", str(path)] if command == "info" else ["translate", "-c", str(path)]
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("attnscope: error: "), captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_refusing_a_deep_or_huge_value_takes_little_memory(seeds, tmp_path):
    """The 100,000-deep training_info and the 5,000-digit number are refused while parsing."""
    for case in ("json_deep_training_info", "json_long_int_model_config"):
        path = _build(case, seeds, tmp_path)
        tracemalloc.start()
        try:
            with pytest.raises(CheckpointError):
                read_checkpoint_info(path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 64 * 1024 * 1024, f"{case}: {peak:,} bytes"


def test_the_valid_seeds_load(seeds):
    """Control: the seeds themselves pass every new check (bounds, finite, parameter count)."""
    for path in seeds.values():
        assert load_checkpoint(path).model is not None


# -- an expanding normalizer ----------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(TEXT_CASES))
def test_a_line_that_would_expand_is_refused_in_bounded_memory(case, tmp_path):
    model, text, pattern = TEXT_CASES[case](tmp_path)
    tokenizer = TextTokenizer.from_bytes(model)
    tracemalloc.start()
    try:
        with pytest.raises(InputTextError, match=pattern):
            tokenizer.encode(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"{case}: {peak:,} bytes"
    assert tokenizer.encode("hello") != []  # short lines still tokenize


def test_an_ordinary_tokenizer_takes_the_longest_line_allowed():
    ids = tokenizer("src").encode("der hund " * (MAX_TEXT_CHARS // 9))
    assert len(ids) > 1000
