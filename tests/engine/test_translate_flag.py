"""`attnscope translate --flag`: the conditions that fired on each line (text and JSON), the
report on stderr, and one clear line with exit 2 for a bad condition spec."""

import json
import re

import jsonschema
import pytest

from attnscope.engine.cli import main
from attnscope.engine.debugger.breakpoints import CONDITIONS
from attnscope.engine.debugger.specs import DEFAULT_SPEC, parse_conditions
from attnscope.engine.decode_record import load_schema

LINES = ["ein mann fährt fahrrad .", "", "zwei hunde spielen im schnee ."]


def translate(checkpoint, tmp_path, capsys, *options):
    """(exit status, stdout lines, stderr) of translate over LINES."""
    source = tmp_path / "in.txt"
    source.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    args = ["translate", "-c", str(checkpoint), "-i", str(source), "--max-length", "8"]
    status = main([*args, *options])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def test_each_line_gets_its_flags_and_stderr_the_report(
    tiny_translation_checkpoint, tmp_path, capsys
):
    # every token has a probability below 1: low_probability fires at every step
    status, lines, err = translate(
        tiny_translation_checkpoint, tmp_path, capsys, "--flag", "low-prob=1.0"
    )
    assert status == 0 and len(lines) == 3 and lines[1] == ""
    status, plain, _ = translate(tiny_translation_checkpoint, tmp_path, capsys)
    for flagged, translation in zip(lines[0::2], plain[0::2], strict=True):
        text, flags = flagged.split(" ||| ")
        assert text == translation
        assert flags.startswith("flags: ")
        steps = [int(item.split("@")[1]) for item in flags[len("flags: ") :].split(", ")]
        assert steps == list(range(len(steps)))  # one hit per token, 0-based
        assert all(item.startswith("low_probability@") for item in flags[7:].split(", "))
    assert "flags over 2 translated lines: 2 unlikely token (low_probability); 0 with none" in err


def test_flag_alone_checks_the_default_conditions_after_the_alignment(
    tiny_translation_checkpoint, tmp_path, capsys
):
    status, lines, err = translate(
        tiny_translation_checkpoint, tmp_path, capsys, "--flag", "--align"
    )
    assert status == 0
    for line in lines[0::2]:
        _text, links, flags = line.split(" ||| ")
        assert re.fullmatch(r"(\d+-\d+( \d+-\d+)*)?", links)  # Pharaoh links come first
        assert flags.startswith("flags: ")
    for condition in parse_conditions(DEFAULT_SPEC):
        assert f"({condition.name})" in err


def test_json_records_carry_flags_and_validate_against_the_schema(
    tiny_translation_checkpoint, tmp_path, capsys
):
    status, lines, _ = translate(
        tiny_translation_checkpoint, tmp_path, capsys, "--json", "--flag", "entropy=0,repeat=1"
    )
    assert status == 0
    validator = jsonschema.Draft202012Validator(load_schema())
    records = [json.loads(line) for line in lines]
    for record in records:
        validator.validate(record)
    first, empty, last = records
    assert "flags" not in empty  # an empty line has no decode to flag
    for record in (first, last):
        assert record["settings"]["step_entropy"] is True  # the entropy condition asked for it
        entropy_steps = [f["step"] for f in record["flags"] if f["condition"] == "entropy"]
        assert entropy_steps == list(range(len(record["pieces"])))
        assert all(f["message"] for f in record["flags"])
        steps = [f["step"] for f in record["flags"]]
        assert steps == sorted(steps)


def test_the_schema_names_every_condition():
    schema = load_schema()
    condition = schema["properties"]["flags"]["items"]["properties"]["condition"]
    assert set(condition["enum"]) == set(CONDITIONS)


def test_the_entropy_is_only_computed_when_a_condition_reads_it(
    tiny_translation_checkpoint, tmp_path, capsys
):
    status, lines, _ = translate(tiny_translation_checkpoint, tmp_path, capsys, "--json", "--flag")
    assert status == 0 and json.loads(lines[0])["settings"]["step_entropy"] is False


def test_a_model_without_attention_is_flagged_with_a_note(tiny_plain_checkpoint, tmp_path, capsys):
    status, lines, err = translate(tiny_plain_checkpoint, tmp_path, capsys, "--flag")
    assert status == 0 and all(" ||| flags: " in line for line in lines[0::2])
    assert "has no attention, so uncovered_at_eos, over_covered never fire" in err


@pytest.mark.parametrize(
    "spec, message",
    [
        ("warp=2", "unknown condition 'warp=2' in --flag; valid: entropy"),
        ("repeat=two", "--flag 'repeat=two': 'two' is not a number"),
        ("repeat=0", "--flag 'repeat=0': n must be in 1..50, got 0"),
        ("uncovered=-1", "threshold must be a finite number"),
        ("no-eos=0", "no_eos needs max_steps or length_ratio above 0"),
        ("token=", "token needs a value"),
        (",", "names no condition"),
    ],
)
def test_a_bad_spec_is_one_line_and_exit_2_before_the_checkpoint_loads(
    tmp_path, capsys, spec, message
):
    missing = tmp_path / "nowhere.safetensors"  # the spec is refused first
    status = main(["translate", "-c", str(missing), "--flag", spec])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and message in err and err.startswith("attnscope: error: ")
