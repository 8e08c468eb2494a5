"""``explain``: attribution of target steps onto the input, teacher-forced on the tokens shown.

The tokens are the hypothesis the user sees (forced tokens included) and the attention
edits of the decode are replayed, so step t's attribution explains exactly the token
shown at step t. The target of a step is log p(token), or with a ``foil`` the contrast
log p(token) - log p(foil) ("why *man* rather than *woman*?").

Text is attributed on the source embedding output and summed over the embedding per
source position (saliency: the gradient's L2 norm); a picture on its normalised pixels,
per pixel (summed over the colour channels; saliency: the norm over them) and per
encoder grid cell (the pixels whose centres fall in the cell, as the app's overlays
place cells: engine/image_masks.py ``cells_to_pixels``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from attnscope.engine.decoding.config import MAX_LENGTH, PAD_ID
from attnscope.engine.errors import AttnScopeError, InputTextError
from attnscope.engine.explain import methods
from attnscope.engine.explain.hf_target import HfTargetFunction, encoder_input, pad_embeddings
from attnscope.engine.explain.methods import Ticker
from attnscope.engine.explain.target import TargetFunction
from attnscope.engine.hf.step_model import HfStepModel
from attnscope.engine.images import to_tensor
from attnscope.engine.interventions import AttentionEdit

if TYPE_CHECKING:
    from attnscope.engine.decoding.step_loop import CancelFlag
    from attnscope.engine.inference import InferenceModel

METHODS = ("saliency", "input_x_gradient", "ig", "occlusion")  # attention is not a method here
BASELINES = {"translation": ("pad",), "captioning": ("black", "mean")}  # the first is the default
MAX_IG_STEPS = 512


class ExplainError(AttnScopeError, ValueError):
    """An attribution request that cannot be run: unknown method or baseline, no tokens,
    a step or foil out of range."""


@dataclass(frozen=True)
class Attribution:
    """Attribution of target steps onto the input.

    method:          one of METHODS
    tokens:          the teacher-forced target ids explained (no bos; eos if shown)
    steps:           0-based target steps explained, ascending
    foil:            the contrastive foil id, or None (target = log p(token))
    scores:          (len(steps), S) float32 per source position (text) or per grid cell,
                     row-major (a picture); signed except for saliency (a norm, >= 0)
    pixels:          (len(steps), H, W) float32 per model-input pixel (a picture), else None
    target_values:   (len(steps),) f(x): log p(token) [- log p(foil)]
    baseline_values: (len(steps),) f(baseline) for ig (completeness: each row of
                     ``scores`` sums to target - baseline), else None
    grid:            (h, w) of a picture's cells (S = h·w), else None
    """

    method: str
    tokens: tuple[int, ...]
    steps: tuple[int, ...]
    foil: int | None
    scores: np.ndarray
    pixels: np.ndarray | None
    target_values: np.ndarray
    baseline_values: np.ndarray | None
    grid: tuple[int, int] | None = None


@dataclass(frozen=True)
class _Input:
    """The explained input and its baseline, both (1, ...), on the model's device."""

    values: Tensor  # (1, S, E) embeddings, or (1, 3, H, W) normalised pixels
    baseline: Tensor
    source_ids: Tensor | None  # (1, S) long for text, None for a picture


