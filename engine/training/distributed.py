"""Running the same command under ``torchrun``: process group, sharding, gathering.

``attnscope train`` (and batch ``translate`` / ``caption``) run unchanged as
one process or as N processes started by
``torchrun --nproc_per_node N [--nnodes M ...] -m attnscope ...``. torchrun
sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; ``init_distributed`` turns
them into a process group (nccl between GPUs, gloo on CPU) and a
``DistributedContext``. With no such variables everything here degrades to
the single-process case, so callers never branch on "am I distributed".

Results cross processes as JSON encoded into uint8 tensors, never pickle.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

logger = logging.getLogger(__name__)

BACKENDS = {"cuda": "nccl", "cpu": "gloo", "mps": "gloo"}


@dataclass(frozen=True)
class DistributedContext:
    """Who this process is among the workers of one job.

    rank:        0..world_size-1, unique over all machines
    world_size:  number of processes
    local_rank:  index on this machine (picks the GPU)
    device:      where collective tensors live ("cuda:<local_rank>" for nccl, else "cpu")
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints and logs."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1 and dist.is_available() and dist.is_initialized()


SINGLE_PROCESS = DistributedContext()


def launched_by_torchrun() -> bool:
    """True when torchrun (or another launcher) set WORLD_SIZE > 1 for this process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(device_type: str = "cpu") -> DistributedContext:
    """Join the process group torchrun prepared; the single-process context otherwise.

    ``device_type`` ("cuda" / "cpu") picks the backend: nccl for GPUs, gloo otherwise.
    Calling it again in an initialised process returns the current context.
    """
    if not launched_by_torchrun():
        return SINGLE_PROCESS
    rank = int(os.environ["RANK"])
    world_size = int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = BACKENDS.get(device_type, "gloo")
    device = f"cuda:{local_rank}" if backend == "nccl" else "cpu"
    if not dist.is_initialized():
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
        logger.info("rank %d/%d joined the %s process group", rank, world_size, backend)
    return DistributedContext(rank, world_size, local_rank, device)


def shutdown_distributed() -> None:
    """Leave the process group (a no-op when none was joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _context(context: DistributedContext | None) -> DistributedContext:
    if context is not None:
        return context
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
        backend = dist.get_backend()
        device = f"cuda:{torch.cuda.current_device()}" if backend == "nccl" else "cpu"
        return DistributedContext(rank, world, int(os.environ.get("LOCAL_RANK", "0")), device)
    return SINGLE_PROCESS


def shard_for_rank(items: Sequence[Any], context: DistributedContext | None = None) -> list[Any]:
    """This process's share of ``items``: every world_size-th one, starting at its rank.

    Pair with ``gather_in_order`` to get results back in the original order.
    """
    ctx = _context(context)
    return list(items[ctx.rank :: ctx.world_size])


def _all_gather_bytes(payload: bytes, ctx: DistributedContext) -> list[bytes]:
    data = torch.frombuffer(bytearray(payload), dtype=torch.uint8).to(ctx.device)
    size = torch.tensor([data.numel()], dtype=torch.long, device=ctx.device)
    sizes = [torch.zeros_like(size) for _ in range(ctx.world_size)]
    dist.all_gather(sizes, size)
    longest = int(max(s.item() for s in sizes))
    padded = torch.zeros(longest, dtype=torch.uint8, device=ctx.device)
    padded[: data.numel()] = data
    gathered = [torch.empty_like(padded) for _ in range(ctx.world_size)]
    dist.all_gather(gathered, padded)
    return [
        g[: int(s.item())].cpu().numpy().tobytes() for g, s in zip(gathered, sizes, strict=True)
    ]


def gather_in_order(
    local_results: Sequence[Any], context: DistributedContext | None = None
) -> list[Any]:
    """Every rank's results of its ``shard_for_rank`` share, merged in the original order.

    Results must be JSON-serialisable (strings, numbers, lists, dicts). Every
    rank receives the full list (a collective call: all ranks must call it).
    """
    ctx = _context(context)
    if not ctx.enabled:
        return list(local_results)
    payload = json.dumps(list(local_results), ensure_ascii=False).encode("utf-8")
    shards = [json.loads(raw.decode("utf-8")) for raw in _all_gather_bytes(payload, ctx)]
    total = sum(len(shard) for shard in shards)
    return [shards[i % ctx.world_size][i // ctx.world_size] for i in range(total)]


def all_reduce_sum(
    values: Sequence[float], context: DistributedContext | None = None
) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (float64)."""
    ctx = _context(context)
    if not ctx.enabled:
        return [float(v) for v in values]
    tensor = torch.tensor(list(values), dtype=torch.float64, device=ctx.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return [float(v) for v in tensor.cpu().tolist()]


def any_rank(flag: bool, context: DistributedContext | None = None) -> bool:
    """True on every rank if ``flag`` is True on at least one (e.g. a stop request)."""
    return all_reduce_sum([1.0 if flag else 0.0], context)[0] > 0


def broadcast_json(value: Any, context: DistributedContext | None = None) -> Any:
    """Rank 0's ``value`` on every rank (JSON-serialisable values only)."""
    ctx = _context(context)
    if not ctx.enabled:
        return value
    payload = json.dumps(value if ctx.is_main else None).encode("utf-8")
    return json.loads(_all_gather_bytes(payload, ctx)[0].decode("utf-8"))


def barrier(context: DistributedContext | None = None) -> None:
    """Wait for every rank (no-op in a single process)."""
    if _context(context).enabled:
        dist.barrier()
