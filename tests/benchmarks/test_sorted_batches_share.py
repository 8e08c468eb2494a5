"""benchmarks/sorted_batches.py: the real share of a padded grid, file order vs sorted."""

import pytest

from benchmarks.sorted_batches import real_share


def test_sorting_a_window_removes_the_padding_of_mixed_lengths():
    lengths = [1, 9, 1, 9]
    assert real_share(lengths, 2, 1) == pytest.approx(20 / 36)  # file order: (1, 9) twice
    assert real_share(lengths, 2, 2) == pytest.approx(1.0)  # sorted: (1, 1) and (9, 9)
