"""``train(config)``: everything between a TrainConfig and a finished run.

Picks the device, joins the torchrun process group when there is one,
restores the resumable state when asked, builds the task (data and
vocabularies), the model and the Trainer, attaches the progress display and
the metrics log on rank 0, and runs it. The ``attnscope train`` command is
a thin argparse layer over this function.
"""

from __future__ import annotations

import gc
import json
import logging
import signal
import sys
from collections.abc import Callable, Iterable
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TextIO

import torch

from attnscope.engine.devices import pick_device
from attnscope.engine.training.callbacks import MetricsLog, ProgressPrinter
from attnscope.engine.training.captioning_task import CaptioningTask
from attnscope.engine.training.config import TrainConfig
from attnscope.engine.training.distributed import (
    DistributedContext,
    barrier,
    init_distributed,
    shutdown_distributed,
)
from attnscope.engine.training.recommend import store_recommended_decoding
from attnscope.engine.training.state import STATE_FILE, load_state
from attnscope.engine.training.tasks import TrainingTask
from attnscope.engine.training.trainer import Trainer, TrainResult, restored_tokenizers
from attnscope.engine.training.translation_task import TranslationTask
from attnscope.models.registry import build_model

logger = logging.getLogger(__name__)

TASKS: dict[str, type[TrainingTask]] = {
    "translation": TranslationTask,
    "captioning": CaptioningTask,
}
METRICS_FILE = "metrics.jsonl"
CONFIG_FILE = "train_config.json"
_SETTINGS_THAT_MUST_MATCH = ("data", "vocab", "model")

Callback = tuple[str, Callable[[Trainer, dict[str, Any]], None]]


def _device_for(preference: str) -> tuple[torch.device, DistributedContext]:
    device = pick_device(preference)
    context = init_distributed(device.type)
    if context.enabled and device.type == "cuda":
        device = torch.device("cuda", context.local_rank)
    return device, context


def _resume_state(config: TrainConfig) -> dict[str, Any] | None:
    path = Path(config.run.out_dir) / STATE_FILE
    if not config.run.resume:
        if path.exists():
            logger.warning("%s exists; starting a new run over it (use --resume to continue)", path)
        return None
    if not path.exists():
        logger.warning("nothing to resume in %s: starting a new run", config.run.out_dir)
        return None
    state = load_state(path)
    saved = json.loads(state["config"])
    with suppress(TypeError, ValueError):  # settings added since compare as their defaults
        saved = json.loads(json.dumps(TrainConfig.from_dict(saved).to_dict()))
    current = json.loads(json.dumps(config.to_dict()))  # tuples -> lists, as saved
    changed = [k for k in _SETTINGS_THAT_MUST_MATCH if saved.get(k) != current.get(k)]
    if changed:
        raise ValueError(
            f"cannot resume {path}: the [{'], ['.join(changed)}] settings differ from the saved run"
        )
    logger.info("resuming from %s at step %d", path, state["progress"]["step"])
    return state


@contextmanager
def _stop_on_signals(trainer: Trainer, enabled: bool):
    """SIGTERM / first Ctrl-C: save a resumable state and stop; a second Ctrl-C aborts."""
    if not enabled:
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum, frame):
        if trainer._stop_requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        logger.warning("signal %d: stopping after this batch (state will be saved)", signum)
        trainer.request_stop()

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def build_trainer(
    config: TrainConfig,
    *,
    device: torch.device,
    context: DistributedContext,
    state: dict[str, Any] | None = None,
    settings_dir: Path | None = None,
) -> Trainer:
    """Task, model and Trainer for ``config``; continued from ``state`` when given.
    ``settings_dir`` (the config file's folder) is what checkpoints record paths against."""
    torch.manual_seed(config.run.seed)
    tokenizers = restored_tokenizers(state) if state else None
    task = TASKS[config.task](config, context, tokenizers=tokenizers)
    torch.manual_seed(config.run.seed)  # same initial weights whatever the data code drew
    model = build_model(task.model_config)
    trainer = Trainer(
        task, model, config, device=device, context=context, settings_dir=settings_dir
    )
    if state is not None:
        trainer.load_state_dict(state)
    return trainer


def train(
    config: TrainConfig,
    *,
    callbacks: Iterable[Callback] = (),
    progress_stream: TextIO | None = None,
    handle_signals: bool = False,
    settings_dir: str | Path | None = None,
) -> TrainResult:
    """Run (or resume) the training ``config`` describes; returns how it ended.

    A run that was not interrupted ends by choosing the best checkpoint's
    recommended decoding on validation (``run.choose_decoding``, needs
    ``run.val_decode``). Checkpoints record data paths relative to
    ``settings_dir`` (the config file's folder), else by their last component.
    """
    threads = torch.get_num_threads()
    if config.run.num_threads:
        torch.set_num_threads(config.run.num_threads)
    device, context = _device_for(config.run.device)
    try:
        state = _resume_state(config)
        trainer = build_trainer(
            config,
            device=device,
            context=context,
            state=state,
            settings_dir=Path(settings_dir) if settings_dir is not None else None,
        )
        out_dir = Path(config.run.out_dir)
        if context.is_main:
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / CONFIG_FILE).write_text(json.dumps(config.to_dict(), indent=2) + "\n")
            ProgressPrinter(
                epochs=config.run.epochs,
                every_seconds=config.run.progress_seconds,
                stream=progress_stream or sys.stderr,
            ).attach(trainer)
            MetricsLog(
                out_dir / METRICS_FILE,
                every_steps=config.run.log_every,
                resume_step=trainer.progress.step if state else None,
            ).attach(trainer)
        for event, fn in callbacks:
            trainer.add_callback(event, fn)
        logger.info(
            "training on %s (%d process%s)",
            device,
            context.world_size,
            "es" if context.world_size > 1 else "",
        )
        with _stop_on_signals(trainer, handle_signals):
            result = trainer.fit()
        if result.status != "interrupted" and config.run.val_decode and config.run.choose_decoding:
            store_recommended_decoding(trainer)
        # ranks leave together: none tears the group down while another still saves or
        # talks (a rank of a two-process run aborted at exit now and then without this)
        barrier(context)
        return result
    finally:
        if context.enabled:
            trainer = None  # the DistributedDataParallel wrapper goes before its process group
            gc.collect()
        shutdown_distributed()
        torch.set_num_threads(threads)
