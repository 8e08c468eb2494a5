"""Breakpoints: parameters are validated, the JSON form round-trips, and the stop hook stops
a session's Run at the right step, lets Resume continue past it and finds what a scan of the
finished hypothesis finds. (Each condition on hand-made hypotheses:
test_breakpoint_conditions.py.)"""

import math

import pytest

from attnscope.engine.debugger.breakpoints import (
    CONDITIONS,
    Breakpoints,
    EntropyAbove,
    LowProbability,
    NoEos,
    OverCovered,
    RepeatedNgram,
    StuckAttention,
    TokenProduced,
    UncoveredAtEos,
    condition_from_dict,
)
from attnscope.engine.debugger.trace import HypothesisTrace
from attnscope.engine.decoding.config import EOS_ID, DecodeConfig
from attnscope.engine.decoding.scripted import ScriptedModel, peaked, scripted_memory
from attnscope.engine.session import DecodeSession
from attnscope.engine.snapshot import OpenSession, TargetLabels

V = 12
A, B, C, D, E = 4, 5, 6, 7, 8


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
    trace = HypothesisTrace.from_arrays(
        best.tokens,
        best.token_log_probs,
        best.entropies,
        best.attention,
        session.source_length,
        top_ids=[int(s.topk_ids[0, 0]) for s in session.history],
    )
    scanned = Breakpoints(conditions).scan(trace)
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
