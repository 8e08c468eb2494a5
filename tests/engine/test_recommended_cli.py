"""The checkpoint's recommended decoding fills the options left at their defaults, by default;
--no-recommended takes the options alone."""

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


def test_recommended_settings_apply_by_default_and_no_recommended_turns_them_off():
    for chosen in (config_for(), config_for("--recommended")):
        assert (chosen.strategy, chosen.beam_size, chosen.length_penalty, chosen.alpha) == (
            "beam",
            5,
            "gnmt",
            1.5,
        )
    plain = config_for("--no-recommended")
    assert (plain.strategy, plain.length_penalty) == ("greedy", "none")


def test_recommended_and_no_recommended_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        config_for("--recommended", "--no-recommended")
    assert "not allowed with" in capsys.readouterr().err


def test_an_explicit_beam_of_one_is_greedy_even_with_a_recommendation():
    assert config_for("--beam", "1").strategy == "greedy"


def test_a_checkpoint_without_a_recommendation_decodes_the_options_quietly(capsys):
    config = config_for(recommended=None)
    assert config.strategy == "greedy"
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--alpha", "1.0"], ("beam", 5, 1, 1.0)),
        (["--beam", "3"], ("beam", 3, 1, 1.5)),
        (["--n-best", "3"], ("beam", 5, 3, 1.5)),
        (["--sample"], ("sampling", 5, 1, 1.5)),
    ],
)
def test_options_given_win_over_the_recommendation(options, expected):
    config = config_for(*options)
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


def _with_recommendation(source, target, recommended):
    from attnscope.engine.checkpoint import load_checkpoint, save_checkpoint

    checkpoint = load_checkpoint(source)
    return save_checkpoint(
        target,
        model=checkpoint.model,
        src_tokenizer=checkpoint.src_tokenizer,
        tgt_tokenizer=checkpoint.tgt_tokenizer,
        info={**checkpoint.info, "recommended_decoding": recommended},
    )


def _translate_json(monkeypatch, capsys, *args):
    import io
    import json

    monkeypatch.setattr("sys.stdin", io.StringIO("ein mann .\n"))
    assert main(["translate", *args, "--max-length", "6", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_translate_decodes_with_the_recommendation_by_default_and_a_flag_wins(
    tiny_translation_checkpoint, tmp_path, capsys, monkeypatch
):
    recommended = {"strategy": "beam", "beam_size": 3, "n_best": 3}
    path = str(
        _with_recommendation(tiny_translation_checkpoint, tmp_path / "r.safetensors", recommended)
    )
    record = _translate_json(monkeypatch, capsys, "-c", path)
    assert len(record["nbest"]) == 3  # beam 3, n-best 3: nothing asked, the checkpoint's choice
    assert len(_translate_json(monkeypatch, capsys, "-c", path, "--no-recommended")["nbest"]) == 1
    assert len(_translate_json(monkeypatch, capsys, "-c", path, "--n-best", "2")["nbest"]) == 2


def test_an_unusable_recommendation_is_one_line_and_exit_2(
    tiny_translation_checkpoint, tmp_path, capsys, monkeypatch
):
    import io

    bad = {"strategy": "beam", "beam_width": 3}  # not a DecodeConfig field
    path = _with_recommendation(tiny_translation_checkpoint, tmp_path / "bad.safetensors", bad)
    monkeypatch.setattr("sys.stdin", io.StringIO("ein mann .\n"))
    assert main(["translate", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "recommended_decoding" in err


def test_a_recommendation_decode_config_refuses_is_named(capsys):
    with pytest.raises(ValueError, match=r"recommended_decoding is unusable.*--no-recommended"):
        config_for(recommended={"strategy": "beam", "beam_size": 0})


@pytest.mark.parametrize(("extra", "strategy"), [([], "beam"), (["--no-recommended"], "greedy")])
def test_evaluate_and_score_decode_with_the_recommendation_by_default(
    tiny_translation_checkpoint, tmp_path, capsys, extra, strategy
):
    import json

    path = _with_recommendation(
        tiny_translation_checkpoint,
        tmp_path / "r.safetensors",
        {"strategy": "beam", "beam_size": 3},
    )
    src, ref = tmp_path / "src.txt", tmp_path / "ref.txt"
    src.write_text("ein mann .\neine frau .\n", encoding="utf-8")
    ref.write_text("a man .\na woman .\n", encoding="utf-8")
    files = ["--src", str(src), "--ref", str(ref), "--max-length", "6", "--json", *extra]
    assert main(["evaluate", "-c", str(path), *files]) == 0
    assert json.loads(capsys.readouterr().out)["decoding"] == strategy
