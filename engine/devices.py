"""Choosing where models run: device selection, CPU threads, optional half precision.

``pick_device("auto")`` prefers CUDA, then Apple's MPS, then the CPU; an
explicit request ("cpu", "cuda", "cuda:1", "mps") is validated and an
unavailable one raises ``DeviceError`` saying what is available instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator

import torch

from attnscope.engine.errors import DeviceError

logger = logging.getLogger(__name__)

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda)(?::(\d+))?$")

# precision name -> autocast dtype (None: plain float32, no autocast)
PRECISIONS: dict[str, torch.dtype | None] = {
    "fp32": None,
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
}


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    """Every device this machine can run on, best first, e.g. ["cuda:0", "mps", "cpu"]."""
    devices = []
    if torch.cuda.is_available():
        devices.extend(f"cuda:{i}" for i in range(torch.cuda.device_count()))
    if _mps_available():
        devices.append("mps")
    devices.append("cpu")
    return devices


def pick_device(preference: str = "auto") -> torch.device:
    """The torch device for ``preference``: "auto", "cpu", "cuda", "cuda:N" or "mps".

    Raises DeviceError for an unknown name or a device this machine lacks.
    """
    text = str(preference).strip().lower()
    match = _DEVICE_PATTERN.match(text)
    if match is None or (match.group(2) is not None and match.group(1) != "cuda"):
        raise DeviceError(
            f"unknown device {preference!r}; valid: auto, cpu, cuda, cuda:N, mps "
            f"(available here: {', '.join(available_devices())})"
        )
    kind, index = match.group(1), match.group(2)
    if kind == "auto":
        device = torch.device(available_devices()[0])
        logger.info("auto-selected device %s", device)
        return device
    if kind == "cpu":
        return torch.device("cpu")
    if kind == "mps":
        if not _mps_available():
            raise DeviceError(
                f"device 'mps' is not available; available: {', '.join(available_devices())}"
            )
        return torch.device("mps")
    return _cuda_device(preference, int(index) if index is not None else None)


def _cuda_device(preference: str, index: int | None) -> torch.device:
    if not torch.cuda.is_available():
        raise DeviceError(
            f"device {preference!r} needs CUDA, which is not available "
            f"(no NVIDIA GPU or a CPU-only PyTorch); available: {', '.join(available_devices())}"
        )
    count = torch.cuda.device_count()
    if index is None:
        return torch.device("cuda", torch.cuda.current_device())
    if index >= count:
        raise DeviceError(
            f"device {preference!r} does not exist: this machine has {count} CUDA device(s) "
            f"(cuda:0..cuda:{count - 1})"
        )
    return torch.device("cuda", index)


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def configure_threads(reserve_for_gui: int = 1) -> int:
    """Let torch use all usable cores but ``reserve_for_gui``; returns the thread count."""
    if reserve_for_gui < 0:
        raise ValueError(f"reserve_for_gui must be >= 0, got {reserve_for_gui}")
    threads = max(1, _usable_cores() - reserve_for_gui)
    torch.set_num_threads(threads)
    logger.info("torch uses %d CPU thread(s)", threads)
    return threads


@contextlib.contextmanager
def autocast_context(device: torch.device | str, precision: str = "fp32") -> Iterator[None]:
    """Run the block in ``precision`` ("fp32" | "fp16" | "bf16") on ``device``.

    Half precision applies on GPUs (CUDA, MPS) only; on the CPU the block
    always runs in float32. Unknown precisions raise ValueError.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    device = torch.device(device)
    dtype = PRECISIONS[precision]
    if dtype is None or device.type not in ("cuda", "mps"):
        if dtype is not None:
            logger.debug("precision %s ignored on %s: running in fp32", precision, device)
        yield
        return
    if dtype is torch.bfloat16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise DeviceError(f"bf16 is not supported on {device}; use fp16 or fp32")
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield
