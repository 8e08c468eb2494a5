"""HfCacheState.index_select: the cross-attention keys and values move only when a row
changes input (they are its input's alone); the self-attention ones always move."""

from __future__ import annotations

import torch

from attnscope.engine.hf.step_model import HfCacheState, HfMemory


def _state(inputs: list[int]) -> HfCacheState:
    rows = len(inputs)
    # each row's cross tensors hold its input's number, the self ones the row's own
    own = torch.arange(rows, dtype=torch.float32).view(rows, 1, 1, 1).expand(rows, 2, 3, 4)
    cross = torch.tensor(inputs, dtype=torch.float32).view(rows, 1, 1, 1).expand(rows, 2, 5, 4)
    layer = (own.clone(), own.clone(), cross.clone(), cross.clone())
    return HfCacheState((layer, layer), torch.tensor(inputs))


def test_a_beam_reorder_within_each_input_keeps_the_cross_tensors():
    state = _state([0, 0, 1, 1])
    moved = state.index_select(torch.tensor([1, 1, 3, 2]))
    for (keys, values, cross_keys, cross_values), old in zip(
        moved.layers, state.layers, strict=True
    ):
        assert cross_keys is old[2] and cross_values is old[3]
        assert keys[:, 0, 0, 0].tolist() == values[:, 0, 0, 0].tolist() == [1, 1, 3, 2]
    assert moved.cross_inputs.tolist() == [0, 0, 1, 1]


def test_an_input_leaving_moves_the_cross_tensors():
    state = _state([0, 0, 1, 1])
    moved = state.index_select(torch.tensor([3, 2]))
    assert moved.layers[0][2][:, 0, 0, 0].tolist() == [1, 1]
    assert moved.cross_inputs.tolist() == [1, 1]


def test_without_known_inputs_every_tensor_moves():
    state = HfCacheState(_state([0, 0]).layers)
    moved = state.index_select(torch.tensor([1, 0]))
    assert moved.layers[0][2] is not state.layers[0][2]
    assert moved.cross_inputs is None


def test_the_memory_carries_each_rows_input_through_repeat_and_select():
    memory = HfMemory(torch.zeros(2, 3, 4), torch.ones(2, 3, dtype=torch.bool), torch.arange(2))
    beams = memory.repeat_interleave(3).index_select(torch.tensor([5, 0]))
    assert beams.inputs.tolist() == [1, 0]
    assert HfMemory(memory.hidden, memory.mask).repeat_interleave(2).inputs is None
