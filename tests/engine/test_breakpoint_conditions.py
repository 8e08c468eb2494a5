"""Breakpoint conditions on hand-made hypotheses: each fires exactly where it should and
nowhere else, with a message naming what it saw; a trace refuses arrays that do not fit."""

import numpy as np
import pytest

from attnscope.engine.debugger.breakpoints import (
    BreakpointHit,
    Breakpoints,
    EntropyAbove,
    LowProbability,
    NoEos,
    OverCovered,
    RepeatedNgram,
    StuckAttention,
    TokenProduced,
    TraceLabels,
    UncoveredAtEos,
)
from attnscope.engine.debugger.coverage import content_positions, running_coverage
from attnscope.engine.debugger.trace import HypothesisTrace
from attnscope.engine.decoding.config import EOS_ID

A, B, C, D, E = 4, 5, 6, 7, 8


def one_hot(positions, source_length, heads=1):
    """(T, heads, S) attention with all the mass on one source position per step."""
    attention = np.zeros((len(positions), heads, source_length), dtype=np.float32)
    for t, s in enumerate(positions):
        attention[t, :, s] = 1.0
    return attention


def hypothesis(tokens, log_probs=None, entropies=None, attention=None, source_length=4, **kw):
    """The trace of a hand-made finished hypothesis (log-probabilities 0 unless given)."""
    log_probs = np.zeros(len(tokens)) if log_probs is None else log_probs
    return HypothesisTrace.from_arrays(tokens, log_probs, entropies, attention, source_length, **kw)


def scan(condition, tokens, *, probs=None, entropies=None, attention=None, source_length=4, **kw):
    """Steps at which ``condition`` fires over a hand-made hypothesis."""
    probs = np.full(len(tokens), 0.9) if probs is None else np.asarray(probs)
    log_probs = np.log(probs).astype(np.float32)
    trace = hypothesis(tokens, log_probs, entropies, attention, source_length, **kw)
    hits = Breakpoints([condition]).scan(trace)
    assert all(hit.condition == condition.name for hit in hits)
    return [hit.step for hit in hits]


# -- each condition fires exactly where it should -------------------------------------------


def test_entropy_fires_where_the_entropy_exceeds_the_threshold_and_never_unrecorded():
    tokens = [A, B, C, D]
    entropies = np.array([0.5, 3.5, 3.0, 4.0], dtype=np.float32)
    assert scan(EntropyAbove(3.0), tokens, entropies=entropies) == [1, 3]
    assert scan(EntropyAbove(3.0), tokens, entropies=None) == []
    (hit, _) = Breakpoints([EntropyAbove(3.0)]).scan(
        hypothesis(tokens, np.zeros(4), entropies, None, source_length=4)
    )
    assert hit.message == "entropy 3.50 > 3.00 at step 2"


def test_low_probability_fires_on_unlikely_chosen_tokens_and_names_them():
    labels = TraceLabels(piece=lambda token: f"▁w{token}")
    probs = [0.9, 0.1, 0.21, 0.19, 0.5]
    assert scan(LowProbability(0.2), [A, B, C, D, E], probs=probs) == [1, 3]
    (hit, _) = Breakpoints([LowProbability(0.2)]).scan(
        hypothesis([A, B, C, D, E], np.log(probs), None, None, 4, labels=labels)
    )
    assert hit.message == "p('▁w5') = 0.100 < 0.200 at step 2"


def test_a_repeated_ngram_fires_where_each_repeat_starts_not_at_every_step_of_a_loop():
    tokens = [A, B, C, A, B, D, A, B, C, A]
    # (A B) repeats at 4; (A B) again at 7 starts a run that (B C), (C A) continue
    assert scan(RepeatedNgram(2), tokens) == [4, 7]
    assert scan(RepeatedNgram(3), tokens) == [8]
    assert scan(RepeatedNgram(1), [A, A, A, B, A]) == [1, 4]
    assert scan(RepeatedNgram(2), [A, B, C, D, EOS_ID]) == []


