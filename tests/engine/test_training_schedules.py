"""Learning-rate schedules: warm-up shapes, plateau decay, exact state round trip."""

import itertools
import math

import pytest
import torch

from attnscope.engine.training.schedules import LearningRateSchedule, ScheduleConfig


def _optimizer(lr=1.0):
    param = torch.nn.Parameter(torch.zeros(1))
    return torch.optim.Adam([param], lr=lr)


def _rates(config, steps, base=1.0):
    optimizer = _optimizer()
    schedule = LearningRateSchedule(optimizer, base, config)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        schedule.step()
    return rates


def test_inverse_sqrt_warms_up_then_decays():
    rates = _rates(ScheduleConfig(name="inverse_sqrt", warmup_steps=4), 16)
    assert rates[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert rates[15] == pytest.approx(math.sqrt(4 / 16))
    assert all(a >= b for a, b in itertools.pairwise(rates[3:]))


def test_linear_goes_to_zero_at_total_steps():
    rates = _rates(ScheduleConfig(name="linear", warmup_steps=2, total_steps=10), 12)
    assert rates[1] == pytest.approx(1.0)
    assert rates[9] == pytest.approx(0.0)
    assert rates[5] == pytest.approx(1 - 4 / 8)


def test_min_lr_floors_the_rate():
    rates = _rates(ScheduleConfig(name="linear", total_steps=4, min_lr=0.1), 6)
    assert min(rates) == pytest.approx(0.1)


def test_plateau_decays_after_patience_and_group_scales_apply():
    optimizer = _optimizer()
    optimizer.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr_scale": 0.1})
    schedule = LearningRateSchedule(optimizer, 2.0, ScheduleConfig(name="plateau", patience=2))
    assert not schedule.on_validation(5.0, higher_is_better=False)
    assert not schedule.on_validation(6.0, higher_is_better=False)
    assert schedule.on_validation(7.0, higher_is_better=False)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1.0)
    assert optimizer.param_groups[1]["lr"] == pytest.approx(0.1)
    assert not schedule.on_validation(1.0, higher_is_better=False)  # improvement resets


def test_state_round_trip_restores_the_rate():
    config = ScheduleConfig(name="plateau", warmup_steps=3, patience=1)
    first = LearningRateSchedule(_optimizer(), 1.0, config)
    for _ in range(5):
        first.step()
    first.on_validation(1.0, higher_is_better=True)
    first.on_validation(0.5, higher_is_better=True)
    optimizer = _optimizer()
    second = LearningRateSchedule(optimizer, 1.0, config)
    second.load_state_dict(first.state_dict())
    assert optimizer.param_groups[0]["lr"] == pytest.approx(first.lr)
    assert second.lr == pytest.approx(0.5)


def test_unknown_schedule_lists_valid_names():
    with pytest.raises(ValueError, match="inverse_sqrt"):
        ScheduleConfig(name="cosine")
