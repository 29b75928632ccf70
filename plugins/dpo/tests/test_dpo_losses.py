"""Golden values for DPO's forget term, computed by hand from its formula."""

from __future__ import annotations

import math

import pytest
import torch
from unlearn_dpo.losses import dpo_forget_loss

LN2 = math.log(2)


def log_sigmoid(x: float) -> float:
    """log(1 / (1 + e^-x))."""
    return -math.log1p(math.exp(-x))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


WIN, WIN_REF = [-2.0, -5.0], [-3.0, -4.5]  # alternate log-ratios +1 and -0.5
LOSE, LOSE_REF = [-1.0, -6.0], [-1.5, -4.0]  # forget log-ratios +0.5 and -2
MARGINS = [1.0 - 0.5, -0.5 - (-2.0)]  # 0.5 and 1.5


def test_dpo_forget_loss_with_known_margins() -> None:
    beta = 0.1
    win = torch.tensor(WIN, requires_grad=True)
    lose = torch.tensor(LOSE, requires_grad=True)
    loss = dpo_forget_loss(win, torch.tensor(WIN_REF), lose, torch.tensor(LOSE_REF), beta)
    expected = -(2 / beta) * (log_sigmoid(0.05) + log_sigmoid(0.15)) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-5)
    loss.backward()
    # d/d win_i = -(2/B) sigmoid(-beta m_i): descending the loss raises the alternate answer's log-probability ...
    grads = [-(2 / 2) * sigmoid(-beta * m) for m in MARGINS]
    assert win.grad.tolist() == pytest.approx(grads, abs=1e-6)
    # ... and lowers the forget answer's, by the same amount
    assert lose.grad.tolist() == pytest.approx([-g for g in grads], abs=1e-6)


def test_dpo_forget_loss_at_the_start_of_training() -> None:
    # before any update both log-ratios are 0: L = (2/beta) ln 2 whatever beta
    logp = torch.tensor([-7.0, -1.5, -3.0])
    for beta in (0.1, 0.5):
        loss = dpo_forget_loss(logp, logp.clone(), logp - 1.0, logp - 1.0, beta)
        assert loss.item() == pytest.approx(2 / beta * LN2, abs=1e-5)


def test_dpo_forget_loss_divides_the_row_sum_by_the_effective_batch() -> None:
    args = (torch.tensor(WIN), torch.tensor(WIN_REF), torch.tensor(LOSE), torch.tensor(LOSE_REF), 0.5)
    row_sum = -(2 / 0.5) * (log_sigmoid(0.25) + log_sigmoid(0.75))
    assert dpo_forget_loss(*args, count=8.0).item() == pytest.approx(row_sum / 8, abs=1e-6)
    assert math.isnan(dpo_forget_loss(*args, count=0.0).item())


def test_dpo_forget_loss_does_not_differentiate_the_references() -> None:
    win_ref = torch.tensor([-1.0], requires_grad=True)
    lose_ref = torch.tensor([-2.0], requires_grad=True)
    win, lose = torch.tensor([-2.0], requires_grad=True), torch.tensor([-3.0], requires_grad=True)
    dpo_forget_loss(win, win_ref, lose, lose_ref, 0.1).backward()
    assert win_ref.grad is None and lose_ref.grad is None
