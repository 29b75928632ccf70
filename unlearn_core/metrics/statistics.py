"""Per-sample statistics from one forward pass: every likelihood-based metric is a function of these."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

IGNORE_INDEX = -100
SIGMA2_FLOOR = 1e-6


@dataclass(frozen=True)
class SampleStatistics:
    """Likelihood statistics of one sample's targets, in float32 on the CPU.

    ``avg_loss``, ``nll_sum`` and ``num_targets`` cover all targets including the last (EOS) one; the tensors cover
    the targets excluding EOS, so they have ``num_targets - 1`` entries. A sample without targets has
    ``avg_loss = nan``, ``num_targets = 0`` and empty tensors.
    """

    avg_loss: float
    nll_sum: float
    num_targets: int
    token_logprobs: Tensor
    argmax_hits: Tensor
    minkpp_z: Tensor

    @property
    def prob(self) -> float:
        """Per-token geometric-mean probability of the targets, ``exp(-avg_loss)``."""
        return prob(self.avg_loss)


def prob(avg_loss: float) -> float:
    """Probability ``exp(-avg_loss)`` (the per-token geometric mean); nan stays nan."""
    return math.exp(-avg_loss)


def gather_targets(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, list[int]]:
    """Return the logit rows that predict a target ``[N, V]``, the target ids ``[N]`` and per-sample target counts.

    Applies the causal shift (``logits[:, t]`` predicts ``labels[:, t + 1]``), so ``labels[:, 0]`` is never a
    target. Rows come in sample order, then position order. Differentiable; the logits' dtype is kept.
    """
    if logits.dim() != 3 or labels.shape != logits.shape[:2]:
        shapes = f"{tuple(logits.shape)} and {tuple(labels.shape)}"
        raise ValueError(f"expected logits [B, T, V] and labels [B, T], got {shapes}")
    shift_logits = logits[:, :-1, :]
    shift_labels = labels[:, 1:].to(logits.device)
    mask = shift_labels != IGNORE_INDEX
    counts = mask.sum(dim=1).tolist()
    return shift_logits[mask], shift_labels[mask], counts


def compute_sample_statistics(logits: Tensor, labels: Tensor) -> list[SampleStatistics]:
    """Compute every per-sample statistic of the METRICS spec from one batch of logits ``[B, T, V]``.

    The softmax is taken only on the rows that predict a target, in float32 whatever the logits' dtype, so memory
    stays ``O(targets x vocab)``. Results are detached CPU float32 values.
    """
    with torch.no_grad():
        rows, targets, counts = gather_targets(logits, labels)
        logp = torch.log_softmax(rows.float(), dim=-1)
        target_lp = logp.gather(1, targets.unsqueeze(1)).squeeze(1)
        hits = rows.argmax(dim=-1) == targets
        z = _minkpp_z(logp, target_lp)
        per_sample = zip(target_lp.cpu().split(counts), hits.cpu().split(counts), z.cpu().split(counts))
        return [_sample(lp, hit, zz) for lp, hit, zz in per_sample]


def _minkpp_z(logp: Tensor, target_lp: Tensor) -> Tensor:
    """Min-K%++ z-score ``(lp - mu) / sqrt(sigma2)`` per row, with ``sigma2`` clamped at 1e-6."""
    p = logp.exp()
    # where p == 0 (a -inf logit) the terms p*log p and p*(log p)^2 are 0, not nan
    lp_finite = torch.where(p > 0, logp, torch.zeros_like(logp))
    mu = (p * lp_finite).sum(dim=-1)
    sigma2 = (p * lp_finite.square()).sum(dim=-1) - mu.square()
    return (target_lp - mu) / sigma2.clamp_min(SIGMA2_FLOOR).sqrt()


def _sample(target_lp: Tensor, hits: Tensor, z: Tensor) -> SampleStatistics:
    """Assemble one sample's statistics; the last target (EOS) is dropped from the per-token tensors."""
    n = target_lp.numel()
    nll_sum = float(-target_lp.sum()) if n else 0.0
    return SampleStatistics(
        avg_loss=nll_sum / n if n else math.nan,
        nll_sum=nll_sum,
        num_targets=n,
        token_logprobs=target_lp[:-1].clone(),
        argmax_hits=hits[:-1].clone(),
        minkpp_z=z[:-1].clone(),
    )
