"""`attnscope align-eval`: forced attention read as word links and scored against gold links."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from attnscope.engine.cli import main
from attnscope.engine.commands.align_eval import forced_attention
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.inference import load_inference_model
from attnscope.engine.reference import force_reference

PAIRS = ["ein mann fährt fahrrad . ||| a man rides a bike .", "zwei hunde ||| two dogs"]
# The diagonal baseline links (0,0) (1,1) (2,2) (2,3) (3,4) (4,5) and (0,0) (1,1): 8 links.
# Gold, 0-based: sure (0,0) (1,2) (2,1) (3,4) (4,5), possible (2,2); sure (0,1) (1,1).
# Sure hits: (0,0) (3,4) (4,5) and (1,1) = 4; possible hits: those and (2,2) = 5.
GOLD = ["1-1 2-3 3-2 4-5 5-6 3p3", "1-2 2-2"]


def write(folder, name, lines):
    path = folder / name
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return str(path)


@pytest.fixture
def gold_set(tmp_path):
    return write(tmp_path, "pairs.txt", PAIRS), write(tmp_path, "gold.txt", GOLD)


def test_the_diagonal_baseline_gets_the_aer_worked_out_by_hand(
    tiny_translation_checkpoint, gold_set, capsys
):
    pairs, gold = gold_set
    argv = ["align-eval", "-c", str(tiny_translation_checkpoint), "--pairs", pairs]
    assert main([*argv, "--gold", gold, "--one-based", "--method", "diagonal", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    figures = result["methods"]["diagonal"]
    assert (figures["predicted"], figures["sure"]) == (8, 7)
    assert (figures["sure_hits"], figures["possible_hits"]) == (4, 5)
    assert figures["aer"] == pytest.approx(1 - (4 + 5) / (8 + 7))
    assert figures["precision"] == pytest.approx(5 / 8)
    assert figures["recall"] == pytest.approx(4 / 7)
    assert (result["scored"], result["skipped"]) == (2, 0)


def test_forced_attention_is_the_attention_of_a_forced_session(tiny_translation_checkpoint):
    model = load_inference_model(tiny_translation_checkpoint, device="cpu")
    source, reference = "ein mann fährt fahrrad .", "a man rides a bike ."
    matrix = forced_attention(model, source, model.target_ids(reference))
    session, _ = force_reference(model, source, DecodeConfig(), reference, compare=False)
    stepped = session.session.attention_matrix()[: matrix.shape[0]]  # (T, heads, S)
    assert matrix.shape == (len(model.target_ids(reference)), stepped.shape[2])
    np.testing.assert_allclose(matrix, stepped.mean(axis=1), atol=1e-5)


def test_a_table_per_method_and_attribution_methods_run(
    tiny_translation_checkpoint, gold_set, capsys
):
    pairs, gold = gold_set
    argv = ["align-eval", "-c", str(tiny_translation_checkpoint), "--pairs", pairs, "--gold", gold]
    assert main([*argv, "--one-based", "--method", "attention", "saliency", "diagonal"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "2 pairs scored; links: pieces"
    assert [line.split()[0] for line in out[1:]] == ["method", "attention", "saliency", "diagonal"]


@pytest.mark.parametrize(
    ("pairs", "gold", "expected"),
    [
        (PAIRS, GOLD[:1], "pairs.txt has 2 lines but .*gold.txt has 1"),
        (PAIRS, ["1-1", "1-1 2=2"], "gold.txt line 2: '2=2' is not a Pharaoh link"),
        (PAIRS, ["1-1", "1-3"], "gold.txt line 2: link 1-3 names target word 3 but the pair has"),
        (["ein ||| a", ""], ["1-1", "1-1"], "pairs.txt line 2 is empty"),
        (PAIRS, ["1-1", ""], "gold.txt line 2 is empty"),
    ],
)
def test_bad_files_exit_2_naming_file_and_line(
    tiny_translation_checkpoint, tmp_path, capsys, pairs, gold, expected
):
    argv = ["align-eval", "-c", str(tiny_translation_checkpoint), "--one-based"]
    argv += ["--pairs", write(tmp_path, "pairs.txt", pairs)]
    assert main([*argv, "--gold", write(tmp_path, "gold.txt", gold)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("attnscope: error: ") and len(err.splitlines()) == 1
    assert re.search(expected, err)


def test_a_model_without_attention_needs_an_attribution_method(
    tiny_plain_checkpoint, gold_set, capsys
):
    pairs, gold = gold_set
    argv = ["align-eval", "-c", str(tiny_plain_checkpoint), "--pairs", pairs, "--gold", gold]
    assert main([*argv, "--one-based"]) == 2
    assert "has no attention; choose an attribution --method" in capsys.readouterr().err
    assert main([*argv, "--one-based", "--method", "occlusion"]) == 0


def test_a_pair_the_model_refuses_is_reported_and_left_out(
    tiny_translation_checkpoint, tmp_path, capsys
):
    long_source = " ".join(["mann"] * 600)
    pairs = write(tmp_path, "pairs.txt", [PAIRS[0], f"{long_source} ||| a man"])
    gold = write(tmp_path, "gold.txt", [GOLD[0], "1-1"])
    argv = ["align-eval", "-c", str(tiny_translation_checkpoint), "--pairs", pairs]
    assert main([*argv, "--gold", gold, "--one-based", "--json"]) == 0
    out, err = capsys.readouterr()
    assert "pairs.txt line 2 skipped: the source text is" in err
    assert (json.loads(out)["scored"], json.loads(out)["skipped"]) == (1, 1)
