"""The forget terms of NPO and SimNPO (spec/METHODS.md), from sequence log-probabilities and NLL sums.

A sample without any target token makes ``simnpo_forget_loss`` NaN, so the runner's non-finite-loss check stops on it
instead of training on nothing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def npo_forget_loss(logp: torch.Tensor, ref_logp: torch.Tensor, beta: float) -> torch.Tensor:
    """NPO forget term ``-(2/beta) * mean_i log sigmoid(-beta * (logp_i - ref_logp_i))`` (sequence log-probs)."""
    log_ratio = logp - ref_logp.detach().to(device=logp.device, dtype=logp.dtype)
    return -(2.0 / beta) * F.logsigmoid(-beta * log_ratio).mean()


def simnpo_forget_loss(nll_sum: torch.Tensor, num_targets: torch.Tensor, beta: float, delta: float) -> torch.Tensor:
    """SimNPO forget term ``-(2/beta) * mean_i log sigmoid(beta * (NLL_sum_i / |y_i| - delta))``."""
    mean_nll = nll_sum / num_targets.to(nll_sum.dtype)
    return -(2.0 / beta) * F.logsigmoid(beta * (mean_nll - delta)).mean()
