"""The forget terms of NPO and SimNPO (spec/METHODS.md), from sequence log-probabilities and NLL sums.

A sample without any target token makes ``simnpo_forget_loss`` NaN, so the runner's non-finite-loss check stops on it
instead of training on nothing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unlearn_core.normalization import share


def _mean(values: torch.Tensor, count: float | None) -> torch.Tensor:
    """Mean over the rows, or their sum divided by ``count`` (the effective batch's forget rows)."""
    return values.mean() if count is None else share(values.sum(), count)


def npo_forget_loss(
    logp: torch.Tensor, ref_logp: torch.Tensor, beta: float, count: float | None = None
) -> torch.Tensor:
    """NPO forget term ``-(2/beta) * mean_i log sigmoid(-beta * (logp_i - ref_logp_i))`` (sequence log-probs)."""
    log_ratio = logp - ref_logp.detach().to(device=logp.device, dtype=logp.dtype)
    return -(2.0 / beta) * _mean(F.logsigmoid(-beta * log_ratio), count)


def simnpo_forget_loss(
    nll_sum: torch.Tensor, num_targets: torch.Tensor, beta: float, delta: float, count: float | None = None
) -> torch.Tensor:
    """SimNPO forget term ``-(2/beta) * mean_i log sigmoid(beta * (NLL_sum_i / |y_i| - delta))``."""
    mean_nll = nll_sum / num_targets.to(nll_sum.dtype)
    return -(2.0 / beta) * _mean(F.logsigmoid(beta * (mean_nll - delta)), count)
