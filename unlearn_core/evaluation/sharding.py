"""Split evaluation work across processes and gather the results back in input order."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def can_shard() -> bool:
    """True in a multi-process run whose processes hold full weights (DDP, ZeRO-1/2).

    Under ZeRO-3 every forward pass is a collective, and decoding makes a data-dependent number of them, so there each
    process evaluates everything (identical work keeps the collectives in step).
    """
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) < 2 or not dist.is_available() or not dist.is_initialized():
        return False
    return os.environ.get("ACCELERATE_DEEPSPEED_ZERO_STAGE", "") != "3"


def map_sharded(fn: Callable[[list[T]], list[R]], items: Sequence[T]) -> list[R]:
    """``fn(items)``, computed as each process's share of ``items`` and gathered back in input order.

    Shares are every ``world_size``-th item, padded by wrapping around so every process does the same number of
    items; the duplicates are dropped on gathering, so the result is exactly ``fn`` applied item by item.
    """
    import torch.distributed as dist

    from unlearn_core.training.batches import shard_positions

    world, rank = dist.get_world_size(), dist.get_rank()
    if not items:
        return []
    mine = fn([items[p] for p in shard_positions(len(items), rank, world)])
    gathered: list[Any] = [None] * world
    dist.all_gather_object(gathered, mine)
    out: list[Any] = [None] * len(items)
    for r in range(world):
        for p, value in zip(shard_positions(len(items), r, world), gathered[r]):
            out[p] = value
    return out
