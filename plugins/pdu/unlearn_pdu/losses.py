"""PDU's forget term, logit flattening: ``(max_v z_v - mean_v z_v)^2`` at each scored position, which is 0 when the
model's next-token distribution is uniform (nothing about the answer is left)."""

from __future__ import annotations

import torch

from unlearn_core.chunked.functions import FlatnessGap, row_terms
from unlearn_core.losses import DeferredLogits, Scores, shifted_targets, target_rows
from unlearn_core.normalization import share


def flatness_gap(logits: torch.Tensor) -> torch.Tensor:
    """``(max_v z_v - mean_v z_v)^2`` per position (float32)."""
    z = logits.float()
    return (z.max(dim=-1).values - z.mean(dim=-1)).pow(2)


def flattening_loss(logits: Scores, labels: torch.Tensor, count: float | None = None) -> torch.Tensor:
    """The gap averaged over the positions that predict a target token (after the causal shift), or summed over them
    and divided by ``count`` (the effective batch's target tokens). NaN without a target. From ``DeferredLogits``
    the target rows go through the head chunk by chunk."""
    if isinstance(logits, DeferredLogits):
        rows, _, mask = target_rows(logits, labels)
        gap = row_terms(rows, FlatnessGap())
        return gap.sum() / mask.sum() if count is None else share(gap.sum(), count)
    shifted_logits, _, mask = shifted_targets(logits, labels)
    gap = flatness_gap(shifted_logits[mask])
    return gap.sum() / mask.sum() if count is None else share(gap.sum(), count)


def flattening_loss_open_unlearning(
    logits: torch.Tensor, labels: torch.Tensor, count: float | None = None
) -> torch.Tensor:
    """open-unlearning's value: the gap at the answer positions themselves (logits at a position whose own label is
    not -100, which predict the token after it), averaged over them, or summed and divided by ``count``."""
    mask = labels != -100
    gap = flatness_gap(logits[mask])
    return gap.sum() / mask.sum() if count is None else share(gap.sum(), count)


def labelled_count(labels: torch.Tensor) -> int:
    """Positions whose own label is not -100 (open-unlearning's denominator)."""
    return int((labels != -100).sum())
