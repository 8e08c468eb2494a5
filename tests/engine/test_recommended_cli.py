"""--recommended: the checkpoint's recommended decoding fills the options left at their defaults."""

import argparse

import pytest

from attnscope.engine.cli import main
from attnscope.engine.commands.common import add_decode_arguments, decode_config_from_args

RECOMMENDED = {"strategy": "beam", "beam_size": 5, "length_penalty": "gnmt", "alpha": 1.5}


def config_for(*options, recommended=RECOMMENDED):
    parser = argparse.ArgumentParser()
    add_decode_arguments(parser)
    args = parser.parse_args(["-c", "model.safetensors", *options])
    return decode_config_from_args(args, text=True, recommended=recommended)


def test_recommended_settings_apply_only_when_asked():
    plain = config_for()
    assert (plain.strategy, plain.length_penalty) == ("greedy", "none")
    chosen = config_for("--recommended")
    assert (chosen.strategy, chosen.beam_size, chosen.length_penalty, chosen.alpha) == (
        "beam",
        5,
        "gnmt",
        1.5,
    )


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--alpha", "1.0"], ("beam", 5, 1, 1.0)),
        (["--beam", "3"], ("beam", 3, 1, 1.5)),
        (["--n-best", "3"], ("beam", 5, 3, 1.5)),
        (["--sample"], ("sampling", 5, 1, 1.5)),
    ],
)
def test_options_given_with_recommended_win(options, expected):
    config = config_for("--recommended", *options)
    assert (config.strategy, config.beam_size, config.n_best, config.alpha) == expected


def test_a_checkpoint_without_a_recommendation_says_so_and_uses_the_options(capsys):
    config = config_for("--recommended", "--beam", "2", recommended=None)
    assert (config.strategy, config.beam_size) == ("beam", 2)
    assert "recommends no decoding settings" in capsys.readouterr().err


def test_translate_with_recommended_on_a_checkpoint_without_one(
    tiny_translation_checkpoint, capsys, monkeypatch
):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("ein mann .\n"))
    args = ["translate", "-c", str(tiny_translation_checkpoint), "--max-length", "6"]
    assert main([*args, "--recommended"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1 and "recommends no decoding" in captured.err


def test_translate_with_recommended_uses_the_checkpoints_settings_without_a_note(
    tiny_translation_checkpoint, tmp_path, capsys, monkeypatch
):
    import io
    import json

    from attnscope.engine.checkpoint import load_checkpoint, save_checkpoint

    checkpoint = load_checkpoint(tiny_translation_checkpoint)
    path = save_checkpoint(
        tmp_path / "rec.safetensors",
        model=checkpoint.model,
        src_tokenizer=checkpoint.src_tokenizer,
        tgt_tokenizer=checkpoint.tgt_tokenizer,
        info={**checkpoint.info, "recommended_decoding": {"strategy": "beam", "beam_size": 3}},
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("ein mann .\n"))
    args = ["translate", "-c", str(path), "--max-length", "6", "--n-best", "2", "--json"]
    assert main([*args, "--recommended"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)["nbest"]) == 2  # a beam: the recommendation applied
    assert "recommends no decoding" not in captured.err
