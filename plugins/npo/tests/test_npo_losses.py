"""Golden values for NPO's and SimNPO's forget terms, computed by hand from the formulas in spec/METHODS.md."""

from __future__ import annotations

import math

import pytest
import torch
from unlearn_npo.losses import npo_forget_loss, simnpo_forget_loss

LN2 = math.log(2)


def log_sigmoid(x: float) -> float:
    """log(1 / (1 + e^-x))."""
    return -math.log1p(math.exp(-x))


def test_npo_forget_loss_with_known_log_ratio() -> None:
    beta = 0.1
    logp = torch.tensor([-2.0, -5.0], requires_grad=True)
    ref_logp = torch.tensor([-3.0, -4.0])  # log ratios +1 and -1
    loss = npo_forget_loss(logp, ref_logp, beta)
    expected = -(2 / beta) * (log_sigmoid(-0.1) + log_sigmoid(0.1)) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-5)
    loss.backward()
    # d/d logp_i = (2/B) * sigmoid(beta * lr_i) > 0: descending the loss lowers the forget log-probability
    sigmoid = [1 / (1 + math.exp(-beta * lr)) for lr in (1.0, -1.0)]
    assert logp.grad.tolist() == pytest.approx([2 / 2 * s for s in sigmoid], abs=1e-6)


def test_npo_forget_loss_at_the_start_of_training() -> None:
    # before any update pi_theta = pi_ref: lr = 0, L = (2/beta) ln 2, gradient 1/B per sample (= gradient ascent)
    logp = torch.tensor([-7.0, -1.5, -3.0], requires_grad=True)
    loss = npo_forget_loss(logp, logp.detach().clone(), 0.1)
    assert loss.item() == pytest.approx(20 * LN2, abs=1e-5)
    loss.backward()
    assert logp.grad.tolist() == pytest.approx([1 / 3] * 3, abs=1e-6)


def test_npo_forget_loss_does_not_differentiate_the_reference() -> None:
    ref_logp = torch.tensor([-1.0], requires_grad=True)
    npo_forget_loss(torch.tensor([-2.0], requires_grad=True), ref_logp, 0.1).backward()
    assert ref_logp.grad is None


def test_simnpo_forget_loss_on_length_normalised_nll() -> None:
    nll_sum = torch.tensor([6.0, 2.0], requires_grad=True)
    num_targets = torch.tensor([3, 4])  # mean NLL 2.0 and 0.5
    beta = 4.5
    loss = simnpo_forget_loss(nll_sum, num_targets, beta, 0.0)
    expected = -(2 / beta) * (log_sigmoid(4.5 * 2.0) + log_sigmoid(4.5 * 0.5)) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    loss.backward()
    # d/d nll_sum_i = -(2 / (B |y_i|)) * sigmoid(-beta (mean_i - delta)) < 0: descending the loss raises the NLL
    expected_grad = [-(2 / (2 * 3)) / (1 + math.exp(9.0)), -(2 / (2 * 4)) / (1 + math.exp(2.25))]
    assert nll_sum.grad.tolist() == pytest.approx(expected_grad, abs=1e-7)


def test_simnpo_forget_loss_with_margin() -> None:
    loss = simnpo_forget_loss(torch.tensor([6.0, 2.0]), torch.tensor([3, 4]), 2.0, 1.0)  # means - delta: 1, -0.5
    expected = -(2 / 2.0) * (log_sigmoid(2.0 * 1.0) + log_sigmoid(2.0 * -0.5)) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-6)