def explain(
    model: InferenceModel,
    source: Any,
    tokens,
    *,
    method: str,
    steps=None,
    foil: int | None = None,
    edits=(),
    ig_steps: int = 32,
    baseline: str | None = None,
    cancel: CancelFlag | None = None,
    progress=None,
) -> Attribution:
    """Attribute ``steps`` of the output ``tokens`` onto ``source`` with ``method``.

    source:   the text (translation) or the picture (path / RGB array), as
              ``InferenceModel.open_session`` takes it
    tokens:   the shown hypothesis's ids (forced tokens included, eos if shown)
    steps:    the steps to explain (any order; None: every step)
    edits:    the session's interventions; its AttentionEdit are replayed
    ig_steps: integration points of "ig" (1..512)
    baseline: "pad" for text; "black" or "mean" (the normalisation's mean colour) for a
              picture; None takes the first. IG integrates from it and occlusion fills
              with it.
    cancel:   Event-like or callable, checked before every pass (DecodeCancelled)
    progress: callable(done, total) after every pass
    Bad requests raise ExplainError (an AttnScopeError), bad sources InputTextError or
    ImageInputError.
    """
    if _hf(model) is not None and not isinstance(model.model, HfStepModel):
        raise ExplainError("attribution is not supported for Hugging Face captioners yet")
    tokens, steps = _checked_tokens(model, tokens, steps)
    _check_method(method, foil, ig_steps, model)
    baseline = _checked_baseline(model.task, baseline)
    attention_edits = [e for e in edits if isinstance(e, AttentionEdit) and e.step < len(tokens)]
    _check_edits(model, attention_edits)
    given = _prepared_input(model, source, baseline)
    target = _target_function(model, given, tokens[: steps[-1] + 1], foil, attention_edits)
    raw, values, baseline_values = _run(method, target, given, steps, ig_steps, cancel, progress)
    scores, pixels = _reduced(method, raw, target.grid, given)
    return Attribution(
        method=method,
        tokens=tokens,
        steps=steps,
        foil=foil,
        scores=scores,
        pixels=pixels,
        target_values=values.cpu().numpy().astype(np.float32),
        baseline_values=baseline_values,
        grid=target.grid,
    )


def _hf(model):
    """The opened Hugging Face folder behind ``model`` (its ``hf``), or None: a text one
    is explained through HfTargetFunction (engine/explain/hf_target.py)."""
    return getattr(model, "hf", None)


def _target_vocab(model) -> int:
    loaded = _hf(model)
    return model.config.tgt_vocab if loaded is None else loaded.vocab.size


def _target_function(model, given: _Input, tokens, foil, edits):
    loaded = _hf(model)
    if loaded is None:
        return TargetFunction(
            model.model, source=given.source_ids, tokens=tokens, foil=foil, edits=edits
        )
    try:
        return HfTargetFunction(
            loaded, source=given.source_ids, tokens=tokens, foil=foil, edits=edits
        )
    except ValueError as exc:  # an edit that does not fit this model
        raise ExplainError(str(exc)) from exc


# -- checks ------------------------------------------------------------------------------------
def _checked_tokens(model, tokens, steps) -> tuple[tuple[int, ...], tuple[int, ...]]:
    vocab = _target_vocab(model)
    tokens = tuple(int(t) for t in tokens)
    if not tokens:
        raise ExplainError("there is nothing to explain: the output is empty")
    if len(tokens) > MAX_LENGTH:
        raise ExplainError(
            f"the output has {len(tokens)} tokens; at most {MAX_LENGTH} are explained"
        )
    bad = [t for t in tokens if not 0 <= t < vocab]
    if bad:
        raise ExplainError(f"token id {bad[0]} is not in the target vocabulary (0..{vocab - 1})")
    if steps is None:
        return tokens, tuple(range(len(tokens)))
    chosen = tuple(sorted({int(s) for s in steps}))
    if not chosen:
        raise ExplainError("no steps to explain were given")
    if chosen[0] < 0 or chosen[-1] >= len(tokens):
        wrong = chosen[0] if chosen[0] < 0 else chosen[-1]
        raise ExplainError(
            f"step {wrong} is out of range: the output has steps 0..{len(tokens) - 1}"
        )
    return tokens, chosen


def _check_method(method: str, foil, ig_steps: int, model) -> None:
    if method not in METHODS:
        raise ExplainError(f"unknown attribution method {method!r}; valid: {', '.join(METHODS)}")
    vocab = _target_vocab(model)
    if foil is not None and not (isinstance(foil, int | np.integer) and 0 <= foil < vocab):
        raise ExplainError(f"foil {foil!r} is not a target token id (0..{vocab - 1})")
    if not (isinstance(ig_steps, int) and 1 <= ig_steps <= MAX_IG_STEPS):
        raise ExplainError(f"ig_steps must be an integer in 1..{MAX_IG_STEPS}, got {ig_steps!r}")


