"""engine/attention_layers.py by hand: split, means, select and rollout on small arrays."""

import numpy as np
import pytest

from attnscope.engine.attention_layers import (
    encoder_rollout,
    mean_heads,
    mean_layers,
    rollout,
    select,
    split,
)


def _stacked() -> np.ndarray:
    """(T=1, layers 2 · heads 3, S=4): row l·3 + h holds 10·l + h everywhere."""
    rows = [np.full(4, 10.0 * layer + head) for layer in range(2) for head in range(3)]
    return np.stack(rows)[None]  # (1, 6, 4)


def test_split_is_layer_major():
    parts = split(_stacked(), 2)
    assert parts.shape == (1, 2, 3, 4)
    assert parts[0, 1, 2, 0] == 12.0  # layer 1, head 2
    assert parts[0, 0, 1, 3] == 1.0


def test_split_refuses_rows_that_do_not_divide():
    with pytest.raises(ValueError, match="do not split into 4 layers"):
        split(_stacked(), 4)


def test_means_over_heads_and_over_layers():
    np.testing.assert_allclose(mean_heads(_stacked(), 2)[0, :, 0], [1.0, 11.0])
    np.testing.assert_allclose(mean_layers(_stacked(), 2)[0, :, 0], [5.0, 6.0, 7.0])


def test_select_one_head_one_layer_or_the_means():
    attention = _stacked()
    assert select(attention, 2, layer=1, head=0)[0, 0] == 10.0
    assert select(attention, 2, layer=0)[0, 0] == 1.0  # heads 0, 1, 2 of layer 0
    assert select(attention, 2, head=2)[0, 0] == 7.0  # head 2 of layers 0 and 1
    assert select(attention, 2)[0, 0] == 6.0
    with pytest.raises(ValueError, match="out of range"):
        select(attention, 2, layer=2)


def test_one_layer_keeps_the_rnn_layout():
    attention = np.random.default_rng(0).random((3, 1, 5))
    assert split(attention, 1).shape == (3, 1, 1, 5)
    np.testing.assert_array_equal(select(attention, 1), attention[:, 0])


def test_identity_self_attention_gives_the_plain_cross_attention():
    encoder = np.stack([np.eye(4)[None].repeat(2, axis=0)] * 3)  # (layers 3, heads 2, 4, 4)
    mixing = encoder_rollout(encoder)
    np.testing.assert_array_equal(mixing, np.eye(4, dtype=np.float32))
    cross = np.random.default_rng(1).dirichlet(np.ones(4), size=(5, 6))  # (T, 2·3, S)
    np.testing.assert_allclose(rollout(cross, mixing, 2), select(cross, 2), rtol=1e-6)


def test_rollout_by_hand_on_two_tokens():
    # one layer, one head, both tokens attend only to token 0: Â = [[1, 0], [.5, .5]]
    mixing = encoder_rollout([np.array([[[1.0, 0.0], [1.0, 0.0]]])])
    np.testing.assert_allclose(mixing, [[1.0, 0.0], [0.5, 0.5]])
    # two such layers compose: Â·Â
    twice = encoder_rollout([np.array([[[1.0, 0.0], [1.0, 0.0]]])] * 2)
    np.testing.assert_allclose(twice, [[1.0, 0.0], [0.75, 0.25]])
    # a step reading only encoder output 1 reads token 0 three quarters through it
    np.testing.assert_allclose(rollout(np.array([[[0.0, 1.0]]]), twice, 1), [[0.75, 0.25]])


def test_rollout_rows_sum_to_one():
    rng = np.random.default_rng(2)
    encoder = rng.dirichlet(np.ones(7), size=(4, 3, 7))  # (layers, heads, S, S)
    mixing = encoder_rollout(encoder)
    assert mixing.dtype == np.float32
    np.testing.assert_allclose(mixing.sum(axis=-1), 1.0, rtol=1e-5)
    cross = rng.dirichlet(np.ones(7), size=(5, 6))  # (T, 3 layers · 2 heads, S)
    rolled = rollout(cross, mixing, 3, layer=2)
    assert rolled.shape == (5, 7)
    np.testing.assert_allclose(rolled.sum(axis=-1), 1.0, rtol=1e-5)


def test_rollout_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="not \\(heads, S, S\\)"):
        encoder_rollout([np.ones((2, 3, 3)) / 3, np.ones((2, 4, 4)) / 4])
    with pytest.raises(ValueError, match="at least one encoder layer"):
        encoder_rollout([])
    with pytest.raises(ValueError, match="mixing matrix"):
        rollout(np.ones((1, 2, 3)) / 3, np.eye(4), 1)