def test_a_repeat_message_names_the_ngram_and_where_it_was_seen():
    labels = TraceLabels(piece={A: "▁a", B: "▁man", C: "▁sits"}.get)
    (hit,) = Breakpoints([RepeatedNgram(2)]).scan(
        hypothesis([A, B, C, A, B], np.zeros(5), None, None, 3, labels=labels)
    )
    assert hit == BreakpointHit(
        4, "repeated_ngram", "repeated 2-gram '▁a' '▁man' at step 5 (seen at steps 1–2)"
    )


def test_stuck_attention_fires_at_the_kth_step_on_one_position_once_per_run():
    positions = [0, 1, 1, 1, 1, 2, 2, 2, 0]
    attention = one_hot(positions, 4, heads=2)
    assert scan(StuckAttention(3), [A] * 9, attention=attention) == [3, 7]
    assert scan(StuckAttention(5), [A] * 9, attention=attention) == []
    assert scan(StuckAttention(3), [A] * 9, attention=None) == []


def test_stuck_attention_averages_the_heads():
    attention = np.zeros((3, 2, 3), dtype=np.float32)
    attention[:, 0, 0] = 0.6  # head 0 leans to position 0 ...
    attention[:, 0, 1] = 0.4
    attention[:, 1, 1] = 1.0  # ... head 1 is all on position 1: together position 1 leads
    labels = TraceLabels(source_pieces=("▁ein", "▁Hund", "</s>"))
    (hit,) = Breakpoints([StuckAttention(3)]).scan(
        hypothesis([A, B, C], np.zeros(3), None, attention, 3, labels=labels)
    )
    assert hit.message == "attention stuck on '▁Hund' (source 1) for 3 steps (steps 0–2)"


def test_uncovered_at_eos_fires_when_eos_is_chosen_or_proposed_with_a_source_word_missed():
    tokens = [A, B, EOS_ID]
    attention = one_hot([0, 1, 3], 4)  # position 2 never looked at; 3 is the source's </s>
    assert scan(UncoveredAtEos(0.5), tokens, attention=attention) == [2]
    # the model's first candidate was eos already at step 1 (not taken)
    assert scan(UncoveredAtEos(0.5), tokens, attention=attention, top_ids=[A, EOS_ID, EOS_ID]) == [
        1,
        2,
    ]
    covered = one_hot([0, 1, 2], 4)
    assert scan(UncoveredAtEos(0.5), tokens, attention=covered) == []  # </s> left out
    # a picture's cells have no </s>: the last one counts
    assert scan(UncoveredAtEos(0.5), tokens, attention=covered, source_eos=False) == [2]


def test_uncovered_at_eos_lists_the_least_covered_words():
    attention = np.full((2, 1, 5), 0.25, dtype=np.float32)
    attention[:, 0, 1] = 0.0
    labels = TraceLabels(source_pieces=("▁a", "▁b", "▁c", "▁d", "</s>"))
    (hit,) = Breakpoints([UncoveredAtEos(0.6)]).scan(
        hypothesis([A, EOS_ID], np.zeros(2), None, attention, 5, labels=labels)
    )
    assert hit.message == (
        "eos chosen at step 2 with 4 source word(s) covered < 0.60: '▁b' (source 1) 0.00, "
        "'▁a' (source 0) 0.50, '▁c' (source 2) 0.50 and 1 more"
    )