def _checked_baseline(task: str, baseline: str | None) -> str:
    valid = BASELINES[task]
    if baseline is None:
        return valid[0]
    if baseline not in valid:
        raise ExplainError(
            f"baseline {baseline!r} does not apply to a {task} model; valid: {', '.join(valid)}"
        )
    return baseline


def _check_edits(model, edits: list[AttentionEdit]) -> None:
    if edits and model.model.num_heads == 0:
        raise ExplainError("this model has no attention, so attention edits cannot be replayed")


# -- the input and its baseline ------------------------------------------------------------------
def _prepared_input(model, source, baseline: str) -> _Input:
    device = model.device
    if model.task == "translation":
        if not isinstance(source, str):
            raise InputTextError("this is a translation model: give it text, not an image")
        if _hf(model) is not None:
            return _hf_input(model.hf, source, device)
        ids = torch.tensor([model.source_ids(source)], dtype=torch.long, device=device)  # (1, S)
        embedding = model.model.encoder.embedding
        with torch.no_grad():
            values = embedding(ids)  # (1, S, E)
            pad = embedding(torch.full_like(ids, PAD_ID))  # the padding embedding everywhere
        return _Input(values=values, baseline=pad, source_ids=ids)
    preprocess = model.checkpoint.image_preprocess
    if preprocess is None:
        raise InputTextError("this is a translation model: give it text, not an image")
    picture = model._picture(source)
    values = to_tensor(picture, preprocess).unsqueeze(0).to(device)  # (1, 3, H, W)
    if baseline == "mean":
        fill = torch.zeros_like(values)  # the normalisation's mean colour
    else:
        mean = torch.tensor(preprocess.mean, dtype=values.dtype, device=device)
        std = torch.tensor(preprocess.std, dtype=values.dtype, device=device)
        fill = ((0.0 - mean) / std).view(1, 3, 1, 1).expand_as(values).clone()  # black
    return _Input(values=values, baseline=fill, source_ids=None)


def _hf_input(loaded, text: str, device) -> _Input:
    """A Hugging Face model's source embeddings as its encoder reads them, and the pad
    baseline (engine/explain/hf_target.py); ExplainError when they cannot be made exact."""
    ids = torch.tensor([loaded.text.encode(text)], dtype=torch.long, device=device)  # (1, S)
    try:
        return _Input(encoder_input(loaded, ids), pad_embeddings(loaded, ids), ids)
    except ValueError as exc:
        raise ExplainError(str(exc)) from exc


