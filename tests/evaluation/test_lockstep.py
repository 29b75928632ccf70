"""The lockstep protocol without DeepSpeed: two gloo processes, a fake partitioned model whose every forward is a
collective, and unequal numbers of forwards per process; plus what it must not do in a single process."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from support.free_port import free_port

from unlearn_core.evaluation import lockstep, model_calls


class CollectiveModel(torch.nn.Module):
    """A stand-in for a ZeRO-3-partitioned model: parameters carry ``ds_id``/``ds_status`` and every forward joins
    an all-reduce (as the parameter gathers would); it counts its forwards and the one-token ones."""

    def __init__(self, partitioned: bool = True) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        if partitioned:
            self.weight.ds_id, self.weight.ds_status = 0, "NOT_AVAILABLE"
        self.partitioned = partitioned
        self.calls = 0
        self.one_token_calls = 0

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Any:
        if self.partitioned:
            torch.distributed.all_reduce(torch.ones(1))
        self.calls += 1
        self.one_token_calls += int(input_ids.shape == (1, 1))
        return SimpleNamespace(logits=torch.zeros(*input_ids.shape, 3))


def _forwards(model: torch.nn.Module, n: int) -> None:
    ids = torch.ones((2, 4), dtype=torch.long)
    for _ in range(n):
        model_calls.run(model, ids, torch.ones_like(ids))


def _process(rank: int, port: int, out: str) -> None:
    """One of two processes: 3 + 4 * rank forwards of the partitioned model, interleaved with a local model's."""
    import torch.distributed as dist

    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2, timeout=timedelta(seconds=60)
    )
    model, local = CollectiveModel(), CollectiveModel(partitioned=False)
    counters = lockstep.LockstepCounters()
    with lockstep.in_lockstep(model, pad_id=0, counters=counters), lockstep.in_lockstep(local, pad_id=0):
        with lockstep.in_lockstep(model, pad_id=0, counters=counters):  # nested: the outer session syncs
            _forwards(model, 3 + 4 * rank)
        _forwards(local, 5 - rank)
    dist.barrier()
    facts = {"calls": model.calls, "one_token": model.one_token_calls, "local": local.calls, **vars(counters)}
    Path(out, f"rank{rank}.json").write_text(json.dumps(facts))
    dist.destroy_process_group()


def test_processes_with_unequal_work_make_equal_numbers_of_forwards(tmp_path: Path) -> None:
    torch.multiprocessing.spawn(_process, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    short, long = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert short["calls"] == long["calls"] == 7  # every round is one forward in each process
    assert (short["one_token"], long["one_token"]) == (4, 0)  # the process done first ran the dummy forwards
    assert short["dummy_forwards"] == 4 and long["dummy_forwards"] == 0
    assert short["rounds"] == long["rounds"] == 8  # 7 forwards, then the round in which everyone is done
    assert short["sessions"] == long["sessions"] == 1
    assert (short["local"], long["local"]) == (5, 4)  # a model with local weights is not synchronised


def test_single_process_and_local_models_are_left_alone() -> None:
    model = CollectiveModel(partitioned=False)
    assert not lockstep.is_partitioned(model)
    assert lockstep.is_partitioned(CollectiveModel())
    counters = lockstep.LockstepCounters()
    with lockstep.in_lockstep(CollectiveModel(), pad_id=0, counters=counters):  # no process group: a no-op
        _forwards(model, 2)
    assert model.calls == 2 and counters == lockstep.LockstepCounters()
    assert not lockstep._SESSIONS
