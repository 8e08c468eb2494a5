"""Property-based fuzzing with small budgets: checkpoint files, text and pictures.

The same strategies and invariants run 10,000 inputs a target in
``benchmarks/fuzz.py``; here a few dozen each (derandomized, so the suite is
repeatable) plus the named hostile cases as explicit examples.
"""

from __future__ import annotations

import numpy as np
import pytest
from fuzz_checkpoints import HOSTILE_JSON_TEXTS, CheckpointCase, checkpoint_inputs
from fuzz_images import ImageCase, image_inputs
from fuzz_inputs import FuzzModels, InvariantViolation, check_attention_rows, text_inputs
from fuzz_text_files import TextFileCase, text_file_inputs
from hypothesis import HealthCheck, example, given, settings

# torch warns about the pickle protocol of random bytes before refusing them
pytestmark = pytest.mark.filterwarnings(
    "ignore:Detected pickle protocol:UserWarning",
    "ignore:Truncated File Read:UserWarning",
    "ignore::RuntimeWarning",
)

SUITE = settings(
    max_examples=30,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return FuzzModels(tmp_path_factory.mktemp("fuzz"))


def _allowed(outcome: str) -> bool:
    return outcome == "accepted" or outcome.startswith("refused: ")


@SUITE
@given(case=checkpoint_inputs())
@example(case=CheckpointCase("random", ".safetensors", data=b""))
@example(case=CheckpointCase("random", ".pt", data=b"\x80\x04K\x01."))
@example(case=CheckpointCase("translation", ".safetensors", ops=(("truncate", "any", 4000),)))
@example(case=CheckpointCase("translation", ".safetensors", ops=(("set", "head", 7, 64),)))
@example(
    case=CheckpointCase(
        "translation", ".safetensors", ops=(("spm", False, (("truncate", "any", 99),)),)
    )
)
@example(case=CheckpointCase("captioning", ".safetensors", ops=(("json", 3, {"x": None}),)))
@example(case=CheckpointCase("pt", ".pt", ops=(("sidecar", 0, [1, 2]),)))
@example(case=CheckpointCase("pt", ".pt", ops=(("sidecar_text", HOSTILE_JSON_TEXTS[0]),)))
@example(case=CheckpointCase("pt", ".pt", ops=(("sidecar_text", HOSTILE_JSON_TEXTS[2]),)))
@example(
    case=CheckpointCase(
        "translation", ".safetensors", ops=(("meta_text", 0, HOSTILE_JSON_TEXTS[1]),)
    )
)
@example(
    case=CheckpointCase(
        "translation", ".safetensors", ops=(("meta_text", 3, HOSTILE_JSON_TEXTS[3]),)
    )
)
@example(
    case=CheckpointCase(
        "captioning", ".safetensors", ops=(("meta_text", 1, HOSTILE_JSON_TEXTS[4]),)
    )
)
@example(
    case=CheckpointCase("captioning", ".safetensors", ops=(("recommend", {"max_length": 10**9}),))
)
@example(case=CheckpointCase("translation", ".safetensors", ops=(("json", 5, 100_000),)))
def test_a_checkpoint_file_loads_or_is_refused_with_checkpoint_error(models, case):
    assert _allowed(models.check_checkpoint(case))


@SUITE
@given(case=text_inputs())
@example(case=("a\ud800b\udfff", "greedy"))  # lone surrogates
@example(case=("\u202eمرحبا עולם\u202c 😀👩‍👩‍👧", "beam"))
@example(case=("x" * 10_000, "greedy"))
@example(case=("x" * 10_001, "greedy"))
@example(case=("", "sampling"))
@example(case=("\x00\x1b[31m\x7f", "greedy"))
def test_any_text_translates_or_is_refused_with_input_text_error(models, case):
    assert _allowed(models.check_text(case))


@SUITE
@given(case=image_inputs())
@example(case=ImageCase("declared", fmt="PNG", size=(20_000, 20_000)))
@example(case=ImageCase("declared", fmt="JPEG", size=(65_535, 65_535)))
@example(case=ImageCase("picture", fmt="JPEG", mode="CMYK", size=(9, 7)))
@example(case=ImageCase("picture", fmt="PNG", mode="I;16", size=(5, 5)))
@example(case=ImageCase("picture", fmt="GIF", mode="P", size=(6, 4), frames=3))
@example(case=ImageCase("picture", fmt="PNG", size=(30, 30), damage=(("truncate", 120),)))
@example(case=ImageCase("picture", fmt="JPEG", size=(30, 30), damage=(("truncate", 300),)))
@example(case=ImageCase("picture", fmt="PNG", size=(1, 1)))
@example(case=ImageCase("bytes", data=b"GIF89a\x00"))
@example(case=ImageCase("odd_path", mode="directory"))
@example(case=ImageCase("odd_path", mode="fifo"))
@example(case=ImageCase("odd_path", mode="device_link"))
@example(case=ImageCase("odd_path", mode="link_loop"))
@example(case=ImageCase("odd_path", mode="broken_link"))
@example(case=ImageCase("odd_path", mode="not_utf8_name"))
def test_any_picture_captions_or_is_refused_with_image_input_error(models, case):
    assert _allowed(models.check_image(case))


@SUITE
@given(case=text_file_inputs())
@example(case=TextFileCase((b"der hund\xe2\x80\xa8l\xc3\xa4uft", b"hallo\x0cwelt\x1e!")))
@example(case=TextFileCase((b"die \xc2\x85katze\xe2\x80\xa9", b"\x1c\x1d\x0b\r."), crlf=True))
@example(case=TextFileCase((b"caf\xe9", b"ok", b"\xed\xa0\xbd\xed\xb8\x80", b"\xff\xc3")))
@example(case=TextFileCase((b"hallo", b"", b"welt \xc0\xaf"), final_newline=False, gzip=True))
@example(case=TextFileCase(()))
def test_any_text_file_keeps_one_line_per_line_and_names_its_bad_lines(models, case):
    assert _allowed(models.check_text_file(case))


def test_the_named_cases_reach_both_outcomes(models):
    """The fixtures really exercise the targets: a clean input is accepted, a bad one refused."""
    assert models.check_checkpoint(CheckpointCase("translation", ".safetensors")) == "accepted"
    assert models.check_checkpoint(CheckpointCase("pt", ".pt")) == "accepted"
    assert "not valid JSON" in models.check_checkpoint(
        CheckpointCase("translation", ".safetensors", ops=(("set", "head", 8, 0),))
    )
    assert models.check_text(("der hund läuft", "beam")) == "accepted"
    assert "megapixels" in models.check_image(ImageCase("declared", fmt="PNG", size=(9000, 9000)))


@pytest.mark.parametrize(
    "rows",
    [np.array([[0.5, 0.6]]), np.array([[1.5, -0.5]]), np.array([[np.nan, 1.0]])],
)
def test_the_attention_invariant_catches_bad_rows(rows):
    with pytest.raises(InvariantViolation):
        check_attention_rows(rows, 2, "test")
    check_attention_rows(np.array([[0.25, 0.75], [1.0, 0.0]]), 2, "test")
