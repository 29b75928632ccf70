"""UNDIAL's forget term: cross-entropy of the model toward the reference's next-token distribution with the label's
logit lowered by ``beta``, ``q = softmax(z_ref - beta * onehot(y))``: the model keeps the reference's distribution
over every other token and unlearns only the memorised one."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unlearn_core.chunked.functions import SoftTargetCrossEntropy, row_terms
from unlearn_core.losses import DeferredLogits, Scores, reference_rows, shifted_targets, target_rows
from unlearn_core.normalization import share


def adjusted_targets(ref_logits: torch.Tensor, labels: torch.Tensor, beta: float) -> torch.Tensor:
    """``softmax(z_ref - beta * onehot(labels))`` over the last dimension (float32, no gradient); ``labels`` holds
    one vocabulary index per row of ``ref_logits`` (``[..., V]`` and ``[...]``)."""
    adjusted = ref_logits.detach().float().clone()
    adjusted.scatter_add_(-1, labels.unsqueeze(-1), torch.full_like(adjusted[..., :1], -beta))
    return F.softmax(adjusted, dim=-1)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``-sum_v targets_v * log softmax(logits)_v`` per row (float32)."""
    return -(targets * F.log_softmax(logits.float(), dim=-1)).sum(dim=-1)


def undial_loss(
    logits: Scores, ref_logits: Scores, labels: torch.Tensor, beta: float, count: float | None = None
) -> torch.Tensor:
    """UNDIAL over the target positions (after the causal shift): the mean of ``CE(q_t, p_theta(.|x_<t))`` over
    them, or its sum divided by ``count`` (the effective batch's target tokens). NaN without a target. From
    ``DeferredLogits`` the target rows (the reference's too) go through the heads chunk by chunk."""
    if isinstance(logits, DeferredLogits):
        rows, targets, mask = target_rows(logits, labels)
        reference = reference_rows(ref_logits, mask)

        def adjusted(_z: torch.Tensor, part: slice) -> torch.Tensor:
            with torch.no_grad():
                return adjusted_targets(reference.project(reference.hidden[part]), targets[part], beta)

        ce = row_terms(rows, SoftTargetCrossEntropy(adjusted))
        return ce.sum() / mask.sum() if count is None else share(ce.sum(), count)
    if isinstance(ref_logits, DeferredLogits):
        ref_logits = ref_logits.logits()
    shifted_logits, shifted_labels, mask = shifted_targets(logits, labels)
    shifted_ref, _, _ = shifted_targets(ref_logits, labels)
    targets = adjusted_targets(shifted_ref[mask], shifted_labels[mask], beta)
    ce = soft_cross_entropy(shifted_logits[mask], targets)
    return ce.sum() / mask.sum() if count is None else share(ce.sum(), count)


def undial_open_unlearning_loss(
    logits: torch.Tensor, ref_logits: torch.Tensor, labels: torch.Tensor, beta: float
) -> torch.Tensor:
    """open-unlearning's UNDIAL value: the same cross-entropy averaged over every shifted position of the batch,
    prompt and padding included; at positions labelled -100 the logit lowered is that of vocabulary entry
    ``V - 100`` (a negative index counts from the end)."""
    shifted_logits, shifted_labels, _ = shifted_targets(logits, labels)
    shifted_ref, _, _ = shifted_targets(ref_logits, labels)
    vocab = shifted_logits.shape[-1]
    if vocab < 100:
        raise ValueError(f"open-unlearning indexes the vocabulary with -100: it needs 100 entries or more, got {vocab}")
    index = torch.where(shifted_labels < 0, shifted_labels + vocab, shifted_labels)
    return soft_cross_entropy(shifted_logits, adjusted_targets(shifted_ref, index, beta)).mean()
