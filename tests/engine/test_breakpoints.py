"""Breakpoint conditions on hand-made hypotheses and scripted decodes: each fires exactly where
it should and nowhere else, parameters are validated, the JSON form round-trips, and the stop
hook stops a session's Run at the right step and lets Resume continue past it."""

import math

import numpy as np
import pytest

from attnscope.engine.debugger.breakpoints import (
    CONDITIONS,
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
    condition_from_dict,
)
from attnscope.engine.debugger.coverage import content_positions, running_coverage
from attnscope.engine.decoding.config import EOS_ID, DecodeConfig
from attnscope.engine.decoding.scripted import ScriptedModel, peaked, scripted_memory
from attnscope.engine.session import DecodeSession
from attnscope.engine.snapshot import OpenSession, TargetLabels

V = 12
A, B, C, D, E = 4, 5, 6, 7, 8


def one_hot(positions, source_length, heads=1):
    """(T, heads, S) attention with all the mass on one source position per step."""
    attention = np.zeros((len(positions), heads, source_length), dtype=np.float32)
    for t, s in enumerate(positions):
        attention[t, :, s] = 1.0
    return attention


def scan(condition, tokens, *, probs=None, entropies=None, attention=None, source_length=4, **kw):
    """Steps at which ``condition`` fires over a hand-made hypothesis."""
    probs = np.full(len(tokens), 0.9) if probs is None else np.asarray(probs)
    hits = Breakpoints([condition]).scan(
        tokens, np.log(probs).astype(np.float32), entropies, attention, source_length, **kw
    )
    assert all(hit.condition == condition.name for hit in hits)
    return [hit.step for hit in hits]


# -- each condition fires exactly where it should -------------------------------------------


def test_entropy_fires_where_the_entropy_exceeds_the_threshold_and_never_unrecorded():
    tokens = [A, B, C, D]
    entropies = np.array([0.5, 3.5, 3.0, 4.0], dtype=np.float32)
    assert scan(EntropyAbove(3.0), tokens, entropies=entropies) == [1, 3]
    assert scan(EntropyAbove(3.0), tokens, entropies=None) == []
    (hit, _) = Breakpoints([EntropyAbove(3.0)]).scan(
        tokens, np.zeros(4), entropies, None, source_length=4
    )
    assert hit.message == "entropy 3.50 > 3.00 at step 2"


def test_low_probability_fires_on_unlikely_chosen_tokens_and_names_them():
    labels = TraceLabels(piece=lambda token: f"▁w{token}")
    probs = [0.9, 0.1, 0.21, 0.19, 0.5]
    assert scan(LowProbability(0.2), [A, B, C, D, E], probs=probs) == [1, 3]
    (hit, _) = Breakpoints([LowProbability(0.2)]).scan(
        [A, B, C, D, E], np.log(probs), None, None, 4, labels=labels
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
        [A, B, C, A, B], np.zeros(5), None, None, 3, labels=labels
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
        [A, B, C], np.zeros(3), None, attention, 3, labels=labels
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
        [A, EOS_ID], np.zeros(2), None, attention, 5, labels=labels
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
        tokens, np.zeros(3), None, one_hot([2, 2, 3], 4), 4, labels=pieces
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
        [A, B, B], np.zeros(3), None, None, 3
    )
    assert [(h.step, h.condition) for h in hits] == [
        (1, "token"),
        (2, "token"),
        (2, "repeated_ngram"),
    ]


# -- parameters and the JSON form --------------------------------------------------------------

BAD = [
    (lambda: EntropyAbove(-1.0), "threshold"),
    (lambda: EntropyAbove(math.nan), "threshold"),
    (lambda: EntropyAbove("3"), "threshold"),
    (lambda: LowProbability(0.0), "p must"),
    (lambda: LowProbability(1.5), "p must"),
    (lambda: RepeatedNgram(0), "n must"),
    (lambda: RepeatedNgram(2.0), "n must be an integer"),
    (lambda: RepeatedNgram(True), "n must be an integer"),
    (lambda: StuckAttention(1), "k must"),
    (lambda: UncoveredAtEos(0.0), "threshold"),
    (lambda: OverCovered(-2.0), "tau"),
    (lambda: NoEos(length_ratio=0.0), "needs max_steps or length_ratio"),
    (lambda: NoEos(max_steps=-1), "max_steps"),
    (lambda: NoEos(length_ratio=math.inf), "length_ratio"),
    (lambda: TokenProduced(), "needs a piece or a token_id"),
    (lambda: TokenProduced(token_id=-1), "token_id"),
    (lambda: TokenProduced(piece=5), "piece must be a string"),
    (lambda: TokenProduced(piece="x" * 500), "piece must be a string"),
]


