"""Greedy search on scripted log-probabilities: choices, bans, limits, batch shrinking."""

from itertools import pairwise

import numpy as np
import torch

from attnscope.engine.decoding.config import EOS_ID, UNK_ID, DecodeConfig
from attnscope.engine.decoding.constraints import StepRules
from attnscope.engine.decoding.driver import decode
from attnscope.engine.decoding.greedy import GreedySearch
from attnscope.engine.decoding.scripted import (
    ScriptedModel,
    eos_heavy,
    peaked,
    scripted_memory,
    table_probs,
)

V = 10


def greedy(batch_size=2, max_length=5, **rules):
    return GreedySearch(
        DecodeConfig(topk_alternatives=3),
        source_lengths=np.full(batch_size, 4),
        max_lengths=np.full(batch_size, max_length),
        rules=StepRules(**rules),
    )


def test_advance_picks_argmax_and_drops_finished_rows():
    search = greedy()
    assert search.current_tokens.tolist() == [2, 2]  # bos
    log_probs = torch.log(torch.tensor([peaked(V, {5: 0.9}), peaked(V, {EOS_ID: 0.9})]))
    log_probs = torch.log_softmax(log_probs, dim=1)
    results = search.advance(log_probs, None)
    assert [r.token for r in results] == [5, EOS_ID]
    assert [bool(r.finished[0]) for r in results] == [False, True]
    assert search.select_indices.tolist() == [0]  # input 1 left the batch
    assert search.memory_indices.tolist() == [0]
    assert search.current_tokens.tolist() == [5]
    assert results[0].topk_ids[0, 0] == 5 and results[0].topk_ids.shape == (1, 3)
    assert not search.done


def test_max_length_finishes_without_eos():
    search = greedy(batch_size=1, max_length=2)
    row = torch.log_softmax(torch.log(torch.tensor([peaked(V, {6: 0.9})])), dim=1)
    search.advance(row, None)
    assert not search.done
    (last,) = search.advance(row, None)
    assert search.done and bool(last.finished[0])
    assert search.results()[0].tokens == (6, 6)


def test_min_length_and_ban_unk_change_the_argmax():
    search = greedy(batch_size=1, min_length=1, ban_unk=True)
    row = peaked(V, {EOS_ID: 0.5, UNK_ID: 0.3, 7: 0.1})
    log_probs = torch.log_softmax(torch.log(torch.tensor([row])), dim=1)
    (result,) = search.advance(log_probs, None)
    assert result.token == 7
    assert result.topk_ids[0, 0] == EOS_ID  # alternatives show the model's own view


def test_decode_through_the_loop_and_shrinking_batch():
    table = {(): peaked(V, {4: 0.9}), (4,): peaked(V, {5: 0.9}), (4, 5): peaked(V, {6: 0.9})}
    short = {(): peaked(V, {EOS_ID: 0.9})}

    def next_probs(b, prefix):
        return (table if b == 0 else short).get(prefix, eos_heavy(V))

    model = ScriptedModel(V, next_probs)
    results = decode(model, scripted_memory([4, 3]), DecodeConfig(max_length_ratio=0))
    assert results[0].tokens == (4, 5, 6, EOS_ID)
    assert results[1].tokens == (EOS_ID,)
    assert model.batch_sizes == [2, 1, 1, 1]
    hyp = results[0].best
    assert hyp.attention.shape == (4, 1, 4)
    np.testing.assert_allclose(hyp.attention.sum(axis=2), 1.0, rtol=1e-6)
    assert np.isclose(hyp.score, hyp.token_log_probs.sum())
    assert results[1].best.attention.shape == (1, 1, 3)  # cut to its own source length


def test_ngram_blocking_in_greedy():
    loop = {(): peaked(V, {4: 0.9})}
    model = ScriptedModel(V, lambda b, p: loop.get(p, peaked(V, {4: 0.5, 5: 0.4})))
    config = DecodeConfig(max_length=8, max_length_ratio=0, block_ngram_repeat=2)
    tokens = decode(model, scripted_memory([3]), config)[0].tokens
    bigrams = list(pairwise(tokens))
    assert len(tokens) == 8 and len(bigrams) == len(set(bigrams))
    unblocked = decode(model, scripted_memory([3]), DecodeConfig(max_length=8, max_length_ratio=0))
    assert unblocked[0].tokens == (4,) * 8


def test_no_attention_model_gives_none():
    model = ScriptedModel(V, table_probs({}, eos_heavy(V)), num_heads=0)
    result = decode(model, scripted_memory([3]), DecodeConfig())[0]
    assert result.steps[0].attention is None and result.best.attention is None


def test_argmax_shortcut_agrees_with_the_full_rules_for_one_row_and_many():
    generator = torch.Generator().manual_seed(0)
    for rows in (1, 3):
        search = greedy(batch_size=rows, min_length=2, ban_unk=True)
        log_probs = torch.log_softmax(torch.randn(rows, V, generator=generator) * 3, dim=1)
        log_probs[:, EOS_ID] = 0.0  # the banned tokens are the rows' best
        log_probs[:, UNK_ID] = -0.01
        quick = search._pick_argmax(log_probs, None)
        full = search._pick_with_rules(log_probs, None)
        assert quick[0].tolist() == full[0].tolist()
        assert EOS_ID not in quick[1] and UNK_ID not in quick[1]
        for a, b in zip(quick[1:], full[1:], strict=True):
            np.testing.assert_array_equal(a, b)
