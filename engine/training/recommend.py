"""The end of a run: choose the decoding the best checkpoint recommends, on validation.

``store_recommended_decoding(trainer)`` loads the weights of ``best.safetensors``
(as stored, so the grid measures the file that ships), decodes the validation
set once per setting of ``attnscope.engine.decoding.choice`` (greedy, beam 3 /
5, no / average / GNMT length penalties) and writes ``recommended_decoding``
and every setting's ``decoding_choice`` score into that file's info with a
metadata-only rewrite. The CLI and the app then decode with it by default.
Under torchrun every rank decodes its share and rank 0 writes.
"""

from __future__ import annotations

import logging
from typing import Any

from attnscope.engine.checkpoint import load_checkpoint
from attnscope.engine.checkpoint_info import rewrite_info
from attnscope.engine.decoding.choice import DecodingChoice, choose_decoding
from attnscope.engine.training.distributed import barrier

logger = logging.getLogger(__name__)


def _data_description(trainer: Any) -> str:
    task, data = trainer.task, trainer.config.data
    if task.name == "translation":
        count = len(task.val.sources)
        if data.max_val_examples:
            count = min(count, data.max_val_examples)
        return f"validation data of the run, {count} sentences"
    count = len(task.val.images)
    if data.max_val_examples:
        count = min(count, data.max_val_examples)
    return f"validation split {'+'.join(data.val_splits)}, {count} images"


def store_recommended_decoding(trainer: Any) -> DecodingChoice | None:
    """Run the grid on the best checkpoint and store its choice there; None if there is none."""
    from attnscope.engine.training.trainer import BEST_CHECKPOINT

    path = trainer.out_dir / BEST_CHECKPOINT
    barrier(trainer.context)  # rank 0 wrote the file
    if not path.exists():
        logger.warning("no %s to recommend a decoding for", path)
        return None
    model = trainer.model
    model.load_state_dict(load_checkpoint(path).model.state_dict())
    task = trainer.task
    base = task.validation_decoding()
    fixed = {"max_length": base.max_length} if task.name == "captioning" else {}

    def log(setting: dict[str, Any], value: float) -> None:
        logger.info("decoding %s: validation %s %.4f", setting, task.decoded_metric, value)

    choice = choose_decoding(
        lambda config: task.score_decoding(model, trainer.device, config),
        base,
        metric=task.decoded_metric,
        data=_data_description(trainer),
        fixed=fixed,
        on_score=log,
    )
    if trainer.context.is_main:
        rewrite_info(path, lambda info: {**info, **choice.to_info()})
        logger.info("recommended decoding (stored in %s): %s", path, choice.recommended)
    barrier(trainer.context)
    return choice
