"""Dot-attention products over a beam's repeated rows: the reference's bits, and the
rows' runs found once per memory."""

from dataclasses import replace

import pytest
import torch

from attnscope.models.grouped_products import RowGroups, row_groups, use_grouped_products
from attnscope.models.state import EncoderMemory

SHAPES = [(2, 1, 16), (3, 7, 100), (32, 29, 512), (5, 64, 1000)]  # (G, S, width)
on_mkl = pytest.mark.skipif(not torch.backends.mkl.is_available(), reason="widths are MKL's")


@on_mkl
@pytest.mark.parametrize("size", range(2, 13))
def test_dot_scores_give_the_one_row_products_bits(size):
    """Every padded width rounds as the reference's one column per row (the bench's
    beam among the shapes: 32 inputs × 5 rows, 29 positions, 512 wide)."""
    torch.manual_seed(size)
    with torch.inference_mode():
        for groups, length, width in SHAPES:
            keys, query = torch.randn(groups, length, width), torch.randn(groups * size, width)
            repeated = keys.repeat_interleave(size, 0)
            reference = torch.bmm(repeated, query.unsqueeze(2)).transpose(1, 2)
            ours = RowGroups(size=size, keys=keys, values=keys).dot_scores(query)
            assert torch.equal(ours, reference)


@on_mkl
@pytest.mark.parametrize("size", range(2, 13))
def test_context_gives_the_one_row_products_bits(size):
    torch.manual_seed(size)
    with torch.inference_mode():
        for groups, length, width in SHAPES:
            values = torch.randn(groups, length, width)
            weights = torch.softmax(torch.randn(groups * size, 1, length) * 3, dim=-1)
            repeated = values.repeat_interleave(size, 0)
            reference = torch.bmm(weights, repeated).squeeze(1)
            ours = RowGroups(size=size, keys=values, values=values).context(weights)
            assert torch.equal(ours, reference)


def memory_of(values, index=None, keys=None):
    memory = EncoderMemory(
        values=values, mask=torch.ones(values.shape[:2], dtype=torch.bool), final=values[:, 0]
    )
    if index is not None:
        memory = memory.index_select(index)
    return replace(memory, keys=memory.values * 2 if keys is None else keys)


def test_row_groups_finds_a_beams_rows_once_per_memory():
    values = torch.randn(4, 6, 8)
    beam = memory_of(values, torch.arange(4).repeat_interleave(3))
    groups = row_groups(beam)
    assert groups.size == 3
    assert torch.equal(groups.values, values) and torch.equal(groups.keys, values * 2)
    assert row_groups(beam) is groups  # worked out once


def test_row_groups_needs_two_runs_of_identical_keys_and_values():
    values = torch.randn(4, 6, 8)
    assert row_groups(memory_of(values)) is None  # distinct rows
    assert row_groups(memory_of(values, torch.zeros(3, dtype=torch.long))) is None  # one input
    same_keys = memory_of(torch.randn(8, 6, 8), keys=torch.zeros(8, 6, 8))
    assert row_groups(same_keys) is None  # equal keys, different values
    repeated = memory_of(values, torch.tensor([0, 0, 0, 0, 1, 1, 2, 2, 3, 3]))
    assert row_groups(repeated).size == 2  # a repeated input makes the first run longer


def test_grouped_products_run_only_where_their_widths_were_measured():
    query = torch.randn(10, 8)
    with torch.inference_mode():
        assert use_grouped_products(query) == torch.backends.mkl.is_available()
        assert not use_grouped_products(query.t())  # not contiguous
        previous = torch.get_float32_matmul_precision()
        try:
            torch.set_float32_matmul_precision("high")
            assert not use_grouped_products(query)
        finally:
            torch.set_float32_matmul_precision(previous)
    assert not use_grouped_products(query)  # autograd on


def test_a_beams_memory_says_its_runs_so_its_rows_are_compared_once(monkeypatch):
    # repeat_interleave makes exact copies, and dropping finished inputs keeps whole runs:
    # neither is compared row by row again (~9 ms at 32 inputs x 5 rows, each time an
    # input finished)
    from attnscope.models import grouped_products

    values = torch.randn(4, 6, 8)
    source = replace(memory_of(values), keys=values * 2)
    beam = source.repeat_interleave(3)

    def no_scan(*_args):
        raise AssertionError("rows compared again")

    monkeypatch.setattr(grouped_products, "_find_row_groups", no_scan)
    groups = row_groups(beam)
    assert groups.size == 3 and torch.equal(groups.values, values)
    assert torch.equal(groups.keys, values * 2)
    # input 1 finished; the others' hypotheses follow their parents within each input
    kept = beam.index_select(torch.tensor([2, 0, 0, 6, 8, 7, 11, 9, 9]))
    groups = row_groups(kept)
    assert groups.size == 3 and torch.equal(groups.values, values[[0, 2, 3]])
    assert row_groups(kept.index_select(torch.tensor([0, 1, 2]))) is None  # one input left
    monkeypatch.undo()
    mixed = beam.index_select(torch.tensor([0, 3, 1, 4, 2, 5]))  # runs mixing two inputs
    assert row_groups(mixed) is None  # compared row by row, as any memory
