"""Length bucketing: little padding, budgets respected, reproducible, rank shards."""

import random

import pytest

from attnscope.engine.training.batching import (
    BatchingConfig,
    batches_for_rank,
    make_batches,
    padding_ratio,
)


def _lengths(n=500, seed=0):
    rng = random.Random(seed)
    lengths = []
    for _ in range(n):  # correlated like real sentence pairs
        source = rng.randint(1, 40)
        lengths.append((source, max(1, source + rng.randint(-4, 4))))
    return lengths


def test_every_example_appears_exactly_once():
    lengths = _lengths()
    batches = make_batches(lengths, BatchingConfig(batch_size=16), seed=1, epoch=0)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(len(lengths)))
    assert all(len(b) <= 16 for b in batches)


def test_bucketing_wastes_much_less_padding_than_random_batches():
    lengths = _lengths()
    bucketed = make_batches(lengths, BatchingConfig(batch_size=16), seed=1)
    order = list(range(len(lengths)))
    random.Random(0).shuffle(order)
    naive = [order[i : i + 16] for i in range(0, len(order), 16)]
    assert padding_ratio(bucketed, lengths) < 0.5 * padding_ratio(naive, lengths)


def test_token_budget_is_respected():
    lengths = _lengths()
    batches = make_batches(lengths, BatchingConfig(batch_tokens=200), seed=0)
    for batch in batches:
        longest = max(max(lengths[i]) for i in batch)
        assert len(batch) * longest <= 200 or len(batch) == 1
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))


def test_a_single_too_long_example_still_gets_a_batch():
    batches = make_batches([(500, 3), (2, 2)], BatchingConfig(batch_tokens=100), seed=0)
    assert sorted(map(sorted, batches)) == [[0], [1]]


def test_order_depends_only_on_seed_and_epoch():
    lengths = _lengths()
    config = BatchingConfig(batch_size=8)
    first = make_batches(lengths, config, seed=5, epoch=2)
    assert make_batches(lengths, config, seed=5, epoch=2) == first
    assert make_batches(lengths, config, seed=5, epoch=3) != first
    unshuffled = BatchingConfig(batch_size=8, shuffle=False)
    assert make_batches(lengths, unshuffled, seed=1) == make_batches(lengths, unshuffled, seed=2)


def test_rank_shards_are_disjoint_and_equal_in_count():
    batches = [[i] for i in range(11)]
    shards = [batches_for_rank(batches, rank, 3) for rank in range(3)]
    assert [len(s) for s in shards] == [3, 3, 3]
    seen = [b[0] for s in shards for b in s]
    assert len(set(seen)) == 9
    with pytest.raises(ValueError, match="rank"):
        batches_for_rank(batches, 3, 3)


def test_config_validates():
    with pytest.raises(ValueError, match="batch_size"):
        BatchingConfig(batch_size=0)