def _positions(model_config, given: _Input) -> int:
    """Source positions, or grid cells the attention reads (estimated before a forward)."""
    if given.source_ids is not None:
        return int(given.source_ids.size(1))
    grid = model_config.image_encoder.grid
    if grid:
        return int(grid[0] * grid[1])
    height, width = given.values.shape[-2:]
    return max(1, (height // 32) * (width // 32))


# -- running a method -----------------------------------------------------------------------------
def _run(method, target: TargetFunction, given: _Input, steps, ig_steps, cancel, progress):
    """-> (raw attributions, values (len(steps),), baseline values (len(steps),) | None).

    raw: gradient methods (len(steps), *input); occlusion (len(steps), parts)."""
    positions = _positions(target.model.config, given)
    if method == "occlusion":
        return _occlusion(target, given, steps, positions, cancel, progress)
    if method in ("saliency", "input_x_gradient"):
        batch = methods.rows_per_batch(target, given.values, positions=positions)
        ticker = Ticker(len(methods.batches_of(len(steps), batch)), cancel, progress)
        run = methods.saliency if method == "saliency" else methods.input_x_gradient
        raw, values = run(target, given.values, steps, ticker, batch=batch)
        return raw, values, None
    # a point keeps every explained step's log-probs for its backwards
    batch = methods.rows_per_batch(target, given.values, positions=positions, explained=len(steps))
    passes = len(methods.batches_of(ig_steps + 2, batch)) * len(steps)  # one per backward
    ticker = Ticker(passes, cancel, progress)
    raw, values, baseline_values = methods.integrated_gradients(
        target, given.values, given.baseline, steps, ticker, points=ig_steps, batch=batch
    )
    return raw, values, baseline_values.cpu().numpy().astype(np.float32)


def _occlusion(target, given: _Input, steps, positions: int, cancel, progress):
    """f(x) minus f(x with each source position / grid cell set to the baseline)."""
    ticker = Ticker(1, cancel, progress)  # the total is known once the grid is
    original = methods.forward_values(target, given.values, ticker)[0]  # (T,)
    if given.source_ids is not None:
        parts = positions

        def occluded(part: slice) -> Tensor:
            rows = given.values.repeat(part.stop - part.start, 1, 1)  # (P', S, E)
            for row, position in enumerate(range(part.start, part.stop)):
                rows[row, position] = given.baseline[0, position]
            return rows

    else:
        parts = target.grid[0] * target.grid[1]
        cell_index = torch.from_numpy(_cell_index(given.values.shape[-2:], target.grid))

        def occluded(part: slice) -> Tensor:
            rows = given.values.repeat(part.stop - part.start, 1, 1, 1)  # (P', 3, H, W)
            for row, cell in enumerate(range(part.start, part.stop)):
                inside = (cell_index == cell).to(rows.device)  # (H, W)
                rows[row][:, inside] = given.baseline[0][:, inside]
            return rows

    batch = methods.occlusion_rows(target, given.values, positions=parts, parts=parts)
    chunks = methods.batches_of(parts, batch)
    ticker.total += len(chunks)
    occluded_values = torch.cat(
        [methods.forward_values(target, occluded(c), ticker) for c in chunks]
    )
    drops = original - occluded_values  # (parts, T)
    chosen = list(steps)
    return drops[:, chosen].T, original[chosen], None  # (len(steps), parts)


def _cell_index(size, grid: tuple[int, int]) -> np.ndarray:
    """(H, W) int: the row-major grid cell each model-input pixel's centre falls in."""
    height, width = int(size[0]), int(size[1])
    grid_h, grid_w = grid
    rows = np.minimum(((np.arange(height) + 0.5) * grid_h / height).astype(int), grid_h - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * grid_w / width).astype(int), grid_w - 1)
    return rows[:, None] * grid_w + cols[None, :]


# -- per position, per cell, per pixel ------------------------------------------------------------
def _reduced(method: str, raw: Tensor, grid, given: _Input):
    """-> (scores (len(steps), S) float32, pixels (len(steps), H, W) float32 | None)."""
    raw = raw.detach().float().cpu()
    if given.source_ids is not None:
        if method == "occlusion":
            return raw.numpy().astype(np.float32), None
        if method == "saliency":
            return raw.norm(dim=-1).numpy().astype(np.float32), None  # (len(steps), S)
        return raw.sum(dim=-1).numpy().astype(np.float32), None
    size = given.values.shape[-2:]
    cell_index = _cell_index(size, grid)
    cells = grid[0] * grid[1]
    if method == "occlusion":
        scores = raw.numpy().astype(np.float32)  # (len(steps), cells)
        return scores, scores[:, cell_index]  # each pixel shows its cell's drop
    if method == "saliency":
        squared = (raw**2).sum(dim=1).numpy()  # (len(steps), H, W)
        pooled = _pool(squared, cell_index, cells)
        return np.sqrt(pooled).astype(np.float32), np.sqrt(squared).astype(np.float32)
    pixels = raw.sum(dim=1).numpy()  # (len(steps), H, W)
    return _pool(pixels, cell_index, cells).astype(np.float32), pixels.astype(np.float32)


def _pool(per_pixel: np.ndarray, cell_index: np.ndarray, cells: int) -> np.ndarray:
    """(T, H, W) -> (T, cells): the sum over each cell's pixels."""
    flat = cell_index.ravel()
    return np.stack(
        [
            np.bincount(flat, weights=row.ravel().astype(np.float64), minlength=cells)
            for row in per_pixel
        ]
    )
