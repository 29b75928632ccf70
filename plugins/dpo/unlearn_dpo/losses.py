"""The forget term of DPO from sequence log-probabilities (sums over a row's target tokens)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unlearn_core.normalization import share


def dpo_forget_loss(
    win_logp: torch.Tensor,
    win_ref_logp: torch.Tensor,
    lose_logp: torch.Tensor,
    lose_ref_logp: torch.Tensor,
    beta: float,
    count: float | None = None,
) -> torch.Tensor:
    """``-(2/beta) * mean_i log sigmoid(beta * ((w_i - w_ref_i) - (l_i - l_ref_i)))``: the preferred (``win``)
    answer's log-ratio against the reference minus the rejected (``lose``) one's; a mean over the rows, or their sum
    divided by ``count`` (the effective batch's rows). The reference log-probs get no gradient."""
    win_ratio = win_logp - win_ref_logp.detach().to(device=win_logp.device, dtype=win_logp.dtype)
    lose_ratio = lose_logp - lose_ref_logp.detach().to(device=lose_logp.device, dtype=lose_logp.dtype)
    per_row = F.logsigmoid(beta * (win_ratio - lose_ratio))
    mean = per_row.mean() if count is None else share(per_row.sum(), count)
    return -(2.0 / beta) * mean
