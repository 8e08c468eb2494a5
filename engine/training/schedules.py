"""Learning-rate schedules: warm-up then constant, inverse-sqrt, linear decay, or plateau.

The learning rate at optimizer step ``s`` (1-based) is
``base_lr * shape(s) * plateau_scale``, floored at ``min_lr``:

- ``constant``:     linear warm-up over ``warmup_steps``, then 1
- ``inverse_sqrt``: linear warm-up, then ``sqrt(warmup_steps / s)`` (Vaswani et al. 2017)
- ``linear``:       linear warm-up, then a straight line down to 0 at ``total_steps``
- ``plateau``:      like ``constant``, and ``plateau_scale`` is multiplied by
                    ``factor`` whenever the validation metric has not improved
                    for ``patience`` epochs (``on_validation``)

The whole state is a few numbers (``state_dict``), so resuming is exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch


def _warmup(step: int, warmup_steps: int) -> float:
    return min(1.0, step / warmup_steps) if warmup_steps > 0 else 1.0


def _constant(step: int, warmup_steps: int, total_steps: int) -> float:
    return _warmup(step, warmup_steps)


def _inverse_sqrt(step: int, warmup_steps: int, total_steps: int) -> float:
    if warmup_steps <= 0:
        return 1.0 / math.sqrt(max(step, 1))
    return min(step / warmup_steps, math.sqrt(warmup_steps / max(step, 1)))


def _linear(step: int, warmup_steps: int, total_steps: int) -> float:
    if step < warmup_steps:
        return _warmup(step, warmup_steps)
    remaining = max(total_steps - warmup_steps, 1)
    return max(0.0, 1.0 - (step - warmup_steps) / remaining)


SCHEDULE_SHAPES: dict[str, Callable[[int, int, int], float]] = {
    "constant": _constant,
    "inverse_sqrt": _inverse_sqrt,
    "linear": _linear,
    "plateau": _constant,
}


@dataclass(frozen=True)
class ScheduleConfig:
    """Settings of ``LearningRateSchedule`` (see the module docstring)."""

    name: str = "constant"
    warmup_steps: int = 0
    total_steps: int = 0  # linear: where the rate reaches 0
    factor: float = 0.5  # plateau
    patience: int = 1  # plateau: epochs without improvement before a decay
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        if self.name not in SCHEDULE_SHAPES:
            raise ValueError(
                f"unknown lr schedule {self.name!r}; valid: {', '.join(SCHEDULE_SHAPES)}"
            )
        if self.warmup_steps < 0 or self.patience < 0:
            raise ValueError("warmup_steps and patience must be >= 0")
        if not 0.0 < self.factor <= 1.0:
            raise ValueError(f"plateau factor must be in (0, 1], got {self.factor}")


class LearningRateSchedule:
    """Sets the learning rate of every optimizer parameter group, step by step.

    Groups may carry an ``lr_scale`` entry (e.g. 0.1 for a fine-tuned CNN
    trunk); their rate is the schedule's rate times that scale.
    """

    def __init__(
        self, optimizer: torch.optim.Optimizer, base_lr: float, config: ScheduleConfig
    ) -> None:
        self.optimizer = optimizer
        self.base_lr = base_lr
        self.config = config
        self.plateau_scale = 1.0
        self.best: float | None = None
        self.bad_epochs = 0
        self.step_count = 0
        self._apply()

    @property
    def lr(self) -> float:
        """Base rate (before per-group scales) for the next optimizer step."""
        shape = SCHEDULE_SHAPES[self.config.name]
        factor = shape(self.step_count + 1, self.config.warmup_steps, self.config.total_steps)
        return max(self.base_lr * factor * self.plateau_scale, self.config.min_lr)

    def _apply(self) -> None:
        lr = self.lr
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)

    def step(self) -> None:
        """Advance one optimizer step (call after ``optimizer.step()``)."""
        self.step_count += 1
        self._apply()

    def on_validation(self, metric: float, *, higher_is_better: bool) -> bool:
        """Plateau bookkeeping after a validation; True when the rate was just decayed."""
        if self.config.name != "plateau":
            return False
        value = metric if higher_is_better else -metric
        if self.best is None or value > self.best:
            self.best, self.bad_epochs = value, 0
            return False
        self.bad_epochs += 1
        if self.bad_epochs < self.config.patience:
            return False
        self.plateau_scale *= self.config.factor
        self.bad_epochs = 0
        self._apply()
        return True

    def state_dict(self) -> dict[str, float | int | None]:
        return {
            "plateau_scale": self.plateau_scale,
            "best": self.best,
            "bad_epochs": self.bad_epochs,
            "step_count": self.step_count,
        }

    def load_state_dict(self, state: dict[str, float | int | None]) -> None:
        self.plateau_scale = float(state["plateau_scale"])
        self.best = None if state["best"] is None else float(state["best"])
        self.bad_epochs = int(state["bad_epochs"])
        self.step_count = int(state["step_count"])
        self._apply()