def test_uncovered_at_eos_counts_a_split_word_once_when_the_pieces_are_known():
    pieces = TraceLabels(source_pieces=("▁eine", "m", "▁Hund", "</s>"))
    tokens = [A, B, EOS_ID]
    first_piece = one_hot([0, 2, 3], 4)  # 'm' itself gets nothing, its word does
    assert scan(UncoveredAtEos(0.5), tokens, attention=first_piece, labels=pieces) == []
    assert scan(UncoveredAtEos(0.5), tokens, attention=first_piece) == [2]  # by piece
    (hit,) = Breakpoints([UncoveredAtEos(0.5)]).scan(
        hypothesis(tokens, np.zeros(3), None, one_hot([2, 2, 3], 4), 4, labels=pieces)
    )
    assert hit.message.endswith("1 source word(s) covered < 0.50: '▁eine'+'m' (source 0–1) 0.00")


def test_over_covered_fires_once_where_a_word_crosses_tau_and_ignores_the_sources_eos():
    def hits(positions, **kw):
        attention = one_hot(positions, 3)
        return scan(OverCovered(1.5), [A] * 5, attention=attention, source_length=3, **kw)

    assert hits([0, 0, 1, 0, 0]) == [1]
    assert hits([2] * 5) == []  # the source's </s>
    assert hits([2] * 5, source_eos=False) == [1]


def test_no_eos_fires_at_the_first_token_past_the_limit():
    assert scan(NoEos(max_steps=3), [A, B, C, D, E]) == [3]
    assert scan(NoEos(max_steps=3), [A, B, C, EOS_ID]) == []
    assert scan(NoEos(max_steps=3), [A, B]) == []
    # 1.5 × 2 source tokens (</s> left out) = 3
    assert scan(NoEos(length_ratio=1.5), [A, B, C, D, E], source_length=3) == [3]
    assert scan(NoEos(max_steps=4, length_ratio=1.0), [A, B, C, D, E], source_length=3) == [2]


def test_token_produced_matches_an_id_or_a_piece():
    pieces = TraceLabels(piece={A: "▁a", B: "▁dog", C: "dog"}.get)
    tokens = [A, B, C, B]
    assert scan(TokenProduced(token_id=B), tokens) == [1, 3]
    assert scan(TokenProduced(piece="dog"), tokens, labels=pieces) == [1, 2, 3]
    assert scan(TokenProduced(piece="▁dog"), tokens, labels=pieces) == [1, 3]
    assert scan(TokenProduced(piece="dog"), tokens) == []  # no vocabulary to read pieces


def test_attention_conditions_never_fire_without_attention_and_say_so():
    tokens, attention_free = [A, A, A, A, EOS_ID], {"attention": None}
    for condition in (StuckAttention(2), UncoveredAtEos(0.9), OverCovered(0.1)):
        assert scan(condition, tokens, **attention_free) == []
        assert "never fires on a model without attention" in condition.describe()
    assert "attention" not in RepeatedNgram(2).describe()


def test_several_conditions_report_in_their_order_at_each_step():
    hits = Breakpoints([TokenProduced(token_id=B), RepeatedNgram(1)]).scan(
        hypothesis([A, B, B], np.zeros(3), None, None, 3)
    )
    assert [(h.step, h.condition) for h in hits] == [
        (1, "token"),
        (2, "token"),
        (2, "repeated_ngram"),
    ]


def test_a_trace_refuses_arrays_that_do_not_fit_the_tokens():
    with pytest.raises(ValueError, match=r"attention must be \(2, heads, 4\)"):
        hypothesis([A, B], np.zeros(2), None, one_hot([0, 1], 3), 4)
    with pytest.raises(ValueError, match="entropies has 3 values for 2 tokens"):
        hypothesis([A, B], np.zeros(2), np.zeros(3), None, 4)


def test_coverage_sums_head_averaged_attention_and_leaves_the_texts_eos_out():
    attention = np.array([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.0]]], dtype=np.float32)
    assert running_coverage(attention).tolist() == [[0.5, 0.5], [1.5, 0.5]]
    assert content_positions(5, source_eos=True) == 4
    assert content_positions(5, source_eos=False) == 5
    with pytest.raises(ValueError, match="attention must be"):
        running_coverage(np.zeros((2, 3)))
