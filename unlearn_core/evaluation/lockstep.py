"""Forward passes of a ZeRO-3-partitioned model kept in step across processes that evaluate different shares.

Under DeepSpeed ZeRO-3 each process holds a slice of every parameter and a forward pass gathers the full parameters
module by module, so every forward is a collective that all processes must join. Sharded evaluation gives processes
unequal work (lengths, batches, decoding steps), hence unequal numbers of forwards, which would hang. Inside a
lockstep session every forward of the model first joins an all-reduce of a "still working" flag (a forward
pre-hook on the model, installed for the session). A process that has finished its share keeps joining with flag 0
and runs a one-token dummy forward in every round in which another process still works; when the flags sum to 0 all
processes leave together.

Only a partitioned model is synchronised: a model with full local weights (the reference model of
``mia_reference``, any model under DDP or ZeRO-1/2) makes no collectives and needs no lockstep.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from unlearn_core.distributed import is_partitioned
from unlearn_core.evaluation import model_calls

__all__ = ["LockstepCounters", "in_lockstep"]

_SESSIONS: dict[int, _Session] = {}
"""Open sessions by ``id(model)``."""


@dataclass
class LockstepCounters:
    """Work the lockstep did in this process: sessions, flag all-reduces joined, dummy forwards run while others
    worked (every round is one forward of the model in every process, so rounds = forwards + sessions)."""

    sessions: int = 0
    rounds: int = 0
    dummy_forwards: int = 0


def _needs_lockstep(model: torch.nn.Module) -> bool:
    """A multi-process run whose ``model`` is partitioned (its forwards are collectives)."""
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_initialized() or dist.get_world_size() < 2:
        return False
    return is_partitioned(model)


@contextlib.contextmanager
def in_lockstep(model: torch.nn.Module, pad_id: int, counters: LockstepCounters | None = None) -> Iterator[None]:
    """Forwards of ``model`` inside the block run in lockstep with the other processes' blocks; leaving drains.

    Every process must enter the block (with its own share of work). A no-op in a single process, for a model with
    full local weights, and inside a session already open for ``model``. On an exception nothing is drained: the
    process fails and the launcher stops the others.
    """
    if id(model) in _SESSIONS or not _needs_lockstep(model):
        yield
        return
    session = _Session(model, pad_id, counters if counters is not None else LockstepCounters())
    session.counters.sessions += 1
    _SESSIONS[id(model)] = session
    # prepended: the vote must come before DeepSpeed's own pre-hook, which gathers the parameters (a collective)
    hook = model.register_forward_pre_hook(session.before_forward, prepend=True)
    try:
        yield
    finally:
        hook.remove()
        del _SESSIONS[id(model)]
    session.drain()


class _Session:
    """One process's side of a lockstep session of one model."""

    def __init__(self, model: torch.nn.Module, pad_id: int, counters: LockstepCounters) -> None:
        import torch.distributed as dist

        self.model = model
        self.pad_id = pad_id
        self.counters = counters
        self.model_device = next(model.parameters()).device
        backend = str(dist.get_backend())
        # gloo reduces CPU tensors; NCCL and other accelerator backends reduce tensors on the model's device
        self.flag_device = torch.device("cpu") if "gloo" in backend else self.model_device

    def before_forward(self, module: torch.nn.Module, args: Any) -> None:
        """The session's forward pre-hook: vote "still working" (and leave the arguments as they are)."""
        self.vote(working=True)

    def vote(self, *, working: bool) -> bool:
        """Join one round; True while any process is still working."""
        import torch.distributed as dist

        flag = torch.tensor([int(working)], dtype=torch.long, device=self.flag_device)
        dist.all_reduce(flag)
        self.counters.rounds += 1
        return bool(flag.item())

    def drain(self) -> None:
        """After this process's share: take part in the others' forwards until every process is done."""
        while self.vote(working=False):
            self._dummy_forward()

    def _dummy_forward(self) -> None:
        """The cheapest forward that joins the same parameter gathers: one pad token, no cache, no gradient (run
        once the session's hook is removed, so it does not vote itself)."""
        ids = torch.full((1, 1), self.pad_id, dtype=torch.long, device=self.model_device)
        with torch.no_grad():
            model_calls.run(self.model, ids, torch.ones_like(ids), last_logits_only=True)
        self.counters.dummy_forwards += 1
