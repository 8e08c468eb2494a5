"""Sharding and in-order gathering, single-process and across 2 gloo processes."""

import json
import os
import socket

import pytest
import torch.multiprocessing as mp

from attnscope.engine.training import distributed
from attnscope.engine.training.distributed import DistributedContext


def test_single_process_is_the_identity(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    context = distributed.init_distributed("cpu")
    assert context == distributed.SINGLE_PROCESS and context.is_main and not context.enabled
    items = ["a", "b", "c"]
    assert distributed.shard_for_rank(items) == items
    assert distributed.gather_in_order(items) == items
    assert distributed.all_reduce_sum([1.5, 2]) == [1.5, 2.0]
    assert distributed.any_rank(False) is False
    assert distributed.broadcast_json({"x": 1}) == {"x": 1}


def test_shards_interleave_by_rank():
    items = list(range(7))
    shards = [distributed.shard_for_rank(items, DistributedContext(r, 3)) for r in range(3)]
    assert shards == [[0, 3, 6], [1, 4], [2, 5]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    context = distributed.init_distributed("cpu")
    try:
        items = [f"sentence {i} é" for i in range(9)]
        mine = distributed.shard_for_rank(items, context)
        results = [{"text": s.upper(), "rank": context.rank} for s in mine]
        gathered = distributed.gather_in_order(results, context)
        summed = distributed.all_reduce_sum([rank + 1.0, 10.0], context)
        stop = distributed.any_rank(rank == 1, context)
        shared = distributed.broadcast_json({"from": rank}, context)
        record = {"gathered": gathered, "summed": summed, "stop": stop, "shared": shared}
        with open(os.path.join(out_dir, f"rank{rank}.json"), "w", encoding="utf-8") as handle:
            json.dump(record, handle)
    finally:
        distributed.shutdown_distributed()


@pytest.mark.timeout(120)
def test_two_gloo_processes_gather_in_the_original_order(tmp_path):
    mp.start_processes(
        _worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True, start_method="spawn"
    )
    expected_texts = [f"SENTENCE {i} É" for i in range(9)]
    for rank in range(2):
        record = json.loads((tmp_path / f"rank{rank}.json").read_text(encoding="utf-8"))
        assert [r["text"] for r in record["gathered"]] == expected_texts
        assert [r["rank"] for r in record["gathered"]] == [i % 2 for i in range(9)]
        assert record["summed"] == [3.0, 20.0]
        assert record["stop"] is True
        assert record["shared"] == {"from": 0}
