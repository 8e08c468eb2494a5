"""One input across a training run: ``trace_run(run, source, ...)``.

Each kept epoch of a run (``load_run``, engine/compare/run_folder.py) is loaded in turn
and ONE fixed output is forced through it: the user's reference, or else the final
epoch's own output (decoded with ``config``; greedy by default). Every epoch then
attends over the same tokens, so its attention (T, heads, S) can be shown under an
epoch slider and compared with the final epoch's. Per epoch:

- ``attention``: (T, heads, S) float32 of the forced output (None: no attention);
- ``log_prob``: the epoch's log-prob of that output (and per token);
- ``entropy``: mean attention entropy in nats over the output's tokens and the heads
  (high early, when attention is spread out; low once it focuses);
- ``jsd_to_final`` / ``top1_to_final``: agreement with the final epoch's attention, as
  engine/compare/attention.py measures it (heads averaged; JSD in bits, 0 = identical).

The run's per-epoch metrics (BLEU or CIDEr-D, validation loss, ...) come from its
metrics.jsonl; ``EpochTrace.curve(name)`` gives either kind as (epoch, value) pairs.
An epoch whose weights turn out unusable when loaded (corrupt tensor data a header
check cannot see) is skipped with a message in ``skipped``, like load_run's. The
app runs this in its worker: ``progress(done, total)`` after each epoch, ``cancel``
checked before each (DecodeCancelled).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from attnscope.engine.compare.attention import attention_entropy, jensen_shannon
from attnscope.engine.compare.run_folder import EpochCheckpoint, RunFolder
from attnscope.engine.compare.scoring import ForcedOutput, force_output
from attnscope.engine.decoding.config import DecodeConfig
from attnscope.engine.decoding.step_loop import CancelFlag, raise_if_cancelled
from attnscope.engine.errors import CheckpointError, InputTextError

FROM_REFERENCE = "reference"
FROM_FINAL_MODEL = "final epoch's output"
ATTENTION_CURVES = ("entropy", "jsd_to_final", "top1_to_final", "log_prob")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class EpochAttention:
    """One epoch's view of the fixed output (see the module for each field)."""

    epoch: int
    attention: np.ndarray | None
    log_prob: float
    token_log_probs: tuple[float, ...]
    entropy: float | None
    jsd_to_final: float | None
    top1_to_final: float | None


@dataclass(frozen=True)
class EpochTrace:
    """The fixed output through every usable epoch, oldest first.

    output_from: ``FROM_REFERENCE`` or ``FROM_FINAL_MODEL``
    skipped:     the run's skip messages and those of epochs that failed to load
    """

    run: RunFolder
    source: Any
    output: str
    output_from: str
    source_pieces: tuple[str, ...]
    target_pieces: tuple[str, ...]
    epochs: tuple[EpochAttention, ...]
    skipped: tuple[str, ...]
    grid: tuple[int, int] | None = None  # a captioner's (h, w): S = h·w cells

    def attention_stack(self) -> np.ndarray | None:
        """(E, T, heads, S) float32, the epochs' attention in order (None: no attention)."""
        if self.epochs[0].attention is None:
            return None
        return np.stack([e.attention for e in self.epochs])

    def curve(self, name: str) -> tuple[tuple[int, float], ...]:
        """(epoch, value) pairs of an attention curve (``ATTENTION_CURVES``) or of a
        metric the run recorded (``run.metric_names()``); ValueError for another name."""
        if name in ATTENTION_CURVES:
            return tuple(
                (e.epoch, float(getattr(e, name)))
                for e in self.epochs
                if getattr(e, name) is not None
            )
        if name in self.run.metric_names():
            return self.run.metric(name)
        valid = ", ".join((*ATTENTION_CURVES, *self.run.metric_names()))
        raise ValueError(f"unknown curve {name!r}; valid: {valid}")


def trace_run(
    run: RunFolder,
    source: Any,
    *,
    reference: str | None = None,
    config: DecodeConfig | None = None,
    device: str = "cpu",
    progress: Progress | None = None,
    cancel: CancelFlag | None = None,
) -> EpochTrace:
    """Force one output through every epoch of ``run`` on ``source`` (see the module).

    Raises CheckpointError when no epoch loads, InputTextError when the final epoch
    refuses the source or the output, DecodeCancelled when cancelled.
    """
    skipped = list(run.skipped)
    epochs = list(run.epochs)
    final_model = None
    while epochs and final_model is None:  # the newest epoch that loads is the final one
        raise_if_cancelled(cancel, 0)
        final_model = _load(epochs[-1], device, skipped)
        if final_model is None:
            epochs.pop()
    if final_model is None:
        raise CheckpointError(f"no epoch of {run.folder} loads: {'; '.join(skipped)}")
    text = reference
    if text is None:
        text = _own_output(final_model, source, config, cancel)
    forced_config = config or DecodeConfig()
    final = force_output(final_model, source, text, forced_config, cancel=cancel)
    del final_model
    traced: dict[int, ForcedOutput] = {epochs[-1].epoch: final}
    total = len(epochs)
    _report(progress, 1, total)
    for done, checkpoint in enumerate(epochs[:-1], 2):
        raise_if_cancelled(cancel, done - 1)
        model = _load(checkpoint, device, skipped)
        if model is not None:
            traced[checkpoint.epoch] = force_output(
                model, source, text, forced_config, cancel=cancel
            )
        _report(progress, done, total)
    final_attention = final.snapshot.attention
    return EpochTrace(
        run=run,
        source=source,
        output=text,
        output_from=FROM_FINAL_MODEL if reference is None else FROM_REFERENCE,
        source_pieces=final.snapshot.source_pieces,
        target_pieces=final.snapshot.target_pieces,
        epochs=tuple(_epoch(e, traced[e], final_attention) for e in sorted(traced)),
        skipped=tuple(skipped),
        grid=final.snapshot.grid,
    )


def _own_output(model, source: Any, config: DecodeConfig | None, cancel) -> str:
    """The final epoch's own output text (greedy unless ``config``); InputTextError when
    it is empty (nothing to force through the epochs)."""
    if config is None:
        config = DecodeConfig(max_length_ratio=2.0 if model.task == "translation" else 0.0)
    opened = model.open_session(source, config)
    opened.run(cancel=cancel)
    text = opened.snapshot().target_text
    if not text.strip():
        raise InputTextError(
            "the final epoch's output for this input is empty; give a reference to trace"
        )
    return text


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def _load(checkpoint: EpochCheckpoint, device: str, skipped: list[str]):
    """The epoch's InferenceModel, or None with a message in ``skipped``."""
    from attnscope.engine.inference import load_inference_model

    try:
        return load_inference_model(checkpoint.path, device=device)
    except CheckpointError as exc:
        skipped.append(f"{checkpoint.path.name} skipped: {exc}")
        return None


def _epoch(epoch: int, forced: ForcedOutput, final: np.ndarray | None) -> EpochAttention:
    attention = forced.snapshot.attention
    report = forced.report
    entropy = jsd = top1 = None
    if attention is not None and final is not None:
        entropy = float(attention_entropy(attention).mean())
        mine, theirs = attention.mean(axis=1), final.mean(axis=1)  # (T, S), heads averaged
        jsd = float(jensen_shannon(mine, theirs).mean())
        top1 = float((mine.argmax(axis=-1) == theirs.argmax(axis=-1)).mean())
    return EpochAttention(
        epoch=epoch,
        attention=attention,
        log_prob=report.log_prob,
        token_log_probs=report.token_log_probs,
        entropy=entropy,
        jsd_to_final=jsd,
        top1_to_final=top1,
    )
