"""Beam search on scripted log-probabilities: the protocol, ranking, penalties, n-best, tree."""

from itertools import pairwise

import numpy as np
import pytest
import torch

from attnscope.engine.decoding.beam import BeamSearch
from attnscope.engine.decoding.config import EOS_ID, UNK_ID, DecodeConfig
from attnscope.engine.decoding.constraints import StepRules
from attnscope.engine.decoding.driver import decode
from attnscope.engine.decoding.scripted import (
    ScriptedModel,
    eos_heavy,
    peaked,
    scripted_memory,
    table_probs,
)

V = 10
A, B, C, D = 4, 5, 6, 7

# greedy takes A (0.5) then nothing good; the beam finds B C (0.4 · 0.9)
GARDEN_PATH = {
    (): peaked(V, {A: 0.5, B: 0.4}),
    (A,): peaked(V, {C: 0.3, D: 0.3, EOS_ID: 0.3}),
    (B,): peaked(V, {C: 0.9}),
    (A, C): peaked(V, {EOS_ID: 0.9}),
    (A, D): peaked(V, {EOS_ID: 0.9}),
    (B, C): peaked(V, {EOS_ID: 0.9}),
}


def scripted(table, **kw):
    return ScriptedModel(V, table_probs(table, eos_heavy(V)), **kw)


def beam_config(**kw):
    kw.setdefault("strategy", "beam")
    kw.setdefault("max_length_ratio", 0.0)
    return DecodeConfig(**kw)


def log_softmax(rows):
    return torch.log_softmax(torch.log(torch.tensor(rows)), dim=1)


def test_advance_protocol_with_scripted_log_probs():
    search = BeamSearch(
        beam_config(beam_size=2),
        source_lengths=np.array([3]),
        max_lengths=np.array([10]),
        rules=StepRules(),
    )
    assert search.current_tokens.tolist() == [2, 2]
    (first,) = search.advance(log_softmax([GARDEN_PATH[()], GARDEN_PATH[()]]), None)
    assert first.tokens.tolist() == [A, B] and first.parent_ids.tolist() == [0, 0]
    assert search.select_indices.tolist() == [0, 0] and search.memory_indices is None
    # row 0 continues A, row 1 continues B
    (second,) = search.advance(log_softmax([GARDEN_PATH[(A,)], GARDEN_PATH[(B,)]]), None)
    assert second.tokens[0] == C and second.parent_ids[0] == first.node_ids[1]  # B C is best
    assert search.select_indices.tolist()[0] == 1
    assert np.all(np.diff(second.scores) <= 0)  # best first


def test_beam_finds_the_better_sequence_greedy_misses():
    memory = scripted_memory([3])
    greedy = decode(scripted(GARDEN_PATH), memory, DecodeConfig(max_length_ratio=0))[0]
    beam = decode(scripted(GARDEN_PATH), memory, beam_config(beam_size=3))[0]
    assert greedy.tokens[0] == A
    assert beam.tokens == (B, C, EOS_ID)
    assert beam.best.log_prob > greedy.best.log_prob


def test_all_rows_advance_in_one_model_call_per_step():
    model = scripted(GARDEN_PATH)
    decode(model, scripted_memory([3, 3, 3]), beam_config(beam_size=3))
    assert model.batch_sizes[0] == 9  # 3 inputs × 3 hypotheses, one call
    assert len(model.batch_sizes) == 3


def test_n_best_distinct_and_sorted():
    result = decode(scripted(GARDEN_PATH), scripted_memory([3]), beam_config(beam_size=4, n_best=3))
    hyps = result[0].hypotheses
    assert len(hyps) == 3
    assert len({h.tokens for h in hyps}) == 3
    scores = [h.score for h in hyps]
    assert scores == sorted(scores, reverse=True)


