"""Split evaluation work across processes and gather the results back in input order."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from unlearn_core.distributed import shard_positions

T = TypeVar("T")
R = TypeVar("R")


def can_shard() -> bool:
    """True in a multi-process run (DDP, ZeRO-1/2/3) whose process group is up.

    Under ZeRO-3 every forward of the partitioned model is a collective and processes make unequal numbers of them
    on their shares; the caller keeps them in step with ``evaluation.lockstep`` (``map_sharded(..., synced=...)``).
    """
    import torch.distributed as dist

    return int(os.environ.get("WORLD_SIZE", "1")) >= 2 and dist.is_available() and dist.is_initialized()


def map_sharded(
    fn: Callable[[list[T]], list[R]], items: Sequence[T], synced: contextlib.AbstractContextManager[Any] | None = None
) -> list[R]:
    """``fn(items)``, computed as each process's share of ``items`` and gathered back in input order.

    Shares are every ``world_size``-th item, padded by wrapping around so every process does the same number of
    items; the duplicates are dropped on gathering, so the result is exactly ``fn`` applied item by item.
    ``synced`` (a lockstep session) is entered around this process's share and left, drained, before gathering.
    """
    import torch.distributed as dist

    world, rank = dist.get_world_size(), dist.get_rank()
    if not items:
        return []
    with synced if synced is not None else contextlib.nullcontext():
        mine = fn([items[p] for p in shard_positions(len(items), rank, world)])
    gathered: list[Any] = [None] * world
    dist.all_gather_object(gathered, mine)
    out: list[Any] = [None] * len(items)
    for r in range(world):
        for p, value in zip(shard_positions(len(items), r, world), gathered[r]):
            out[p] = value
    return out
