"""Per-sample statistics from one forward pass: every likelihood-based metric is a function of these."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

IGNORE_INDEX = -100
SIGMA2_FLOOR = 1e-6


@dataclass(frozen=True)
class SampleStatistics:
    """Likelihood statistics of one sample's targets, in float32 on the CPU.

    ``avg_loss``, ``nll_sum`` and ``num_targets`` cover all targets including the last (EOS) one; the tensors cover
    the targets excluding EOS, so they have ``num_targets - 1`` entries. A sample without targets has
    ``avg_loss = nan``, ``num_targets = 0`` and empty tensors. ``argmax_ids`` (all targets, EOS included) are the
    teacher-forced greedy predictions; generation uses them to skip decoding steps (see ``evaluation.decoding``).
    ``minkpp_z`` is None when the pass was asked not to compute it (no selected metric reads it).
    """

    avg_loss: float
    nll_sum: float
    num_targets: int
    token_logprobs: Tensor
    argmax_hits: Tensor
    minkpp_z: Tensor | None
    argmax_ids: Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.long))

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
        return statistics_from_rows(rows, targets, counts)


def statistics_from_rows(rows: Tensor, targets: Tensor, counts: list[int]) -> list[SampleStatistics]:
    """Per-sample statistics from the logit rows ``[N, V]`` that predict ``targets`` ``[N]``, ``counts`` per sample."""
    return samples_from_token_statistics(token_statistics(rows, targets), counts)


TokenStatistics = tuple[Tensor, Tensor, Tensor, Tensor]
"""Per target row: log-prob of the target, argmax hit, Min-K%++ z (nan where not computed), argmax id."""


def token_statistics(rows: Tensor, targets: Tensor, z_rows: Tensor | None = None) -> TokenStatistics:
    """Per-row statistics of logit rows ``[N, V]`` predicting ``targets`` ``[N]``, in float32.

    ``z_rows`` (bool ``[N]``) limits the Min-K%++ z-scores, the costliest statistic, to the rows that need them.
    """
    with torch.no_grad():
        logp = torch.log_softmax(rows.float(), dim=-1)
        target_lp = logp.gather(1, targets.unsqueeze(1)).squeeze(1)
        argmax = rows.max(dim=-1).indices  # the first maximum, like argmax, and faster on CPU
        if z_rows is None:
            z = _minkpp_z(logp, target_lp)
        else:
            z = torch.full_like(target_lp, math.nan)
            if bool(z_rows.any()):
                z[z_rows] = _minkpp_z(logp[z_rows], target_lp[z_rows])
        return target_lp, argmax == targets, z, argmax


def samples_from_token_statistics(
    stats: TokenStatistics, counts: list[int], with_z: list[bool] | None = None
) -> list[SampleStatistics]:
    """Split row statistics (sample after sample, ``counts`` rows each) into per-sample statistics on the CPU."""
    parts = (t.cpu().split(counts) for t in stats)
    flags = with_z if with_z is not None else [True] * len(counts)
    return [_sample(lp, hit, zz if flag else None, ids) for (lp, hit, zz, ids), flag in zip(zip(*parts), flags)]


def _minkpp_z(logp: Tensor, target_lp: Tensor) -> Tensor:
    """Min-K%++ z-score ``(lp - mu) / sqrt(sigma2)`` per row, with ``sigma2`` clamped at 1e-6.

    ``sigma2`` is computed as ``sum_v p (lp - mu)^2``, equal to ``sum_v p lp^2 - mu^2`` (p sums to 1) without that
    form's cancellation in float32. Log-probs are clamped at -1e4 first: there ``p`` is exactly 0 in float32, so
    the terms vanish instead of giving ``0 * inf = nan`` for a ``-inf`` logit.
    """
    lp = logp.clamp_min(-1e4)
    p = lp.exp()
    mu = (p * lp).sum(dim=-1)
    centred = lp - mu.unsqueeze(1)
    sigma2 = (p * centred.square()).sum(dim=-1)
    return (target_lp - mu) / sigma2.clamp_min(SIGMA2_FLOOR).sqrt()


def _sample(target_lp: Tensor, hits: Tensor, z: Tensor | None, argmax_ids: Tensor) -> SampleStatistics:
    """Assemble one sample's statistics; the last target (EOS) is dropped from the per-token tensors."""
    n = target_lp.numel()
    nll_sum = float(-target_lp.sum()) if n else 0.0
    return SampleStatistics(
        avg_loss=nll_sum / n if n else math.nan,
        nll_sum=nll_sum,
        num_targets=n,
        token_logprobs=target_lp[:-1].clone(),
        argmax_hits=hits[:-1].clone(),
        minkpp_z=z[:-1].clone() if z is not None else None,
        argmax_ids=argmax_ids.clone(),
    )
