"""The resumable training state: a torch.save file of tensors and plain values only.

It sits next to the checkpoints (``<out_dir>/train_state.pt``) and holds
what the shareable checkpoint must not: optimizer moments, schedule, every
random generator, the position in the epoch's batch list, the metric
history, plus full-precision weights and the tokenizers (as uint8 tensors).
It is loaded with ``torch.load(weights_only=True)``: nothing is unpickled,
so every value must be a tensor, number, string, bool, None, list, tuple or
dict of those (``check_plain`` enforces it before saving).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from attnscope.engine.errors import CheckpointError

logger = logging.getLogger(__name__)

STATE_FORMAT = "attnscope-train-state"
STATE_VERSION = 1
STATE_FILE = "train_state.pt"
_PLAIN = (int, float, str, bool, type(None), torch.Tensor)


def check_plain(value: Any, where: str = "state") -> None:
    """Raise TypeError naming the first value ``weights_only`` loading would refuse."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, int | str):
                raise TypeError(f"{where}: key {key!r} is not a str or int")
            check_plain(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_plain(item, f"{where}[{index}]")
    elif not isinstance(value, _PLAIN):
        raise TypeError(f"{where} is a {type(value).__name__}, not a plain value or tensor")


def capture_rng(generator: torch.Generator) -> dict[str, Any]:
    """Every random generator training uses: torch CPU, CUDA devices, teacher forcing."""
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "teacher_forcing": generator.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any], generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    generator.set_state(state["teacher_forcing"])
    if "cuda" in state and torch.cuda.is_available():
        if len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda"])
        else:
            logger.warning("GPU count changed since the state was saved; CUDA RNG not restored")


def save_state(path: str | Path, state: dict[str, Any]) -> Path:
    """Atomically write ``state`` (plain values and tensors only) to ``path``."""
    path = Path(path)
    check_plain(state)
    payload = {"format": STATE_FORMAT, "version": STATE_VERSION, **state}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_state(path: str | Path) -> dict[str, Any]:
    """Read a training state written by ``save_state`` (weights_only, on the CPU)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no training state at {path}; nothing to resume")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(f"cannot read training state {path}: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path} is not an AttnScope training state")
    if state.get("version") != STATE_VERSION:
        raise CheckpointError(
            f"{path} has training-state version {state.get('version')}; "
            f"this AttnScope reads version {STATE_VERSION}"
        )
    return state


def config_json(config_dict: dict[str, Any]) -> str:
    return json.dumps(config_dict, sort_keys=True)
