"""The step-score strip and the chips it colours, on hand-made view records (no model)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from attnscope.engine.inference_results import SessionSnapshot, TokenStep
from attnscope.gui.decode_state import DecodeState
from attnscope.gui.step_score_strip import StepScoreStrip, confidence, step_score
from attnscope.gui.token_chips import TokenChips


def token_step(piece: str, probs: list[float], entropy: float | None = None) -> TokenStep:
    """A step that chose the first of ``probs`` (its top-k, most probable first)."""
    return TokenStep(
        token_id=1,
        piece=piece,
        log_prob=math.log(probs[0]),
        topk_ids=np.arange(1, len(probs) + 1),
        topk_probs=np.asarray(probs, dtype=np.float32),
        topk_pieces=tuple(f"t{i}" for i in range(len(probs))),
        forced=False,
        entropy=entropy,
    )


STEPS = (
    token_step("▁a", [0.9, 0.05], entropy=0.4),
    token_step("▁dog", [0.5, 0.25], entropy=1.2),
    token_step("▁runs", [0.2, 0.2], entropy=None),  # a tie; entropy not recorded
)


def snapshot_of(steps) -> SessionSnapshot:
    return SessionSnapshot(
        source_text="ein hund läuft",
        source_pieces=("▁ein", "▁hund", "▁läuft", "</s>"),
        target_pieces=tuple(s.piece for s in steps),
        target_text="a dog runs",
        steps=tuple(steps),
        attention=None,
        num_heads=0,
        done=True,
        strategy="greedy",
    )


def test_the_four_scores_of_a_step():
    first, second, tie = STEPS
    assert step_score(first, "probability") == pytest.approx(0.9)
    assert step_score(first, "surprisal") == pytest.approx(-math.log(0.9))
    assert step_score(first, "entropy") == pytest.approx(0.4)
    assert step_score(second, "margin") == pytest.approx(math.log(2.0), rel=1e-6)  # ln p1/p2
    assert step_score(tie, "margin") == pytest.approx(0.0, abs=1e-6)
    assert math.isnan(step_score(tie, "entropy"))
    assert confidence("surprisal", step_score(first, "surprisal")) == pytest.approx(0.9)
    assert confidence("margin", math.log(2.0)) == pytest.approx(0.5)  # 1 - p2 / p1
    assert confidence("entropy", 0.0) == 1.0
    with pytest.raises(ValueError, match="unknown step score 'perplexity'"):
        step_score(first, "perplexity")


def test_the_strip_follows_the_state_and_selects_a_step_on_click(qtbot):
    state = DecodeState()
    strip = StepScoreStrip(state)
    qtbot.addWidget(strip)
    strip.resize(600, 30)
    strip.show()
    state.set_snapshot(snapshot_of(STEPS))
    np.testing.assert_allclose(strip.values(), [0.9, 0.5, 0.2], rtol=1e-6)
    strip.set_score("entropy")
    assert strip.values()[:2].tolist() == pytest.approx([0.4, 1.2])
    assert math.isnan(strip.values()[2])
    cells = strip.cells
    assert "entropy not recorded" in cells.tips[2] and "margin 0.000 nats" in cells.tips[2]
    with qtbot.waitSignal(strip.stepSelected) as picked:
        qtbot.mouseClick(cells, Qt.LeftButton, pos=QPoint(cells.width() * 5 // 6, 10))
    assert picked.args == [2]


def test_chips_take_the_chosen_scores_colour_and_numbers(qtbot):
    state = DecodeState()
    strip = StepScoreStrip(state)
    chips = TokenChips()
    qtbot.addWidget(strip)
    qtbot.addWidget(chips)
    state.set_snapshot(snapshot_of(STEPS))
    chips.set_tokens([s.piece for s in STEPS], [s.log_prob for s in STEPS], STEPS)
    assert [c.property("band") for c in chips.chips] == ["sure", "unsure", "doubtful"]
    strip.scoreChanged.connect(lambda _name: chips.set_scoring(strip.chip_scoring()))
    strip.set_score("margin")  # 1 - p2/p1: 0.94, 0.5, 0 (a tie)
    assert [c.property("band") for c in chips.chips] == ["sure", "unsure", "doubtful"]
    strip.set_score("entropy")  # exp(-H): 0.67, 0.30; not recorded: the probability's band
    assert [c.property("band") for c in chips.chips] == ["unsure", "doubtful", "doubtful"]
    assert "colour: entropy" in chips.chips[0].toolTip()
    assert "probability 0.900" in chips.chips[0].toolTip()
    chips.set_scoring(None)
    assert [c.property("band") for c in chips.chips] == ["sure", "unsure", "doubtful"]
