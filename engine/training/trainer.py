"""The task-agnostic training loop: epochs of bucketed batches, validation, checkpoints.

``Trainer(task, model, config, device=..., context=...).fit()`` trains until
the epochs are done, early stopping triggers, ``run.max_steps`` is reached
or ``request_stop()`` is called (e.g. from a SIGTERM handler or a callback).
Rank 0 writes into ``run.out_dir``:

- checkpoints in the engine's single-file format: ``best.safetensors``
  (best validation metric) and ``last.safetensors`` (also rewritten with
  every mid-epoch save, so a killed run always leaves a usable model), and
  ``epoch-NNN.safetensors``: by default every epoch within a disk budget, for
  comparing epochs; ``run.keep_epochs = N``: the last N (see ``epoch_files.py``);
- ``train_state.pt``: the resumable state (see ``state.py``), written at the
  end of every epoch, every ``run.save_every_minutes`` mid-epoch, and when
  stopped; ``run.resume`` continues from it exactly (same batches, same
  random numbers, same optimizer moments);
- ``metrics.jsonl``: the metrics log (see ``callbacks.py``).

Callbacks (minGPT style): ``add_callback(event, fn)`` with ``fn(trainer, record)``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from attnscope.engine.checkpoint_info import portable_paths
from attnscope.engine.languages import language_entries
from attnscope.engine.training.batching import batches_for_rank, make_batches
from attnscope.engine.training.config import PATH_SETTINGS, TrainConfig
from attnscope.engine.training.distributed import SINGLE_PROCESS, DistributedContext, any_rank
from attnscope.engine.training.epoch_files import EpochKeeper, epoch_checkpoint_name
from attnscope.engine.training.progress import (
    BEST_CHECKPOINT,
    LAST_CHECKPOINT,
    Progress,
    TrainResult,
)
from attnscope.engine.training.schedules import LearningRateSchedule
from attnscope.engine.training.state import (
    STATE_FILE,
    capture_rng,
    config_json,
    restore_rng,
    save_state,
)
from attnscope.engine.training.tasks import ForwardPass, TrainingTask
from attnscope.engine.training.vocab import tokenizer_from_tensor, tokenizer_to_tensor
from attnscope.models.seq2seq import EncoderDecoder

logger = logging.getLogger(__name__)

EVENTS = (
    "on_train_start",
    "on_epoch_start",
    "on_batch_end",
    "on_epoch_end",
    "on_checkpoint",
    "on_train_end",
)
OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
Callback = Callable[["Trainer", dict[str, Any]], None]


def build_optimizer(groups: list[dict[str, Any]], config: TrainConfig) -> torch.optim.Optimizer:
    optim = config.optim
    return OPTIMIZERS[optim.optimizer](
        groups, lr=optim.lr, betas=tuple(optim.betas), weight_decay=optim.weight_decay
    )


class Trainer:
    """Runs a TrainingTask's batches through a model; see the module docstring."""

    def __init__(
        self,
        task: TrainingTask,
        model: EncoderDecoder,
        config: TrainConfig,
        *,
        device: torch.device,
        context: DistributedContext = SINGLE_PROCESS,
        settings_dir: Path | None = None,
    ) -> None:
        self.task, self.model, self.config = task, model, config
        self.settings_dir = settings_dir  # the config file's folder: paths are kept relative
        self.device, self.context = device, context
        self.run = config.run
        self.out_dir = Path(self.run.out_dir)
        self.epoch_keeper = EpochKeeper(
            self.out_dir, keep_epochs=self.run.keep_epochs, budget_mb=self.run.epoch_budget_mb
        )
        self.metric, self.higher_is_better = self._resolve_metric()
        task.prepare_model(model)
        model.to(device)
        self.optimizer = build_optimizer(task.param_groups(model), config)
        total = self.run.max_steps or self.run.epochs * len(self._epoch_batches(0))
        self.schedule = LearningRateSchedule(
            self.optimizer, config.optim.lr, config.optim.schedule_config(total)
        )
        self.generator = torch.Generator().manual_seed(self.run.seed)
        self.progress = Progress()
        self.history: list[dict[str, Any]] = []
        self.callbacks: dict[str, list[Callback]] = {event: [] for event in EVENTS}
        self._stop_requested = False
        self._module: torch.nn.Module | None = None
        self._last_save = time.monotonic()

    # -- callbacks and control ---------------------------------------------------------------
    def add_callback(self, event: str, fn: Callback) -> None:
        if event not in self.callbacks:
            raise ValueError(f"unknown trainer event {event!r}; valid: {', '.join(EVENTS)}")
        self.callbacks[event].append(fn)

    def trigger(self, event: str, record: dict[str, Any]) -> None:
        for fn in self.callbacks[event]:
            fn(self, record)

    def request_stop(self) -> None:
        """Stop after the current batch, saving a resumable state (safe from signal handlers)."""
        self._stop_requested = True

    def _resolve_metric(self) -> tuple[str, bool]:
        wanted = self.run.best_metric
        if wanted == "auto":
            wanted = self.task.decoded_metric if self.run.val_decode else "loss"
        if wanted == "loss":
            return "val_loss", False
        if wanted != self.task.decoded_metric:
            raise ValueError(f"best metric {wanted!r} does not apply to {self.task.name}")
        if not self.run.val_decode:
            raise ValueError(f"best metric {wanted!r} needs validation decoding (val_decode)")
        return wanted, True

    # -- the loop -----------------------------------------------------------------------------
    def fit(self) -> TrainResult:
        """Train from the current progress to the end; returns how the run ended."""
        if self.context.is_main:
            logger.info(self.epoch_keeper.describe())
        self.trigger(
            "on_train_start", {"epoch": self.progress.epoch + 1, "step": self.progress.step}
        )
        status = "finished"
        while self.progress.epoch < self.run.epochs:
            outcome = self._run_epoch()
            if outcome != "continue":
                status = outcome
                break
        self.trigger("on_train_end", {"status": status, "step": self.progress.step})
        return TrainResult(
            status,
            self.progress.epoch,
            self.progress.step,
            self.metric,
            self.progress.best,
            self.out_dir,
            list(self.history),
        )

    def _epoch_batches(self, epoch: int) -> list[list[int]]:
        batches = make_batches(
            self.task.train_lengths, self.config.data.batching, seed=self.run.seed, epoch=epoch
        )
        return batches_for_rank(batches, self.context.rank, self.context.world_size)

    def _forward_module(self, rebuild: bool) -> torch.nn.Module:
        if self._module is None or rebuild:
            module: torch.nn.Module = ForwardPass(self.model)
            if self.context.enabled:
                ids = [self.device.index] if self.device.type == "cuda" else None
                # static_graph: the same parameters take part in every step (a
                # trunk that is unfrozen later gets a new wrapper), and it copes
                # with parameters some architectures never use.
                module = DistributedDataParallel(module, device_ids=ids, static_graph=True)
            self._module = module
        return self._module

    def _run_epoch(self) -> str:
        progress = self.progress
        epoch = progress.epoch
        changed = self.task.on_epoch_start(epoch, self.model)
        module = self._forward_module(rebuild=changed)
        batches = self._epoch_batches(epoch)
        self.trigger(
            "on_epoch_start",
            {
                "epoch": epoch + 1,
                "batch": progress.batch,
                "batches": len(batches),
                "step": progress.step,
            },
        )
        started = time.monotonic() - progress.epoch_seconds
        self.task.train_mode(self.model)
        for position in range(progress.batch, len(batches)):
            record = self._train_batch(module, batches[position])
            progress.batch = position + 1
            progress.epoch_seconds = time.monotonic() - started
            record.update(epoch=epoch + 1, batch=position + 1, batches=len(batches))
            self.trigger("on_batch_end", record)
            if self._should_stop():
                self._save_state(with_checkpoint=True)
                logger.info("stopped at step %d; continue with --resume", progress.step)
                return "interrupted"
            if self.run.max_steps and progress.step >= self.run.max_steps:
                self._end_of_training_validation(epoch)
                return "max_steps"
            self._maybe_periodic_save()
        progress.epoch_seconds = time.monotonic() - started
        return self._finish_epoch(epoch)

    def _train_batch(self, module: torch.nn.Module, indices: list[int]) -> dict[str, Any]:
        batch = self.task.collate(indices).to(self.device)
        self.optimizer.zero_grad(set_to_none=True)
        log_probs, attn = module(
            batch, teacher_forcing=self.config.optim.teacher_forcing, generator=self.generator
        )
        terms = self.task.loss_terms(log_probs, attn, batch)
        objective = terms.objective()
        objective.backward()
        if self.config.optim.clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.optim.clip_norm)
        self.optimizer.step()
        lr = self.schedule.lr
        self.schedule.step()
        progress = self.progress
        progress.step += 1
        tokens = terms.tokens.tokens
        loss, nll = float(objective.detach()), float(terms.tokens.nll.detach()) / max(tokens, 1)
        if not math.isfinite(loss):
            raise FloatingPointError(f"training loss became {loss} at step {progress.step}")
        progress.epoch_loss += loss * tokens
        progress.epoch_nll += nll * tokens
        progress.epoch_tokens += tokens
        return {"step": progress.step, "loss": loss, "nll": nll, "tokens": tokens, "lr": lr}

    def _should_stop(self) -> bool:
        if self.context.enabled:
            return any_rank(self._stop_requested, self.context)
        return self._stop_requested

    def _maybe_periodic_save(self) -> None:
        minutes = self.run.save_every_minutes
        if minutes > 0 and time.monotonic() - self._last_save >= minutes * 60:
            self._save_state(with_checkpoint=True)
            logger.info("saved a resumable state at step %d", self.progress.step)

    # -- epoch end: validation, checkpoints, early stopping --------------------------------------
    def _validate(self, epoch: int) -> dict[str, Any]:
        metrics = self.task.validate(self.model, self.device, decode=self.run.val_decode)
        self.task.train_mode(self.model)
        p = self.progress
        tokens = max(p.epoch_tokens, 1)
        return {
            "epoch": epoch + 1,
            "step": p.step,
            "train_loss": p.epoch_loss / tokens,
            "train_ppl": math.exp(min(p.epoch_nll / tokens, 50.0)),
            **metrics,
            "lr": self.schedule.lr,
            "seconds": p.epoch_seconds,
        }

    def _is_improvement(self, value: float) -> bool:
        best = self.progress.best
        if best is None:
            return True
        return value > best if self.higher_is_better else value < best

    def _record_validation(self, epoch: int) -> dict[str, Any]:
        record = self._validate(epoch)
        value = float(record[self.metric])
        improved = self._is_improvement(value)
        if improved:
            self.progress.best, self.progress.bad_epochs = value, 0
        else:
            self.progress.bad_epochs += 1
        if self.schedule.on_validation(value, higher_is_better=self.higher_is_better):
            logger.info(
                "validation %s stalled: learning rate now %.2e", self.metric, self.schedule.lr
            )
        record["best"] = improved
        self.history.append(record)
        self._save_checkpoints(record, best=improved)
        return record

    def _finish_epoch(self, epoch: int) -> str:
        record = self._record_validation(epoch)
        p = self.progress
        p.epoch, p.batch = epoch + 1, 0
        p.epoch_loss = p.epoch_nll = p.epoch_seconds = 0.0
        p.epoch_tokens = 0
        self._save_state()
        self.trigger("on_epoch_end", record)
        patience = self.run.early_stopping
        if patience and p.bad_epochs >= patience:
            logger.info("no %s improvement for %d epochs: stopping early", self.metric, patience)
            return "early_stopped"
        return "continue"

    def _end_of_training_validation(self, epoch: int) -> None:
        record = self._record_validation(epoch)
        self._save_state()
        self.trigger("on_epoch_end", record)

    def _checkpoint_info(self, record: dict[str, Any]) -> dict[str, Any]:
        return {
            "trained_by": "attnscope train",
            "epoch": record["epoch"],
            "step": record["step"],
            "metrics": {k: v for k, v in record.items() if k not in ("epoch", "step")},
            "train_config": portable_paths(
                self.config.to_dict(), self.settings_dir, keys=PATH_SETTINGS
            ),
            "world_size": self.context.world_size,
            **language_entries(
                self.task.name, self.config.data.src_lang, self.config.data.tgt_lang
            ),
        }

    def _save_checkpoints(self, record: dict[str, Any], *, best: bool) -> None:
        if not self.context.is_main:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        info = self._checkpoint_info(record)
        self.task.save_checkpoint(self.out_dir / LAST_CHECKPOINT, self.model, info)
        if best:
            self.task.save_checkpoint(self.out_dir / BEST_CHECKPOINT, self.model, info)
        if self.epoch_keeper.enabled:
            self.task.save_checkpoint(
                self.out_dir / epoch_checkpoint_name(record["epoch"]), self.model, info
            )
            self.epoch_keeper.prune()
        self.trigger(
            "on_checkpoint", {"epoch": record["epoch"], "step": record["step"], "best": best}
        )

    # -- resumable state ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly (plain values and tensors only)."""
        return {
            "config": config_json(self.config.to_dict()),
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "rng": capture_rng(self.generator),
            "progress": asdict(self.progress),
            "history": json.dumps(self.history),
            "tokenizers": {k: tokenizer_to_tensor(t) for k, t in self.task.tokenizers().items()},
            "world_size": self.context.world_size,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state_dict()`` output (e.g. loaded by ``state.load_state``)."""
        if state["world_size"] != self.context.world_size:
            logger.warning(
                "resuming a %d-process run with %d processes: the data order changes",
                state["world_size"],
                self.context.world_size,
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        restore_rng(state["rng"], self.generator)
        self.progress = Progress(**state["progress"])
        self.history = json.loads(state["history"])

    def _save_state(self, *, with_checkpoint: bool = False) -> None:
        """Write the resumable state; mid-epoch, also refresh the last checkpoint."""
        self._last_save = time.monotonic()
        if not self.context.is_main:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if with_checkpoint:
            p = self.progress
            record = {
                "epoch": p.epoch + 1,
                "step": p.step,
                "partial_epoch": True,
                "batches_done": p.batch,
            }
            self.task.save_checkpoint(
                self.out_dir / LAST_CHECKPOINT, self.model, self._checkpoint_info(record)
            )
        save_state(self.out_dir / STATE_FILE, self.state_dict())


def restored_tokenizers(state: dict[str, Any]) -> dict[str, Any]:
    """The tokenizers stored in a training state, by role ("src", "tgt")."""
    return {role: tokenizer_from_tensor(data) for role, data in state["tokenizers"].items()}
