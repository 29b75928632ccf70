"""Batch orders: shuffled finetuning batches and the forget/retain pairing of the unlearning protocol."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from unlearn_core.data import Tokenized, collate
from unlearn_core.distributed import shard_positions


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """A (nested) batch with every tensor moved to ``device``."""
    return {k: (to_device(v, device) if isinstance(v, dict) else v.to(device)) for k, v in batch.items()}


def _generator(seed: int, epoch: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed * 1_000_003 + epoch * 7919)
    return g


@dataclass
class FinetuneBatches:
    """Each epoch, a seeded shuffle of the samples, split across ranks, cut into micro-batches."""

    samples: Sequence[Tokenized]
    batch_size: int
    pad_id: int
    seed: int
    rank: int = 0
    world_size: int = 1

    def per_rank(self) -> int:
        """Samples each rank sees per epoch."""
        return math.ceil(len(self.samples) / self.world_size)

    def __len__(self) -> int:
        return math.ceil(self.per_rank() / self.batch_size)

    def epoch(self, epoch: int) -> Iterator[dict[str, torch.Tensor]]:
        """Micro-batches of one epoch for this rank (the same global order on every rank)."""
        order = torch.randperm(len(self.samples), generator=_generator(self.seed, epoch)).tolist()
        order = [order[p] for p in shard_positions(len(order), self.rank, self.world_size)]
        for start in range(0, len(order), self.batch_size):
            yield collate([self.samples[i] for i in order[start : start + self.batch_size]], self.pad_id)


@dataclass
class ForgetRetainBatches:
    """One epoch = one pass over the anchor set (the forget set by default, ``anchor="retain"`` the retain set);
    each of its samples gets a uniformly drawn sample of the other set.

    Draws are with replacement, redrawn every epoch. The draw for each position of the epoch's global anchor order
    comes from one seeded generator, and each data-parallel rank takes its own positions, so ranks train on
    different draws (unlike a generator seeded the same on every rank) and the union over ranks is the same
    whatever the world size: a 2-process run sees the same global batches as a 1-process run.

    ``forget_fields`` names extra answers of the forget samples (``Tokenized.extras``) collated as
    ``batch["forget_fields"][name]``, row for row with ``batch["forget"]``.
    """

    forget: Sequence[Tokenized]
    retain: Sequence[Tokenized]
    batch_size: int
    pad_id: int
    seed: int
    rank: int = 0
    world_size: int = 1
    anchor: str = "forget"
    forget_fields: tuple[str, ...] = ()

    def _sizes(self) -> tuple[int, int]:
        """(anchor set size, other set size)."""
        if self.anchor == "retain":
            return len(self.retain), len(self.forget)
        return len(self.forget), len(self.retain)

    def __len__(self) -> int:
        return math.ceil(math.ceil(self._sizes()[0] / self.world_size) / self.batch_size)

    def pairs(self, epoch: int) -> list[tuple[int, int]]:
        """(forget index, retain index) pairs this rank trains on in ``epoch``."""
        anchored, other = self._sizes()
        order = torch.randperm(anchored, generator=_generator(self.seed, epoch)).tolist()
        draws = torch.randint(other, (len(order),), generator=_generator(self.seed + 1, epoch)).tolist()
        mine = [(order[p], draws[p]) for p in shard_positions(len(order), self.rank, self.world_size)]
        return [(b, a) for a, b in mine] if self.anchor == "retain" else mine

    def epoch(self, epoch: int) -> Iterator[dict[str, Any]]:
        """``{"forget": batch, "retain": batch}`` micro-batches of one epoch (with ``"forget_fields"`` when asked)."""
        pairs = self.pairs(epoch)
        for start in range(0, len(pairs), self.batch_size):
            chunk = pairs[start : start + self.batch_size]
            forget = [self.forget[f] for f, _ in chunk]
            batch: dict[str, Any] = {
                "forget": collate(forget, self.pad_id),
                "retain": collate([self.retain[r] for _, r in chunk], self.pad_id),
            }
            if self.forget_fields:
                batch["forget_fields"] = {
                    name: collate([s.extra(name) for s in forget], self.pad_id) for name in self.forget_fields
                }
            yield batch
