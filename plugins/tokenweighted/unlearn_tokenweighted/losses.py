"""Forget terms that weight each target token: WGA's and SatImp's weighted gradient ascent, and CE-U.

Conventions are ``unlearn_core.losses``'s: logits at position ``t`` predict the label at ``t + 1``, labels are -100
on prompt and padding, log-softmax runs in float32. Each term is a sum over the target tokens it counts, divided by
``count`` (the effective batch's number of those tokens) or, without ``count``, by their number in the batch given.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unlearn_core.chunked.functions import SoftTargetCrossEntropy, row_terms
from unlearn_core.losses import IGNORE_INDEX, DeferredLogits, Scores, shifted_rows, shifted_targets, token_nll
from unlearn_core.normalization import share

__all__ = ["ceu_loss", "ceu_positions", "satimp_weights", "token_nll", "wga_weights", "weighted_ascent_loss"]


def _average(total: torch.Tensor, units: torch.Tensor, count: float | None) -> torch.Tensor:
    """``total`` divided by ``count``, or by ``units`` (the batch's own number) without it."""
    return total / units if count is None else share(total, count)


def wga_weights(nll: torch.Tensor, beta: float) -> torch.Tensor:
    """WGA's token weights ``sg(p_t)^beta``, ``p_t = exp(-nll_t)`` the model's probability of the label."""
    return torch.exp(-nll.detach()) ** beta


def satimp_weights(nll: torch.Tensor, beta1: float, beta2: float) -> torch.Tensor:
    """SatImp's token weights ``sg(p_t)^beta1 * sg(1 - p_t)^beta2``: high where the label is likely (importance)
    and not yet certain (saturation)."""
    p = torch.exp(-nll.detach())
    return p**beta1 * (1.0 - p) ** beta2


def weighted_ascent_loss(
    nll: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor, count: float | None = None
) -> torch.Tensor:
    """``-sum_t w_t * nll_t / N`` over the target tokens: gradient ascent on the forget answers, token by token
    weighted (``N``: the target tokens, of the batch or ``count``)."""
    total = torch.where(mask, weights * nll, torch.zeros_like(nll)).sum()
    return -_average(total, mask.sum(), count)


def ceu_positions(labels: torch.Tensor, skip_first: int) -> torch.Tensor:
    """Target positions after the causal shift ``[B, T-1]`` without each row's first ``skip_first`` answer tokens."""
    mask = labels[:, 1:] != IGNORE_INDEX
    return mask & (mask.long().cumsum(dim=-1) > skip_first)


def ceu_loss(logits: Scores, labels: torch.Tensor, skip_first: int, count: float | None = None) -> torch.Tensor:
    """CE-U: at each kept target position, the cross-entropy ``-sum_v q_v log p_v`` from the model's distribution
    ``p`` to ``q = softmax(sg(z))`` with the label's logit set to -inf (the model's own belief with the true token
    removed); averaged over the kept positions (``ceu_positions``). From ``DeferredLogits`` the kept rows go through
    the head chunk by chunk."""
    keep = ceu_positions(labels, skip_first)
    if isinstance(logits, DeferredLogits):
        targets = labels[:, 1:][keep]

        def masked_belief(z: torch.Tensor, part: slice) -> torch.Tensor:
            return F.softmax(z.scatter(1, targets[part].unsqueeze(1), float("-inf")), dim=-1)

        per_row = row_terms(shifted_rows(logits, keep), SoftTargetCrossEntropy(masked_belief))
        return _average(per_row.sum(), keep.sum(), count)
    shifted_logits, shifted_labels, _ = shifted_targets(logits, labels)
    z = shifted_logits.float()
    log_p = F.log_softmax(z, dim=-1)
    index = shifted_labels.masked_fill(~keep, 0).unsqueeze(-1)
    q = F.softmax(z.detach().scatter(-1, index, float("-inf")), dim=-1)
    per_position = -(q * log_p).sum(dim=-1)
    total = torch.where(keep, per_position, torch.zeros_like(per_position)).sum()
    return _average(total, keep.sum(), count)
