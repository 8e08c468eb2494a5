"""Input-major weight copies for batched inference: same values, remade when weights change."""

import torch

from attnscope.models.fast_step import MIN_ROWS, InputMajorWeights, use_input_major
from benchmarks import workloads as bench


def test_copy_is_the_same_matrix_laid_out_input_major():
    weight = torch.nn.Parameter(torch.randn(7, 5))
    copy = InputMajorWeights().get(weight)
    assert torch.equal(copy, weight.detach())
    assert copy.t().is_contiguous() and not copy.requires_grad


def test_copy_is_remade_after_an_in_place_change():
    layer = torch.nn.Linear(5, 7)
    cache = InputMajorWeights()
    first = cache.get(layer.weight)
    assert cache.get(layer.weight) is first  # reused while the weight is unchanged
    layer.load_state_dict({"weight": torch.zeros(7, 5), "bias": torch.zeros(7)})
    assert torch.equal(cache.get(layer.weight), torch.zeros(7, 5))


def test_only_batched_products_without_autograd_use_copies():
    assert not use_input_major(torch.ones(MIN_ROWS, 3))  # autograd on: the module's weights
    with torch.no_grad():
        assert use_input_major(torch.ones(MIN_ROWS, 3))
        assert use_input_major(torch.ones(2, MIN_ROWS, 3))  # rows of a (B, T, in) input
        assert not use_input_major(torch.ones(MIN_ROWS - 1, 3))


def test_batched_step_follows_new_weights_and_matches_the_autograd_step():
    config = bench.beam_model_config(vocab=60, width_divisor=16)
    model = bench.random_model(config, seed=1)
    src, lengths = bench.pad_batch(bench.random_sources(6, 60, lengths=(3, 8), seed=2))
    tokens = torch.full((6,), 2)

    def step(grad: bool):
        with torch.set_grad_enabled(grad):
            memory = model.encode(src, lengths)
            return model.step(tokens, model.init_state(memory), memory)[0].detach()

    torch.testing.assert_close(step(False), step(True), atol=1e-6, rtol=1e-6)
    with torch.no_grad():
        for parameter in model.decoder.parameters():
            parameter.mul_(0.5)
    torch.testing.assert_close(step(False), step(True), atol=1e-6, rtol=1e-6)
