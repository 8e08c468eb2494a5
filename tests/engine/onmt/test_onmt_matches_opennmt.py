"""An imported OpenNMT-py 3.5.1 model decodes as onmt_translate did (tests/data/onmt/).

The references were made by scripts/make_onmt_fixture.sh: greedy (one sentence a batch,
with -attn_debug) and beam 5 with onmt_translate's defaults (length penalty avg,
max length min(250, 1.25 x source + 5)); the imported file recommends those settings.
"""

from __future__ import annotations

import numpy as np
import pytest

from attnscope.engine.batch import translate_texts
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.pieces import EOS_PIECE

from .onmt_fixtures import FIXTURES, MODELS, lines, read_attn_debug

PRESENT = [name for name in MODELS if (FIXTURES / name / "model.pt").exists()]


@pytest.mark.parametrize("name", PRESENT)
def test_greedy_translations_equal_onmt_translate(imported, name):
    model = imported(name)
    sources = lines(FIXTURES / name / "test.src")
    greedy = DecodeConfig(strategy="greedy", max_length=250, max_length_ratio=1.25)
    outputs = [t.text for t in translate_texts(model, sources, greedy)]
    assert outputs == lines(FIXTURES / name / "greedy.txt")


@pytest.mark.parametrize("name", PRESENT)
def test_beam5_translations_equal_onmt_translate(imported, name):
    model = imported(name)
    recommended = model.checkpoint.info["recommended_decoding"]
    assert recommended["beam_size"] == 5 and recommended["length_penalty"] == "average"
    sources = lines(FIXTURES / name / "test.src")
    outputs = [t.text for t in translate_texts(model, sources, DecodeConfig(**recommended))]
    assert outputs == lines(FIXTURES / name / "beam5.txt")


@pytest.mark.parametrize("name", PRESENT)
def test_attention_equals_attn_debug(imported, name):
    """Every greedy step's attention, source token by source token, to 1e-4 (onmt prints
    7 decimals); the output tokens and source tokens are the ones onmt_translate printed."""
    model = imported(name)
    sources = lines(FIXTURES / name / "test.src")
    reports = read_attn_debug(FIXTURES / name / "greedy_attn.log")
    assert len(reports) == len(sources)
    greedy = DecodeConfig(strategy="greedy", max_length=250, max_length_ratio=1.25)
    for source, report in zip(sources, reports, strict=True):
        (result,) = translate_texts(model, [source], greedy)
        words = [p.removeprefix("\u2581") for p in result.source_pieces]
        assert len(words) == len(report.source)  # no eos on an OpenNMT-py source
        unknown = [w if r != "<unk>" else r for w, r in zip(words, report.source, strict=True)]
        assert unknown == report.source
        outputs = [p.removeprefix("\u2581") for p in result.pieces]
        assert outputs == [EOS_PIECE if t == "</s>" else t for t in report.output]
        attention = result.attention[:, 0, :]  # (T, S): one head
        np.testing.assert_allclose(attention, report.weights, atol=1e-4, rtol=0)
