"""What the loop does for a method besides computing its loss: the parameters it trains, the gradient averaging its
hidden-state loss needs under DDP, the terms its ``on_step_end`` gets and the averages its ``on_epoch_end`` may ask
for."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from unlearn_core.data import Tokenized
from unlearn_core.distributed import is_partitioned
from unlearn_core.errors import ConfigError
from unlearn_core.hidden_states import compile_pattern, matching_modules
from unlearn_core.methods import FORGET_FIELD, Reference, UnlearnBatch, UnlearningMethod
from unlearn_core.training.batches import to_device

NOT_LOSS_TERMS = ("step", "epoch", "learning_rate", "grad_norm", "skipped")
"""Keys of a step's log record that are not the loss or one of its terms."""


def forget_fields_read(method: UnlearningMethod) -> tuple[str, ...]:
    """Extra answer fields the method reads: ``forget_fields()`` and the other ``reference_logprob_fields()``."""
    names = [*method.forget_fields(), *(f for f in method.reference_logprob_fields() if f != FORGET_FIELD)]
    return tuple(dict.fromkeys(names))


def check_method_needs(method: UnlearningMethod, model: torch.nn.Module, forget: Sequence[Tokenized]) -> None:
    """Before anything trains: the forget data has every field the method reads, and its trainable-parameter and
    hidden-state patterns match this model; a ConfigError of one line otherwise."""
    for name in forget_fields_read(method):
        lacking = next((s for s in forget if name not in s.extra_names), None)
        if lacking is not None:
            has = f"its fields: {', '.join(lacking.extra_names)}" if lacking.extra_names else "it has no other field"
            raise ConfigError(
                f"method '{method.name}' reads the forget field '{name}', which the forget data does not have "
                f"({has}): set data.forget= to a data set whose rows have '{name}'"
            )
    trainable_names(model, method)
    for pattern in method.hidden_state_modules():
        try:
            matching_modules(model, pattern)
        except ConfigError as exc:
            raise ConfigError(f"method '{method.name}' reads module outputs: {exc}") from None


def parameter_count(model: torch.nn.Module) -> int:
    """Elements of the parameters that train (``requires_grad``); a ZeRO-3 partition counts at its full size."""
    return sum(getattr(p, "ds_numel", p.numel()) for p in model.parameters() if p.requires_grad)


def trainable_names(model: torch.nn.Module, method: UnlearningMethod | None) -> set[str] | None:
    """Names of the parameters ``method.trainable_parameters()`` matches (None: every one); a ConfigError naming the
    patterns and a few parameter names when none matches."""
    patterns = method.trainable_parameters() if method is not None else None
    if patterns is None:
        return None
    compiled = [compile_pattern(p) for p in patterns]
    names = [name for name, _ in model.named_parameters()]
    chosen = {name for name in names if any(c.fullmatch(name) for c in compiled)}
    if not chosen:
        shown = " or ".join(f"'{p}'" for p in patterns)
        raise ConfigError(
            f"method '{method.name}' trains the parameters named like {shown}, but no "  # type: ignore[union-attr]
            f"parameter of this model matches (its parameters are named like {', '.join(names[:4])}, ...)"
        )
    return chosen


class FrozenParameters:
    """The parameters a method does not train, frozen (``requires_grad=False``) before the optimizer is built and
    Accelerate or DeepSpeed wraps the model, so neither the optimizer nor ZeRO's partitions hold them."""

    def __init__(self, model: torch.nn.Module, method: UnlearningMethod | None) -> None:
        chosen = trainable_names(model, method)
        self.frozen = [
            p for name, p in model.named_parameters() if chosen is not None and name not in chosen and p.requires_grad
        ]
        for parameter in self.frozen:
            parameter.requires_grad_(False)
        self.count = parameter_count(model)
        """Elements of the parameters that train."""
        # ZeRO-3 keeps no whole weights to differentiate in evaluation; its frozen partitions stay as they are
        self._thaw = [] if is_partitioned(model) else self.frozen

    @contextlib.contextmanager
    def thawed(self) -> Iterator[None]:
        """Every parameter differentiable again inside (evaluation: a gradient-norm metric measures them all)."""
        for parameter in self._thaw:
            parameter.requires_grad_(True)
        try:
            yield
        finally:
            for parameter in self._thaw:
                parameter.requires_grad_(False)

    def release(self) -> None:
        """Make the frozen parameters differentiable again for good (training is over; evaluation follows)."""
        for parameter in self._thaw:
            parameter.requires_grad_(True)
        self._thaw = []


def averages_gradients_itself(model: torch.nn.Module, method: UnlearningMethod | None) -> bool:
    """Whether the loop, not DDP, averages this run's gradients across processes: under DDP for a method that reads
    module outputs (RMU). DDP expects a gradient for every parameter the last forward's output reaches, but a loss on
    a middle layer's output leaves the later layers without one, and a step may mix such forwards with full ones."""
    return method is not None and bool(method.hidden_state_modules()) and isinstance(model, DDP)


def average_gradients(model: torch.nn.Module) -> None:
    """Average the gradients of the trainable parameters over processes (a sum divided by the world size, as DDP
    does); a parameter without gradient on every process keeps none, one with a gradient somewhere gets zeros where
    it had none."""
    import torch.distributed as dist

    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        return
    device = params[0].device
    present = torch.tensor([float(p.grad is not None) for p in params], device=device)
    dist.all_reduce(present, op=dist.ReduceOp.MAX)
    for p, has in zip(params, present.tolist()):
        if has and p.grad is None:
            p.grad = torch.zeros_like(p)
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for p in params:
        if p.grad is not None:
            by_dtype.setdefault(p.grad.dtype, []).append(p.grad)
    world = dist.get_world_size()
    for grads in by_dtype.values():
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= world
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()


def step_terms(record: dict[str, Any]) -> dict[str, float]:
    """The loss and its terms from a step's log record (what ``on_step_end`` gets)."""
    return {k: v for k, v in record.items() if k not in NOT_LOSS_TERMS and isinstance(v, float)}


class EpochAverages:
    """Implements ``unlearn_core.EpochEnd``: averages over the batches of the epoch just finished."""

    def __init__(
        self,
        epoch: int,
        step: int,
        model: torch.nn.Module,
        batches: Callable[[], Iterable[UnlearnBatch]],
        accelerator: Any,
        reference: Reference | None = None,
    ) -> None:
        self.epoch, self.step, self.reference = epoch, step, reference
        self._model, self._batches, self._accelerator = model, batches, accelerator

    def mean(self, value: Callable[[torch.nn.Module, UnlearnBatch], torch.Tensor | float]) -> float:
        """Mean of ``value(model, batch)`` over the epoch's batches of every process (no gradient, eval mode)."""
        total, count = 0.0, 0
        self._model.eval()
        try:
            with torch.no_grad():
                for batch in self._batches():
                    with self._accelerator.autocast():
                        total += float(value(self._model, to_device(batch, self._accelerator.device)))
                    count += 1
        finally:
            self._model.train()
        if self._accelerator.num_processes > 1:
            sums = torch.tensor([total, float(count)], dtype=torch.float64, device=self._accelerator.device)
            total, count = self._accelerator.gather(sums).view(-1, 2).sum(dim=0).tolist()
        return total / count if count else float("nan")
