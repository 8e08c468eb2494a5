"""The decode record: every writer's output validates against the one schema, and the
schema check can fail."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from helpers_checkpoint import captioning_model, tokenizer
from PIL import Image

from attnscope.engine import decode_record
from attnscope.engine.cli import main
from attnscope.engine.decode_record import (
    RECORD_FORMAT,
    RECORD_VERSION,
    caption_record,
    load_schema,
    no_decode_record,
    snapshot_record,
    to_jsonable,
    translation_record,
)
from attnscope.engine.decoding import DecodeConfig

SOURCE = "ein mann fährt fahrrad ."
GREEDY = DecodeConfig(max_length=6, topk_alternatives=3)
BEAM = DecodeConfig(strategy="beam", beam_size=3, n_best=2, max_length=6, topk_alternatives=3)


@pytest.fixture(scope="module")
def validator():
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def valid(validator, record) -> dict:
    """``record`` after a JSON round trip, checked against the schema (errors listed)."""
    document = json.loads(json.dumps(record, allow_nan=False))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert not errors, errors
    assert document["format"] == RECORD_FORMAT and document["version"] == RECORD_VERSION
    return document


@pytest.fixture(scope="module")
def tiny_captioner(tmp_path_factory):
    from attnscope.engine.checkpoint import save_checkpoint
    from attnscope.engine.images import ImagePreprocess

    folder = tmp_path_factory.mktemp("captioner")
    preprocess = ImagePreprocess(size=(32, 32), mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2))
    path = save_checkpoint(
        folder / "cap.safetensors",
        model=captioning_model(),
        tgt_tokenizer=tokenizer("tgt"),
        image_preprocess=preprocess,
    )
    picture = folder / "picture.png"
    rgb = np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(picture)
    broken = folder / "broken.png"
    broken.write_bytes(b"not a picture")
    return path, picture, broken


def _view(model, opened):
    """The SessionSnapshot of ``opened`` (built by engine/snapshot.py)."""
    return opened.snapshot()


def _run_to_end(model, source, config):
    opened = model.open_session(source, config)
    while not opened.done:
        opened.step()
    return _view(model, opened)


# -- the command line ---------------------------------------------------------------------------
@pytest.mark.parametrize("options", [[], ["--beam", "3", "--n-best", "2", "--align"]])
def test_translate_json_lines_are_records(
    validator, tiny_translation_checkpoint, tmp_path, capsys, options
):
    from attnscope.engine.inference import MAX_SOURCE_TOKENS

    lines = [SOURCE, "", "ein " * (MAX_SOURCE_TOKENS * 2), "zwei hunde"]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    argv = ["translate", "-c", str(tiny_translation_checkpoint), "--max-length", "6"]
    assert main([*argv, *options, "--json", "-i", str(source)]) == 0
    rows = [valid(validator, json.loads(line)) for line in capsys.readouterr().out.splitlines()]
    assert [row["source"] for row in rows] == lines
    first, blank, refused, _ = rows
    assert first["task"] == "translation" and first["model"] == str(tiny_translation_checkpoint)
    assert first["settings"]["max_length"] == 6
    assert first["settings"]["strategy"] == ("beam" if options else "greedy")
    attention = np.asarray(first["attention"])  # (T, layers, heads, S)
    assert attention.shape == (len(first["pieces"]), 1, 1, len(first["source_pieces"]))
    assert ("alignment" in first) == bool(options)
    assert len(first["nbest"]) == (2 if options else 1)
    assert blank["translation"] == "" and blank["pieces"] == []
    assert "tokens long" in refused["error"] and "translation" not in refused


def test_translate_json_of_a_model_without_attention(
    validator, tiny_plain_checkpoint, tmp_path, capsys
):
    source = tmp_path / "in.txt"
    source.write_text(SOURCE + "\n", encoding="utf-8")
    argv = ["translate", "-c", str(tiny_plain_checkpoint), "--max-length", "5"]
    assert main([*argv, "--json", "-i", str(source)]) == 0
    row = valid(validator, json.loads(capsys.readouterr().out))
    assert row["attention"] is None


def test_caption_json_lines_are_records(validator, tiny_captioner, capsys):
    checkpoint, picture, broken = tiny_captioner
    argv = ["caption", "-c", str(checkpoint), "--max-length", "4", "--json"]
    assert main([*argv, str(picture), str(broken)]) == 1  # one picture could not be read
    good, bad = [
        valid(validator, json.loads(line)) for line in capsys.readouterr().out.split("\n")[:2]
    ]
    assert good["task"] == "captioning" and good["source"] == str(picture)
    assert good["image"] == "picture.png" and good["grid"] == [2, 2]
    attention = np.asarray(good["attention"])  # (T, layers, heads, h, w)
    assert attention.shape == (len(good["pieces"]), 1, 1, 2, 2)
    np.testing.assert_allclose(attention.sum(axis=(3, 4)), 1, atol=1e-4)
    assert bad["image"] == "broken.png" and bad["error"] and "caption" not in bad


# -- the app's view record ----------------------------------------------------------------------
@pytest.mark.parametrize("config", [GREEDY, BEAM], ids=["greedy", "beam"])
def test_snapshot_records_of_a_translation(validator, tiny_multihead_checkpoint, config):
    from attnscope.engine.inference import load_inference_model

    model = load_inference_model(tiny_multihead_checkpoint, device="cpu")
    snapshot = _run_to_end(model, SOURCE, config)
    record = snapshot_record(
        snapshot, model=tiny_multihead_checkpoint, settings=config, include_tree=True
    )
    row = valid(validator, record)
    assert row["translation"] == snapshot.target_text and row["done"] is True
    assert row["settings"] == to_jsonable(config)
    assert [s["piece"] for s in row["steps"]] == list(snapshot.target_pieces) == row["pieces"]
    assert all(len(s["topk"]) == 3 for s in row["steps"])
    assert np.asarray(row["attention"]).shape == (
        len(snapshot.steps),
        1,  # an RNN decoder: one layer of 4 heads
        4,
        len(snapshot.source_pieces),
    )
    assert row["log_prob"] == pytest.approx(sum(s.log_prob for s in snapshot.steps), abs=1e-4)
    assert isinstance(row["alignment"], str)
    assert ("tree" in row) == (config.strategy == "beam")
    if "tree" in row:
        tree = row["tree"]
        assert len(tree["parent_ids"]) == len(tree["pieces"]) == len(snapshot.tree)
        nodes, heads, positions = snapshot.node_attention.shape
        assert np.asarray(tree["attention"]).shape == (nodes, 1, heads, positions)
        assert any(score is None for score in tree["final_scores"])  # NaN -> null


def test_snapshot_record_of_a_reference_check(validator, tiny_translation_checkpoint):
    from attnscope.engine.inference import load_inference_model
    from attnscope.engine.reference import force_reference

    model = load_inference_model(tiny_translation_checkpoint, device="cpu")
    reference = "a man rides a bike ."
    opened, report = force_reference(model, SOURCE, GREEDY, reference)
    record = snapshot_record(
        _view(model, opened), settings=GREEDY, reference=reference, report=report
    )
    row = valid(validator, record)
    check = row["reference_check"]
    assert check["reference"] == reference and check["tokens"] == list(report.pieces)
    assert check["log_prob"] == pytest.approx(report.log_prob, abs=1e-4)
    assert all(step["forced"] for step in row["steps"])
    without = valid(validator, snapshot_record(_view(model, opened)))
    assert without["settings"] == {} and "reference_check" not in without


@pytest.mark.parametrize("config", [GREEDY, BEAM], ids=["greedy", "beam"])
def test_snapshot_records_of_a_caption(validator, tiny_captioner, config):
    from attnscope.engine.inference import load_inference_model

    checkpoint, picture, _ = tiny_captioner
    model = load_inference_model(checkpoint, device="cpu")
    snapshot = _run_to_end(model, str(picture), config)
    row = valid(validator, snapshot_record(snapshot, settings=config, include_tree=True))
    assert row["caption"] == snapshot.target_text and "translation" not in row
    assert row["source"] == str(picture) and row["image"] == "picture.png"
    assert row["grid"] == [2, 2] and "alignment" not in row
    expected = snapshot.attention.reshape(len(snapshot.steps), 1, 1, 2, 2)
    np.testing.assert_allclose(np.asarray(row["attention"]), expected, rtol=1e-5, atol=1e-7)
    named = snapshot_record(snapshot, image="pasted", image_path="/elsewhere/p.png")
    assert valid(validator, named)["image"] == "pasted"
    assert named["source"] == "/elsewhere/p.png"


# -- the builders on hand-made data ---------------------------------------------------------------
def _translation(**changes):
    from attnscope.engine.inference_results import Translation

    fields = {
        "source": "a b",
        "text": "x",
        "pieces": ("▁x", "</s>"),
        "score": -1.25,
        "attention": np.full((2, 1, 3), 1 / 3, dtype=np.float32),
        "source_pieces": ("▁a", "▁b", "</s>"),
        "nbest": (("x", -1.25),),
        "log_prob": -1.25,
    }
    return Translation(**{**fields, **changes})


def test_command_line_records_keep_the_names_scripts_read_before_the_record_had_a_version(
    validator,
):
    from attnscope.engine.inference_results import Caption

    row = valid(validator, translation_record(_translation()))
    assert row["tokens"] == row["pieces"] == ["▁x", "</s>"]
    assert row["source_tokens"] == row["source_pieces"] == ["▁a", "▁b", "</s>"]
    caption = Caption(text="x", pieces=("▁x",), score=-0.5, grid=(1, 1), attention=None)
    assert valid(validator, caption_record(caption))["tokens"] == ["▁x"]


def test_caption_record_of_pixels_from_no_file(validator):
    from attnscope.engine.inference_results import Caption

    caption = Caption(
        text="x", pieces=("▁x",), score=-0.5, grid=(1, 2), attention=np.ones((1, 2, 1, 2))
    )
    row = valid(validator, caption_record(caption))
    assert row["source"] is None and row["image"] is None


def test_no_decode_record_refuses_an_unknown_task():
    with pytest.raises(ValueError, match="unknown task 'summary'; valid: translation, captioning"):
        no_decode_record(task="summary", source="x")


def test_settings_must_be_a_config_or_a_mapping():
    with pytest.raises(ValueError, match="settings must be a DecodeConfig or a mapping"):
        translation_record(_translation(), settings="beam")


# -- the check can fail -------------------------------------------------------------------------
def _drop(field):
    return lambda row: row.pop(field)


def _set(field, value):
    return lambda row: row.__setitem__(field, value)


BROKEN = {
    "no format": _drop("format"),
    "another format": _set("format", "something.else"),
    "a future version": _set("version", RECORD_VERSION + 1),
    "no settings": _drop("settings"),
    "no translation": _drop("translation"),
    "no attention": _drop("attention"),
    "a caption on a translation": _set("caption", "x"),
    "an unknown task": _set("task", "summary"),
    "attention of the wrong rank": _set("attention", [[0.5, 0.5]]),
    "version 1 attention (no layer axis)": _set("attention", [[[0.5, 0.5]]]),
    "a word piece that is a number": _set("pieces", ["▁x", 3]),
    "a bad alignment": _set("alignment", "0:0"),
    "a NaN written as a string": _set("score", "NaN"),
    "an error beside an output": _set("error", "refused"),
    "a step without its candidates": lambda row: row.__setitem__(
        "steps", [{"token_id": 4, "piece": "▁x", "log_prob": -0.1, "forced": False}]
    ),
}


@pytest.mark.parametrize("breakage", BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_record_fails_validation(validator, breakage):
    row = translation_record(_translation(), settings=GREEDY, align=True)
    validator.validate(row)  # whole, it passes
    broken = copy.deepcopy(row)
    breakage(broken)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_a_caption_record_with_text_shaped_attention_fails(validator):
    from attnscope.engine.inference_results import Caption

    caption = Caption(text="x", pieces=("▁x",), score=0.0, grid=(1, 2), attention=None)
    row = caption_record(caption, source="p.png")
    validator.validate(row)
    row["attention"] = [[[[0.5, 0.5]]]]  # (T, layers, heads, S): a caption's has (h, w)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(row)


# -- to_jsonable ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Settings:
    beam: int
    penalty: float


def test_to_jsonable_one_rule_for_every_float():
    value = {
        "array": np.array([[1 / 3, np.nan], [-np.inf, 2.0]], dtype=np.float32),
        "scalar": np.float64(1 / 3),
        "plain": -123.456789123,
        "tiny": 1.234567891e-9,
        "inf": math.inf,
        "ints": np.array([1, 2], dtype=np.int64),
        "flag": np.bool_(True),
        "tuple": (1, "a"),
        "settings": _Settings(beam=4, penalty=0.6),
        "path": Path("a") / "b.png",
        7: None,
    }
    document = to_jsonable(value)
    assert document == {
        "array": [[0.3333333, None], [None, 2.0]],
        "scalar": 0.3333333,
        "plain": -123.4568,
        "tiny": 1.234568e-9,
        "inf": None,
        "ints": [1, 2],
        "flag": True,
        "tuple": [1, "a"],
        "settings": {"beam": 4, "penalty": 0.6},
        "path": str(Path("a") / "b.png"),
        "7": None,
    }
    assert to_jsonable(document) == document  # idempotent: writing a record twice changes nothing
    assert json.loads(decode_record.json_line(value)) == document


def test_to_jsonable_names_what_it_cannot_write():
    with pytest.raises(ValueError, match="cannot write a object"):
        to_jsonable({"bad": object()})


def test_the_schema_ships_as_package_data():
    import tomllib

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    package_data = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]
    patterns = package_data["attnscope.engine"]
    assert any(Path(decode_record.SCHEMA_FILE).match(p) for p in patterns)
    assert load_schema()["properties"]["version"] == {"const": RECORD_VERSION}


def test_snapshot_record_carries_the_explained_steps(validator, tiny_translation_checkpoint):
    """The Explain panel's attributions ride in the record, one entry per method and foil;
    entries whose rows do not match their steps are refused."""
    from attnscope.engine.decode_record import attribution_entry
    from attnscope.engine.inference import load_inference_model

    model = load_inference_model(tiny_translation_checkpoint, device="cpu")
    snapshot = _run_to_end(model, SOURCE, GREEDY)
    width = len(snapshot.source_pieces)
    scores = np.arange(2 * width, dtype=np.float32).reshape(2, width) / 10
    entries = [
        attribution_entry("ig", [0, 2], scores),
        attribution_entry("saliency", [1], scores[:1], foil=5),
    ]
    row = valid(validator, snapshot_record(snapshot, attributions=entries))
    ig, saliency = row["attributions"]
    assert (ig["method"], ig["foil"], ig["steps"]) == ("ig", None, [0, 2])
    np.testing.assert_allclose(ig["scores"], scores, rtol=1e-6)
    assert (saliency["foil"], saliency["steps"]) == (5, [1])
    assert "attributions" not in snapshot_record(snapshot)  # nothing explained: left out
    with pytest.raises(ValueError, match="len\\(steps\\), S"):
        attribution_entry("ig", [0], scores)