@pytest.mark.parametrize("build, field", BAD)
def test_bad_parameters_are_refused_naming_the_parameter(build, field):
    with pytest.raises(ValueError, match=field):
        build()


ONE_OF_EACH = [
    EntropyAbove(2.5),
    LowProbability(0.05),
    RepeatedNgram(2),
    StuckAttention(5),
    UncoveredAtEos(0.3),
    OverCovered(1.75),
    NoEos(max_steps=40, length_ratio=2.5),
    TokenProduced(piece="▁the", token_id=9),
]


def test_every_kind_is_covered_and_round_trips_through_its_dict():
    assert {c.name for c in ONE_OF_EACH} == set(CONDITIONS)
    for condition in ONE_OF_EACH:
        d = condition.to_dict()
        assert d["kind"] == condition.name
        assert condition_from_dict(d) == condition
        assert type(condition).from_dict(d) == condition
        assert condition.describe()
    breakpoints = Breakpoints.from_dicts(Breakpoints(ONE_OF_EACH).to_dicts())
    assert breakpoints.conditions == tuple(ONE_OF_EACH)


@pytest.mark.parametrize(
    "d, message",
    [
        ({"kind": "warp"}, "unknown breakpoint kind 'warp'; valid: entropy"),
        ({"threshold": 1.0}, "unknown breakpoint kind None"),
        ([1, 2], "must be a JSON object"),
        ({"kind": "entropy", "threshold": 1.0, "colour": "red"}, "unknown fields: colour"),
        ({"kind": "repeated_ngram", "n": "2"}, "n must be an integer"),
        ({"kind": "no_eos", "length_ratio": 0}, "needs max_steps"),
    ],
)
def test_condition_from_dict_refuses_bad_dicts_with_one_message(d, message):
    with pytest.raises(ValueError, match=message):
        condition_from_dict(d)


def test_from_dict_of_one_kind_refuses_another_kind_and_breakpoints_refuse_non_conditions():
    with pytest.raises(ValueError, match="kind must be 'entropy'"):
        EntropyAbove.from_dict({"kind": "token", "threshold": 1.0})
    with pytest.raises(ValueError, match="not a breakpoint condition"):
        Breakpoints([{"kind": "entropy"}])


def test_scan_refuses_arrays_that_do_not_fit_the_tokens():
    with pytest.raises(ValueError, match=r"attention must be \(2, heads, 4\)"):
        Breakpoints([OverCovered()]).scan([A, B], np.zeros(2), None, one_hot([0, 1], 3), 4)
    with pytest.raises(ValueError, match="entropies has 3 values for 2 tokens"):
        Breakpoints([EntropyAbove()]).scan([A, B], np.zeros(2), np.zeros(3), None, 4)


def test_coverage_sums_head_averaged_attention_and_leaves_the_texts_eos_out():
    attention = np.array([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.0]]], dtype=np.float32)
    assert running_coverage(attention).tolist() == [[0.5, 0.5], [1.5, 0.5]]
    assert content_positions(5, source_eos=True) == 4
    assert content_positions(5, source_eos=False) == 5
    with pytest.raises(ValueError, match="attention must be"):
        running_coverage(np.zeros((2, 3)))


# -- the stop hook on a step-wise decode -------------------------------------------------------

SEQUENCE = (A, B, C, A, B, D, E, EOS_ID)  # (A B) repeats at step 4, E comes at step 6


def walk(_input, prefix):
    """Greedy follows SEQUENCE; each step's distribution is peaked but not certain."""
    return peaked(V, {SEQUENCE[min(len(prefix), len(SEQUENCE) - 1)]: 0.8})


def walking_session(strategy="greedy", source_length=4, **options):
    config = DecodeConfig(strategy=strategy, beam_size=3, max_length=20, max_length_ratio=0.0)
    model = ScriptedModel(V, walk, num_heads=2)
    return DecodeSession(model, scripted_memory([source_length]), config, **options)


def test_run_stops_at_the_step_a_condition_fires_and_resume_continues_past_it():
    session = walking_session()
    breakpoints = Breakpoints([RepeatedNgram(2), TokenProduced(token_id=E)])
    hook = breakpoints.stop_hook(session)
    loop = session.steps(stop=hook)
    loop.run()
    assert session.step_index == 5  # stopped right after step 4
    assert loop.stopped == "repeated 2-gram token 4 token 5 at step 5 (seen at steps 1–2)"
    assert [(h.step, h.condition) for h in breakpoints.hits] == [(4, "repeated_ngram")]
    resumed = session.steps(stop=hook)
    resumed.run()
    assert session.step_index == 7 and resumed.stopped == "token 8 produced at step 7"
    session.steps(stop=hook).run()
    assert session.done and session.tokens == SEQUENCE
    assert [(h.step, h.condition) for h in breakpoints.hits] == [
        (4, "repeated_ngram"),
        (6, "token"),
    ]


