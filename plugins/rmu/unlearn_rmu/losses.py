"""RMU's activation distances: squared errors of hidden states per position, reduced over the labelled positions.

A position counts when its own label is not -100 (a hidden state is not a prediction: no causal shift), i.e. the
answer tokens of a QA row and every token of a raw-text row. Squared errors are averaged over the hidden units, as
in the WMDP authors' code and open-unlearning (the paper writes the squared norm: ``d`` times larger).
"""

from __future__ import annotations

import torch

from unlearn_core.normalization import share


def control_vector(width: int, steering_coeff: float, seed: int) -> torch.Tensor:
    """``c * u / |u|`` with ``u ~ U[0, 1)^width`` drawn from a generator seeded with ``seed`` (float32, CPU)."""
    u = torch.rand(width, generator=torch.Generator().manual_seed(seed), dtype=torch.float32)
    return u / u.norm() * steering_coeff


def squared_error(hidden: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mean_d (hidden - target)^2`` per position ``[B, T]`` in float32; ``target`` broadcasts (``[d]`` or
    ``[B, T, d]``) and is not differentiated."""
    diff = hidden.float() - target.detach().to(device=hidden.device, dtype=torch.float32)
    return diff.pow(2).mean(dim=-1)


def labelled(labels: torch.Tensor) -> torch.Tensor:
    """Positions whose own label is not -100 ``[B, T]`` (bool)."""
    return labels != -100


def row_mean_loss(errors: torch.Tensor, mask: torch.Tensor, rows: float | None = None) -> torch.Tensor:
    """Mean over rows of each row's mean error over its labelled positions (the paper's
    ``E_x [1/L_x sum_t ...]``); the sum over rows is divided by ``rows`` (the effective batch's) when given. A row
    without a labelled position makes it NaN."""
    masked = torch.where(mask, errors, torch.zeros_like(errors))
    per_row = masked.sum(dim=-1) / mask.sum(dim=-1).to(errors.dtype)
    return per_row.mean() if rows is None else share(per_row.sum(), rows)


def open_unlearning_loss(errors: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """open-unlearning's value: per-row sums ``S`` of shape ``[B]`` divided by per-row counts ``n`` of shape
    ``[B, 1]`` broadcast to ``[B, B]`` and averaged, i.e. ``mean_i S_i * mean_j 1/n_j`` (not ``mean_i S_i/n_i``)."""
    masked = torch.where(mask, errors, torch.zeros_like(errors))
    sums = masked.sum(dim=-1)
    counts = mask.sum(dim=-1, keepdim=True).to(errors.dtype)
    return (sums / counts).mean()
