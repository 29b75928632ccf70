"""Per-row terms of the logits computed chunk by chunk, forward and backward, never holding ``[N, V]`` at once.

A term is a function of one logit row ``z`` whose gradient is known in closed form: the target's log-probability
(gradient ``onehot(y) - softmax(z)``) and ``KL(pi_ref || pi)`` to a reference row (gradient ``softmax(z) - p_ref``).
For a plain linear head the autograd function ``_LinearRows`` takes the head's weight and bias as inputs: its forward
keeps only the hidden rows, and its backward recomputes each chunk's logits, applies the closed-form gradient and
multiplies back through the head (one extra matrix product per chunk, and no float32 log-softmax kept). Any other
head (LoRA-wrapped, quantised) is called per chunk under activation checkpointing, which recomputes the chunk in the
backward pass the same way. On CUDA, Cut Cross-Entropy computes the targets' log-probabilities when installed
(``kernels``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from unlearn_core.chunked.deferred import DeferredLogits, chunk_rows
from unlearn_core.chunked.kernels import fused_target_logprobs


class RowTerm(Protocol):
    """A value per logit row and its gradient with respect to the row, for the rows ``part`` of the batch."""

    def value(self, z: torch.Tensor, part: slice) -> torch.Tensor:
        """The term of each float32 logit row ``z`` ``[n, V]`` (rows ``part`` of the batch): ``[n]``."""
        ...

    def grad(self, z: torch.Tensor, part: slice, upstream: torch.Tensor) -> torch.Tensor:
        """``upstream[:, None] * d value / d z``, ``[n, V]`` float32 (``z`` may be overwritten)."""
        ...


class TargetLogprob:
    """``log softmax(z)[y]``: the log-probability of each row's target token ``y``."""

    def __init__(self, targets: torch.Tensor) -> None:
        self.targets = targets

    def value(self, z: torch.Tensor, part: slice) -> torch.Tensor:
        picked = z.gather(1, self.targets[part].unsqueeze(1)).squeeze(1)
        return picked - torch.logsumexp(z, dim=-1)

    def grad(self, z: torch.Tensor, part: slice, upstream: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(z, dim=-1).neg_()
        probs.scatter_add_(1, self.targets[part].unsqueeze(1), torch.ones_like(upstream).unsqueeze(1))
        return probs.mul_(upstream.unsqueeze(1))


class ReferenceKL:
    """``KL(pi_ref || pi) = sum_v p_ref (log p_ref - log p)`` to the reference's logit rows (computed per chunk, no
    gradient)."""

    def __init__(self, reference: DeferredLogits) -> None:
        self.reference = reference

    def _ref_log_probs(self, part: slice) -> torch.Tensor:
        with torch.no_grad():
            return torch.log_softmax(self.reference.project(self.reference.hidden[part]).float(), dim=-1)

    def value(self, z: torch.Tensor, part: slice) -> torch.Tensor:
        ref = self._ref_log_probs(part)
        return F.kl_div(torch.log_softmax(z, dim=-1), ref, reduction="none", log_target=True).sum(dim=-1)

    def grad(self, z: torch.Tensor, part: slice, upstream: torch.Tensor) -> torch.Tensor:
        ref = self._ref_log_probs(part).exp_()
        return torch.softmax(z, dim=-1).sub_(ref).mul_(upstream.unsqueeze(1))


class SoftTargetCrossEntropy:
    """``-sum_v q_v log softmax(z)_v``: the cross-entropy of each row toward a target distribution ``q`` that is a
    constant of the loss (no gradient flows through it), so the gradient is ``softmax(z) - q``. ``targets(z, part)``
    gives ``q`` ``[n, V]`` (float32, rows summing to 1) for the detached logit rows ``z`` of the rows ``part``."""

    def __init__(self, targets: Callable[[torch.Tensor, slice], torch.Tensor]) -> None:
        self.targets = targets

    def value(self, z: torch.Tensor, part: slice) -> torch.Tensor:
        q = self.targets(z.detach(), part)
        return -(q * torch.log_softmax(z, dim=-1)).sum(dim=-1)

    def grad(self, z: torch.Tensor, part: slice, upstream: torch.Tensor) -> torch.Tensor:
        q = self.targets(z, part)
        return torch.softmax(z, dim=-1).sub_(q).mul_(upstream.unsqueeze(1))


class FlatnessGap:
    """``(max_v z_v - mean_v z_v)^2``: how far a logit row is from flat; gradient ``2 (max - mean) (onehot(argmax) -
    1/V)``."""

    def value(self, z: torch.Tensor, part: slice) -> torch.Tensor:
        return (z.max(dim=-1).values - z.mean(dim=-1)) ** 2

    def grad(self, z: torch.Tensor, part: slice, upstream: torch.Tensor) -> torch.Tensor:
        top = z.max(dim=-1)
        scale = 2 * (top.values - z.mean(dim=-1)) * upstream
        out = (-scale / z.shape[-1]).unsqueeze(1).expand_as(z).clone()
        return out.scatter_add_(1, top.indices.unsqueeze(1), scale.unsqueeze(1))


def _parts(n: int, size: int) -> list[slice]:
    return [slice(start, min(n, start + size)) for start in range(0, n, size)]


class _LinearRows(torch.autograd.Function):
    """``term(rows @ weight.T + bias)`` per row, chunk by chunk; the backward pass recomputes each chunk's logits."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, rows: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, term: RowTerm, size: int
    ) -> torch.Tensor:
        out = torch.empty(rows.shape[0], dtype=torch.float32, device=rows.device)
        for part in _parts(rows.shape[0], size):
            out[part] = term.value(F.linear(rows[part], weight, bias).float(), part)
        ctx.save_for_backward(rows, weight, bias)
        ctx.term, ctx.size = term, size
        device_type = rows.device.type
        ctx.autocast = (device_type, torch.is_autocast_enabled(device_type), torch.get_autocast_dtype(device_type))
        return out

    @staticmethod
    def backward(ctx: Any, upstream: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        rows, weight, bias = ctx.saved_tensors
        need_rows, need_weight, need_bias = ctx.needs_input_grad[:3]
        grad_rows = torch.empty_like(rows) if need_rows else None
        grad_weight = torch.zeros_like(weight, dtype=torch.float32) if need_weight else None
        grad_bias = torch.zeros_like(bias, dtype=torch.float32) if need_bias else None
        device_type, autocast, dtype = ctx.autocast
        with torch.autocast(device_type, dtype=dtype, enabled=autocast):  # the forward's precision
            for part in _parts(rows.shape[0], ctx.size):
                z = F.linear(rows[part], weight, bias).float()
                grad_z = ctx.term.grad(z, part, upstream[part].float()).to(rows.dtype)
                if grad_rows is not None:
                    grad_rows[part] = grad_z @ weight.to(rows.dtype)
                if grad_weight is not None:
                    grad_weight += (grad_z.t() @ rows[part]).float()
                if grad_bias is not None:
                    grad_bias += grad_z.float().sum(dim=0)
        as_weight = grad_weight.to(weight.dtype) if grad_weight is not None else None
        as_bias = grad_bias.to(bias.dtype) if grad_bias is not None else None
        return grad_rows, as_weight, as_bias, None, None


def _checkpointed_rows(source: DeferredLogits, term: RowTerm, size: int) -> torch.Tensor:
    """The same for any head module: each chunk runs under activation checkpointing (recomputed in the backward)."""
    outs = []
    for part in _parts(source.hidden.shape[0], size):

        def chunk(hidden: torch.Tensor, part: slice = part) -> torch.Tensor:
            return term.value(source.project(hidden).float(), part)

        if torch.is_grad_enabled() and source.hidden.requires_grad:
            outs.append(checkpoint(chunk, source.hidden[part], use_reentrant=False))
        else:
            outs.append(chunk(source.hidden[part]))
    return torch.cat(outs) if outs else source.hidden.new_zeros(0, dtype=torch.float32)


def row_terms(source: DeferredLogits, term: RowTerm, size: int | None = None) -> torch.Tensor:
    """``term`` of every row of ``source`` (hidden rows ``[N, H]``), ``[N]`` float32, differentiable, at most
    ``size`` rows of logits at once (``chunk_rows`` by default)."""
    size = size or chunk_rows(source.vocab_size)
    if source.weight is None:
        return _checkpointed_rows(source, term, size)
    return _LinearRows.apply(source.hidden, source.weight, source.bias, term, size)


def target_logprobs(source: DeferredLogits, targets: torch.Tensor, size: int | None = None) -> torch.Tensor:
    """``log p(y_i)`` of each hidden row's target ``targets[i]``, ``[N]`` float32 (Cut Cross-Entropy on CUDA when
    installed, else chunked)."""
    fused = fused_target_logprobs(source, targets)
    return fused if fused is not None else row_terms(source, TargetLogprob(targets), size)


def kl_rows(reference: DeferredLogits, source: DeferredLogits, size: int | None = None) -> torch.Tensor:
    """``KL(pi_ref || pi)`` of each pair of hidden rows, ``[N]`` float32, differentiable in ``source`` only."""
    return row_terms(source, ReferenceKL(reference), size)
