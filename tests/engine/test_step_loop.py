"""The one step loop: plan, until, cancel and the stop hook, on a batch and on a session;
and the step-model protocol that every model family plugs into."""

import threading
from dataclasses import dataclass

import pytest
import torch
from helpers_checkpoint import translation_model

from attnscope.engine.decoding import DecodeConfig, DecodeStepper, StepLoop, StepModel, decode
from attnscope.engine.decoding.config import EOS_ID
from attnscope.engine.decoding.scripted import (
    ScriptedModel,
    ScriptedState,
    peaked,
    scripted_memory,
)
from attnscope.engine.errors import DecodeCancelled
from attnscope.engine.session import DecodeSession

V = 12


def wandering(b, prefix):
    weights = {4 + len(prefix) % 5: 0.4, 4 + sum(prefix) % 7: 0.3, EOS_ID: 0.04 * len(prefix)}
    return peaked(V, weights)


def session(strategy="greedy", **options):
    config = DecodeConfig(strategy=strategy, beam_size=3, max_length=12, **options)
    return DecodeSession(ScriptedModel(V, wandering, num_heads=2), scripted_memory([4]), config)


def test_a_session_run_through_the_loop_equals_stepping_by_hand():
    by_hand = session("beam")
    while not by_hand.done:
        by_hand.step()
    looped = session("beam")
    taken = looped.steps().run()
    assert len(taken) == by_hand.step_index
    assert looped.tokens == by_hand.tokens
    assert looped.attention_matrix().tobytes() == by_hand.attention_matrix().tobytes()


def test_until_stops_after_that_many_steps_and_a_second_loop_continues():
    decode_session = session()
    assert len(decode_session.steps(until=3).run()) == 3
    assert decode_session.step_index == 3
    rest = decode_session.steps().run()
    assert decode_session.done and [s.step for s in rest] == list(
        range(3, decode_session.step_index)
    )


def test_the_plan_imposes_tokens_where_given_and_lets_the_model_choose_elsewhere():
    decode_session = session()
    steps = decode_session.steps(plan=[9, None, 10], until=4).run()
    assert [s.token for s in steps][0::2] == [9, 10]
    assert [s.forced for s in steps] == [True, False, True, False]


def test_a_batch_loop_returns_every_inputs_steps():
    model = ScriptedModel(V, wandering, num_heads=1)
    stepper = DecodeStepper(model, scripted_memory([3, 5]), DecodeConfig(max_length=6))
    per_step = StepLoop(stepper, plan=[7]).run()
    assert all(len(results) <= 2 for results in per_step)
    assert {r.batch_index for r in per_step[0]} == {0, 1}
    assert all(r.token == 7 and r.forced for r in per_step[0])
    (first, second) = stepper.results()
    assert first.tokens[0] == second.tokens[0] == 7


def test_cancel_is_checked_before_each_step_and_keeps_the_steps_taken():
    cancel = threading.Event()
    decode_session = session()
    loop = decode_session.steps(cancel=cancel)
    iterator = iter(loop)
    next(iterator)
    next(iterator)
    cancel.set()
    with pytest.raises(DecodeCancelled, match="before step 2"):
        next(iterator)
    assert decode_session.step_index == 2


def test_the_stop_hook_stops_after_the_step_it_names_and_says_why():
    decode_session = session()
    asked = []

    def stop_on_the_third(step):
        asked.append(step.step)
        return "third step" if step.step == 2 else None

    loop = decode_session.steps(stop=stop_on_the_third)
    taken = loop.run()
    assert asked == [0, 1, 2] and len(taken) == 3
    assert loop.stopped == "third step" and not decode_session.done
    resumed = decode_session.steps().run()  # resume: a new loop continues from there
    assert resumed[0].step == 3 and decode_session.done


def test_take_step_is_the_loops_one_step_for_callers_that_pace_it():
    """The GUI's Run takes one step per event through take_step; same result as run()."""
    paced, whole = session("sampling", seed=3), session("sampling", seed=3)
    loop = paced.steps()
    while not loop.finished:
        loop.take_step()
    whole.steps().run()
    assert paced.tokens == whole.tokens


# -- the step-model protocol ---------------------------------------------------------------


def test_the_bundled_model_family_and_the_scripted_stand_in_are_step_models():
    assert isinstance(translation_model(), StepModel)
    assert isinstance(ScriptedModel(V, wandering), StepModel)
    assert not isinstance(object(), StepModel)


@dataclass(frozen=True)
class HistoryCache:
    """A state that is not index_select-able (like a key/value cache): only the model's
    own ``reorder`` knows how to keep rows."""

    rows: tuple[tuple[int, ...], ...]


class CacheModel:
    """A step model whose state only it can reorder; otherwise the scripted model."""

    training = False

    def __init__(self):
        self.inner = ScriptedModel(V, wandering, num_heads=1)
        self.num_heads = 1
        self.reorders = 0

    def init_state(self, memory):
        return HistoryCache(tuple(() for _ in range(memory.mask.size(0))))

    def step(self, prev_tokens, state, memory):
        history = torch.tensor(state.rows, dtype=torch.long).view(len(state.rows), -1)
        inner_state = ScriptedState(history)
        log_probs, inner_state, attn = self.inner.step(prev_tokens, inner_state, memory)
        rows = tuple(tuple(r) for r in inner_state.history.tolist())
        return log_probs, HistoryCache(rows), attn

    def reorder(self, state, index):
        self.reorders += 1
        return HistoryCache(tuple(state.rows[i] for i in index.tolist()))


def test_beam_search_reorders_the_state_through_the_model():
    config = DecodeConfig(strategy="beam", beam_size=3, max_length=8)
    cache_model = CacheModel()
    (with_cache,) = decode(cache_model, scripted_memory([4]), config)
    (plain,) = decode(ScriptedModel(V, wandering, num_heads=1), scripted_memory([4]), config)
    assert cache_model.reorders > 0
    assert with_cache.tokens == plain.tokens