def test_length_penalties_change_the_ranking():
    table = {
        (): peaked(V, {A: 0.7, B: 0.3}, floor=0.0),
        (A,): peaked(V, {EOS_ID: 0.5, D: 0.5}, floor=0.0),
        (A, D): peaked(V, {}),  # flat: every continuation of A D is poor
        (B,): peaked(V, {C: 0.95, D: 0.05}, floor=0.0),
        (B, C): peaked(V, {EOS_ID: 0.95, D: 0.05}, floor=0.0),
    }
    short, long = (A, EOS_ID), (B, C, EOS_ID)
    memory = scripted_memory([3])

    def best(**kw):
        return decode(scripted(table), memory, beam_config(beam_size=2, **kw))[0].tokens

    assert best(length_penalty="none") == short  # -1.05 vs -1.31
    assert best(length_penalty="average") == long  # -0.53 vs -0.44
    assert best(length_penalty="gnmt", alpha=0.0) == short
    assert best(length_penalty="gnmt", alpha=3.0) == long


def test_min_length_max_length_and_ban_unk():
    eager = {(): peaked(V, {EOS_ID: 0.6, UNK_ID: 0.3})}
    memory = scripted_memory([3])
    model = ScriptedModel(V, table_probs(eager, peaked(V, {EOS_ID: 0.6, UNK_ID: 0.3})))
    result = decode(model, memory, beam_config(beam_size=3, n_best=3, min_length=2))[0]
    assert all(h.tokens.index(EOS_ID) >= 2 for h in result.hypotheses if EOS_ID in h.tokens)
    banned = decode(model, memory, beam_config(beam_size=3, min_length=2, ban_unk=True))[0]
    assert UNK_ID not in banned.tokens
    # never ends by itself: the ratio rule stops it at ceil(1.0 · 3) + 5 = 8 tokens
    endless = ScriptedModel(V, lambda b, p: peaked(V, {C: 0.5, D: 0.4, EOS_ID: 0.0}))
    config = beam_config(beam_size=2, max_length_ratio=1.0)
    result = decode(endless, memory, config)[0]
    assert all(len(h.tokens) == 8 for h in result.hypotheses)
    assert result.tree.finished.sum() == 2


def test_ngram_blocking_holds_for_every_hypothesis():
    repeat = ScriptedModel(V, lambda b, p: peaked(V, {A: 0.5, B: 0.4, EOS_ID: 0.001}))
    config = beam_config(beam_size=3, n_best=3, max_length=9, block_ngram_repeat=2)
    for hyp in decode(repeat, scripted_memory([3]), config)[0].hypotheses:
        bigrams = list(pairwise(hyp.tokens))
        assert len(bigrams) == len(set(bigrams)), hyp.tokens


def test_tree_is_consistent_with_the_hypotheses():
    result = decode(scripted(GARDEN_PATH), scripted_memory([3]), beam_config(beam_size=3, n_best=3))
    tree = result[0].tree
    assert tree.parent_ids[0] == -1
    assert np.all(tree.parent_ids[1:] < np.arange(1, len(tree)))  # parents come first
    assert np.all(tree.steps[1:] == tree.steps[tree.parent_ids[1:]] + 1)
    for rank, hyp in enumerate(result[0].hypotheses):
        path = tree.path(hyp.node_id)
        assert tuple(tree.tokens[path]) == hyp.tokens
        assert tree.nbest_rank[hyp.node_id] == rank and tree.finished[hyp.node_id]
        assert tree.final_scores[hyp.node_id] == pytest.approx(hyp.score)
        np.testing.assert_allclose(np.cumsum(hyp.token_log_probs), tree.scores[path], rtol=1e-5)
    assert not np.any(tree.pruned & tree.finished)
    # every node of a step is listed in that step's StepResult
    for step in result[0].steps:
        assert np.all(tree.parent_ids[step.node_ids] == step.parent_ids)


def test_coverage_penalty_prefers_covering_the_source():
    # A then eos looks at source 0 only; B C eos sweeps all 3 positions
    table = {
        (): peaked(V, {A: 0.6, B: 0.4}, floor=0.0),
        (A,): peaked(V, {EOS_ID: 1.0}, floor=0.0),
        (B,): peaked(V, {C: 1.0}, floor=0.0),
        (B, C): peaked(V, {EOS_ID: 1.0}, floor=0.0),
    }
    memory = scripted_memory([3])
    plain = decode(scripted(table), memory, beam_config(beam_size=2))[0]
    covered = decode(
        scripted(table), memory, beam_config(beam_size=2, coverage_penalty="gnmt", beta=1.0)
    )[0]
    assert plain.tokens == (A, EOS_ID)
    assert covered.tokens == (B, C, EOS_ID)
