"""The attribution methods over a ``TargetFunction``, batched, cancellable, with progress.

Each returns raw per-input-value attributions (len(steps), *input shape without the
batch axis), which engine/explain/attribution.py reduces to source positions or grid
cells and pixels:

- ``saliency``: the gradient of each step's target;
- ``input_x_gradient``: input times that gradient;
- ``integrated_gradients``: (x - x') times the gradient averaged along the straight path
  from the baseline x' to x, on Gauss-Legendre points and weights (Captum's default
  rule; tests check every method against Captum's own);
- occlusion (engine/explain/attribution.py): f(x) - f(x with one part set to the
  baseline), every part in a few batches of ``forward_values`` without gradients
  (parts: source positions or grid cells), rows per batch from ``occlusion_rows``.

Saliency and input x gradient run one job per step: a copy of the input whose target
is that step's value. Jobs go through the model in batches, one forward and one
backward per batch, rather than one backward per step through a shared forward (on
the de->en model, one thread: 13 steps that way took about 3x the time of one batch
of 13 copies). Integrated gradients has many rows per step (its points), so it does
share: one forward per batch of points and one backward per step
(``shared_path_gradients``; on the de->en model, one thread, 32 points, a whole
20-token output took 2.8 CPU s that way and 4.8 s as jobs). Batches are sized so a
batch keeps about ``ACTIVATION_BUDGET`` float values for its backward (``rows_per_batch``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from attnscope.engine.decoding.step_loop import CancelFlag, is_cancelled
from attnscope.engine.errors import DecodeCancelled
from attnscope.engine.explain.target import TargetFunction

ACTIVATION_BUDGET = 1 << 26  # float32 values one batch may keep for its backward (256 MiB)

Progress = Callable[[int, int], None] | None


class Ticker:
    """Counts units of work, reports them to ``progress`` and checks ``cancel`` before each."""

    def __init__(self, total: int, cancel: CancelFlag | None, progress: Progress) -> None:
        self.total, self.done = total, 0
        self.cancel, self.progress = cancel, progress

    def check(self) -> None:
        if is_cancelled(self.cancel):
            raise DecodeCancelled(f"attribution cancelled after {self.done} of {self.total} passes")

    def tick(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


def rows_per_batch(
    target: TargetFunction, inputs: Tensor, *, positions: int, explained: int = 1
) -> int:
    """How many input rows one gradient batch takes within ``ACTIVATION_BUDGET`` (>= 1).

    positions: source positions (text) or grid cells (a picture) the attention reads.
    explained: steps whose log-probs a row keeps (a job: 1; a point of
    ``shared_path_gradients``: every step explained).
    The target estimates what a row keeps (``saved_per_row``: engine/explain/target.py,
    hf_target.py).
    """
    per_row = target.saved_per_row(inputs, positions=positions, explained=explained)
    return max(1, ACTIVATION_BUDGET // per_row)


def batches_of(count: int, size: int) -> list[slice]:
    return [slice(start, min(start + size, count)) for start in range(0, count, size)]


def path_gradients(
    target: TargetFunction,
    inputs: Tensor,
    baseline: Tensor,
    steps: Sequence[int],
    ticker: Ticker,
    *,
    alphas: Tensor,
    weights: Tensor,
    batch: int,
) -> tuple[Tensor, Tensor]:
    """The weighted sum over points p of each step's gradient at x' + alphas[p] (x - x').

    inputs, baseline: (1, ...); alphas, weights: (P,). One job per (step, point), in
    step order; ``batch`` jobs go through the model at once (one forward, one backward).
    -> (gradients (len(steps), ...), the jobs' target values (len(steps) * P,)).
    """
    points = alphas.numel()
    delta = inputs - baseline  # (1, ...)
    shape = (-1,) + (1,) * (inputs.dim() - 1)
    job_steps = torch.tensor(steps, device=inputs.device).repeat_interleave(points)  # (J,)
    total = torch.zeros((len(steps), *inputs.shape[1:]), dtype=inputs.dtype, device=inputs.device)
    values = []
    for part in batches_of(len(job_steps), batch):
        ticker.check()
        jobs = torch.arange(part.start, part.stop, device=inputs.device)
        point = jobs % points
        rows = (baseline + alphas[point].view(shape) * delta).detach().requires_grad_(True)
        with torch.enable_grad():
            picked = target.values_at(rows, job_steps[part], ticker.check)  # (J',)
            (grads,) = torch.autograd.grad(picked.sum(), rows)  # (J', ...)
        total.index_add_(0, jobs // points, grads * weights[point].view(shape))
        values.append(picked.detach())
        ticker.tick()
    return total, torch.cat(values)


def shared_path_gradients(
    target: TargetFunction,
    inputs: Tensor,
    baseline: Tensor,
    steps: Sequence[int],
    ticker: Ticker,
    *,
    alphas: Tensor,
    weights: Tensor,
    batch: int,
) -> tuple[Tensor, Tensor]:
    """``path_gradients``' weighted gradient sum, one row per point rather than per job.

    Every step explained at one point has the same input, so a batch of ``batch``
    points decodes the output once (to the last step explained) and takes one backward
    per step through that shared graph (each row's target depends on that row alone,
    so the sum over rows gives each row's gradient). Steps 0..t of a job are then
    decoded once for all the steps explained, not once per step: for integrated
    gradients over a whole output most of the jobs' forward work. One tick per backward.
    -> (gradients (len(steps), ...), target values (len(steps), P) at every point).
    """
    delta = inputs - baseline  # (1, ...)
    shape = (-1,) + (1,) * (inputs.dim() - 1)
    total = torch.zeros((len(steps), *inputs.shape[1:]), dtype=inputs.dtype, device=inputs.device)
    values = torch.zeros((len(steps), alphas.numel()), dtype=inputs.dtype, device=inputs.device)
    for part in batches_of(alphas.numel(), batch):
        ticker.check()
        rows = (baseline + alphas[part].view(shape) * delta).detach().requires_grad_(True)
        with torch.enable_grad():
            picked = target.values_of_steps(rows, list(steps), ticker.check)  # K x (P',)
            for k, value in enumerate(picked):
                ticker.check()
                last = k == len(steps) - 1
                (grads,) = torch.autograd.grad(value.sum(), rows, retain_graph=not last)
                total[k] += (grads * weights[part].view(shape)).sum(dim=0)
                values[k, part] = value.detach()
                ticker.tick()
        del picked  # the graph goes with it
    return total, values


def saliency(target, inputs, steps, ticker, *, batch: int) -> tuple[Tensor, Tensor]:
    """-> (gradients (len(steps), ...), target values (len(steps),)) of one input (1, ...)."""
    one = torch.ones(1, dtype=inputs.dtype, device=inputs.device)
    zero = torch.zeros_like(inputs)  # 0 + 1 * (x - 0) is x exactly
    return path_gradients(target, inputs, zero, steps, ticker, alphas=one, weights=one, batch=batch)


def input_x_gradient(target, inputs, steps, ticker, *, batch: int) -> tuple[Tensor, Tensor]:
    """-> (input x gradient (len(steps), ...), target values (len(steps),))."""
    grads, values = saliency(target, inputs, steps, ticker, batch=batch)
    return inputs[0] * grads, values


def integrated_gradients(
    target: TargetFunction,
    inputs: Tensor,
    baseline: Tensor,
    steps: Sequence[int],
    ticker: Ticker,
    *,
    points: int,
    batch: int,
) -> tuple[Tensor, Tensor, Tensor]:
    """(x - x') times the path-averaged gradient; inputs, baseline (1, ...); ``points``
    Gauss-Legendre points on the path (``gauss_legendre``).

    The path's ends ride along as two more points of weight 0, so f(x) and f(x') come
    from the same forward rather than a pass of their own.
    -> (attributions (len(steps), ...), f(x) (len(steps),), f(x') (len(steps),)).
    """
    alphas, weights = (
        torch.tensor(np.append(v, ends), dtype=inputs.dtype, device=inputs.device)
        for v, ends in zip(gauss_legendre(points), ([1.0, 0.0], [0.0, 0.0]), strict=True)
    )
    total, values = shared_path_gradients(
        target, inputs, baseline, steps, ticker, alphas=alphas, weights=weights, batch=batch
    )
    return (inputs - baseline)[0] * total, values[:, -2], values[:, -1]


def gauss_legendre(points: int) -> tuple[np.ndarray, np.ndarray]:
    """(alphas, weights) of the ``points``-point Gauss-Legendre rule on [0, 1]: Captum's
    "gausslegendre" integration (its default for IntegratedGradients), exact for
    polynomials of degree 2·points - 1, so completeness holds with few points on a
    smooth model. Weights sum to 1."""
    nodes, weights = np.polynomial.legendre.leggauss(points)
    return (nodes + 1) / 2, weights / 2


def forward_values(target: TargetFunction, inputs: Tensor, ticker: Ticker) -> Tensor:
    """(N, T) target values of ``inputs`` without gradients (one pass)."""
    ticker.check()
    with torch.no_grad():
        values = target.values(inputs)
    ticker.tick()
    return values


def occlusion_rows(target: TargetFunction, inputs: Tensor, *, positions: int, parts: int) -> int:
    """Rows per occlusion batch, by what a row holds without a backward (the target's
    ``live_per_row``)."""
    per_row = target.live_per_row(inputs, positions=positions)
    return max(1, min(parts, ACTIVATION_BUDGET // per_row))
