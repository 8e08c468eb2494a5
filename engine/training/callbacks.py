"""Trainer callbacks: a plain-text progress display and a JSONL metrics log.

A callback is any ``fn(trainer, record)`` registered with
``Trainer.add_callback(event, fn)`` (minGPT style); ``record`` is a dict of
plain numbers and strings. Events are listed in ``trainer.EVENTS``.

The metrics log (``<out_dir>/metrics.jsonl``) holds one JSON object per
line, for a GUI or a notebook to plot:

- ``{"event": "train", "step", "epoch", "loss", "ppl", "lr", "tokens_per_s", "time"}``
  every ``log_every`` optimizer steps, averaged over those steps
- ``{"event": "epoch", "epoch", "step", "train_loss", "val_loss", "val_ppl",
  "bleu" | "bleu1".."bleu4", "cider", "lr", "seconds", "best", "time"}`` per epoch
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any, TextIO


class _Window:
    """Running sums since the last report."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.loss = self.nll = 0.0
        self.tokens = self.steps = 0
        self.started = time.monotonic()

    def add(self, record: dict[str, Any]) -> None:
        self.loss += record["loss"] * record["tokens"]
        self.nll += record["nll"] * record["tokens"]
        self.tokens += record["tokens"]
        self.steps += 1

    def summary(self) -> dict[str, float]:
        tokens = max(self.tokens, 1)
        seconds = max(time.monotonic() - self.started, 1e-9)
        return {
            "loss": self.loss / tokens,
            "ppl": math.exp(min(self.nll / tokens, 50.0)),
            "tokens_per_s": self.tokens / seconds,
        }


class ProgressPrinter:
    """Prints a progress line to ``stream`` (stderr) every ``every_seconds`` and per epoch.

    Example line::

        epoch 1/10  step 120  batch 60/454 (13%)  loss 5.312  ppl 171.4  lr 1.0e-03  4,210 tok/s
    """

    def __init__(self, *, epochs: int, every_seconds: float = 10.0, stream: TextIO | None = None):
        self.epochs = epochs
        self.every_seconds = every_seconds
        self.stream = stream or sys.stderr
        self.window = _Window()
        self.last = time.monotonic()

    def on_epoch_start(self, trainer: Any, record: dict[str, Any]) -> None:
        self.window.reset()  # validation and feature caching are not training speed

    def on_batch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        self.window.add(record)
        now = time.monotonic()
        if now - self.last < self.every_seconds:
            return
        self.last = now
        s = self.window.summary()
        percent = 100.0 * record["batch"] / max(record["batches"], 1)
        self._write(
            f"epoch {record['epoch']}/{self.epochs}  step {record['step']}  "
            f"batch {record['batch']}/{record['batches']} ({percent:.0f}%)  "
            f"loss {s['loss']:.3f}  ppl {s['ppl']:.1f}  lr {record['lr']:.1e}  "
            f"{s['tokens_per_s']:,.0f} tok/s"
        )
        self.window.reset()

    def on_epoch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        shown = [f"epoch {record['epoch']}/{self.epochs} done in {record['seconds']:.0f}s"]
        for key in ("train_loss", "val_loss", "val_ppl", "bleu", "bleu4", "cider"):
            if key in record:
                shown.append(
                    f"{key} {record[key]:.3f}" if key != "val_ppl" else f"{key} {record[key]:.2f}"
                )
        if record.get("best"):
            shown.append("(best so far)")
        self._write("  ".join(shown))

    def on_train_end(self, trainer: Any, record: dict[str, Any]) -> None:
        self._write(f"training {record['status']} after {record['step']} steps")

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def attach(self, trainer: Any) -> ProgressPrinter:
        trainer.add_callback("on_epoch_start", self.on_epoch_start)
        trainer.add_callback("on_batch_end", self.on_batch_end)
        trainer.add_callback("on_epoch_end", self.on_epoch_end)
        trainer.add_callback("on_train_end", self.on_train_end)
        return self


class MetricsLog:
    """Appends training and epoch records to a JSONL file.

    On resume, records past the resumed step are dropped first (they came
    from the part of the run that is being redone).
    """

    def __init__(self, path: str | Path, *, every_steps: int = 50, resume_step: int | None = None):
        self.path = Path(path)
        self.every_steps = every_steps
        self.window = _Window()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is None:
            self.path.write_text("", encoding="utf-8")
        elif self.path.exists():
            self._truncate_after(resume_step)

    def _truncate_after(self, step: int) -> None:
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                if json.loads(line).get("step", 0) <= step:
                    kept.append(line)
            except json.JSONDecodeError:
                continue
        self.path.write_text("".join(k + "\n" for k in kept), encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({**record, "time": time.time()}, sort_keys=True) + "\n")

    def on_epoch_start(self, trainer: Any, record: dict[str, Any]) -> None:
        self.window.reset()

    def on_batch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        self.window.add(record)
        if record["step"] % self.every_steps:
            return
        summary = self.window.summary()
        self.write(
            {
                "event": "train",
                "step": record["step"],
                "epoch": record["epoch"],
                "lr": record["lr"],
                **summary,
            }
        )
        self.window.reset()

    def on_epoch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        self.write({"event": "epoch", **record})

    def attach(self, trainer: Any) -> MetricsLog:
        trainer.add_callback("on_epoch_start", self.on_epoch_start)
        trainer.add_callback("on_batch_end", self.on_batch_end)
        trainer.add_callback("on_epoch_end", self.on_epoch_end)
        return self


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """All records of a metrics log (for plotting)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