def test_a_hit_is_reported_once_per_pass_over_its_step():
    session = walking_session()
    breakpoints = Breakpoints([RepeatedNgram(2)])
    hook = breakpoints.stop_hook(session)
    session.steps(stop=hook).run()
    stopped_at = session.history[-1]
    assert hook(stopped_at) is None  # asking again about the same step stays quiet
    assert len(breakpoints.hits) == 1
    session.back()  # step 4 undone: its hit leaves the list
    assert hook(session.history[-1]) is None and breakpoints.hits == []
    loop = session.steps(stop=hook)
    loop.run()  # step 4 taken anew: a new pass fires again
    assert loop.stopped is not None and session.step_index == 5
    assert [h.step for h in breakpoints.hits] == [4]


def test_a_forced_token_changes_what_fires_after_it():
    session = walking_session()
    breakpoints = Breakpoints([RepeatedNgram(2)])
    hook = breakpoints.stop_hook(session)
    session.steps(stop=hook).run()
    session.force(D, at_step=4)  # A B C A D: no repeat at step 4 any more
    assert hook(session.history[-1]) is None and breakpoints.hits == []


def test_entropy_stops_a_session_that_records_it():
    session = walking_session()  # a session records step entropies whatever its config says
    assert not session.config.step_entropy
    breakpoints = Breakpoints([EntropyAbove(0.5)])
    loop = session.steps(stop=breakpoints.stop_hook(session))
    loop.run()
    assert session.history[0].entropy is not None
    assert session.step_index == 1 and loop.stopped == "entropy 0.60 > 0.50 at step 1"


def test_the_session_trace_follows_the_beams_leader_through_back_and_force():
    from attnscope.engine.debugger.trace import SessionTrace

    session = walking_session("beam")
    follower = SessionTrace(session.source_length)

    def check(step_result):
        trace = follower.update(step_result, session.history)
        node = int(step_result.node_ids[0])
        tree = session.tree
        assert trace.tokens == [int(t) for t in tree.tokens[tree.path(node)]]
        assert len(trace.coverage) == step_result.step + 1

    for _ in range(5):
        check(session.step())
    session.back()
    session.back()
    check(session.step())
    check(session.force(C, at_step=1))
    check(session.step())


def test_the_hook_finds_what_a_scan_of_the_finished_hypothesis_finds():
    conditions = [
        RepeatedNgram(2),
        LowProbability(0.85),
        EntropyAbove(0.9),
        OverCovered(1.2),
        UncoveredAtEos(0.9),
        StuckAttention(2),
        NoEos(max_steps=6),
    ]
    session = walking_session(source_length=3)
    live = Breakpoints(conditions)
    hook = live.stop_hook(session)
    while not session.done:
        hook(session.step())
    best = session.current()
    scanned = Breakpoints(conditions).scan(
        best.tokens,
        best.token_log_probs,
        best.entropies,
        best.attention,
        session.source_length,
        top_ids=[int(s.topk_ids[0, 0]) for s in session.history],
    )
    assert live.hits == scanned
    assert {h.condition for h in scanned} >= {"repeated_ngram", "over_covered", "no_eos"}


def test_messages_name_pieces_and_source_words_of_an_open_session():
    session = walking_session(source_length=3)
    labels = TargetLabels(piece=lambda i: f"w{i}", text=lambda ids: "", num_heads=2)
    opened = OpenSession(session, labels, "ein Hund", ("▁ein", "▁Hund", "</s>"))
    breakpoints = Breakpoints([TokenProduced(piece="w6"), OverCovered(1.2)])
    hook = breakpoints.stop_hook(opened)
    messages = [hook(opened.step()) for _ in range(4)]
    assert messages[2] == "'w6' produced at step 3"
    assert "'▁ein' (source 0)" in " ".join(h.message for h in breakpoints.hits)


def test_a_pictures_cells_are_named_by_row_and_column_and_all_count():
    session = walking_session(source_length=4)
    labels = TargetLabels(piece=str, text=lambda ids: "", num_heads=2)
    opened = OpenSession(session, labels, "photo.jpg", (), grid=(2, 2))
    breakpoints = Breakpoints([OverCovered(1.2)])
    hook = breakpoints.stop_hook(opened)
    while not opened.done:
        hook(opened.step())
    assert any("cell (1, 1)" in h.message for h in breakpoints.hits)


def test_stop_hook_refuses_what_is_not_a_session():
    with pytest.raises(ValueError, match="needs a DecodeSession or an OpenSession"):
        Breakpoints([RepeatedNgram(2)]).stop_hook(object())
