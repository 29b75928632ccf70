"""Golden values for RMU's activation distances, computed by hand from the formulas."""

from __future__ import annotations

import pytest
import torch
from unlearn_rmu.losses import control_vector, labelled, open_unlearning_loss, row_mean_loss, squared_error

ERRORS = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
LABELS = torch.tensor([[-100, 7, 9, -100], [3, 4, 5, 6]])  # row 0: positions 1, 2; row 1: all four
MASK = labelled(LABELS)


def test_control_vector_has_norm_steering_coeff_and_comes_from_its_seed():
    vector = control_vector(64, 2.0, seed=0)
    assert vector.shape == (64,) and vector.dtype == torch.float32
    assert vector.norm().item() == pytest.approx(2.0, rel=1e-6)
    assert (vector >= 0).all()  # u ~ U[0, 1)^d: every unit is non-negative
    assert torch.equal(vector, control_vector(64, 2.0, seed=0))
    assert not torch.equal(vector, control_vector(64, 2.0, seed=1))
    assert torch.allclose(control_vector(64, 6.5, seed=0), vector * 3.25)


def test_squared_error_is_averaged_over_hidden_units():
    hidden = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]]])
    target = torch.tensor([3.0, 4.0])
    # ((1-3)^2 + (0-4)^2)/2 = 10, ((0-3)^2 + (2-4)^2)/2 = 6.5, (0 + 1)/2 = 0.5
    assert squared_error(hidden, target).tolist() == [[10.0, 6.5, 0.5]]


def test_positions_count_by_their_own_label_without_shift():
    assert MASK.tolist() == [[False, True, True, False], [True, True, True, True]]


def test_row_mean_loss_averages_each_rows_positions_then_the_rows():
    # row 0: (2 + 3)/2 = 2.5; row 1: (5 + 6 + 7 + 8)/4 = 6.5; mean 4.5
    assert row_mean_loss(ERRORS, MASK).item() == pytest.approx(4.5)
    # with the effective batch's 4 rows: this micro-batch's share (2.5 + 6.5)/4
    assert row_mean_loss(ERRORS, MASK, rows=4).item() == pytest.approx(2.25)


def test_row_mean_loss_ignores_what_is_masked_even_when_infinite():
    errors = ERRORS.clone()
    errors[0, 0] = float("inf")
    assert row_mean_loss(errors, MASK).item() == pytest.approx(4.5)


def test_open_unlearning_broadcasts_row_sums_against_row_counts():
    # sums S = (5, 26), counts n = (2, 4): [B] / [B, 1] is the B x B matrix S_j / n_i, whose mean is
    # mean(S) * mean(1/n) = 15.5 * 0.375 = 5.8125, not mean(S / n) = 4.5
    assert open_unlearning_loss(ERRORS, MASK).item() == pytest.approx(5.8125)
    equal_lengths = torch.ones_like(MASK)
    assert open_unlearning_loss(ERRORS, equal_lengths).item() == pytest.approx(row_mean_loss(ERRORS, equal_lengths))


def test_gradients_reach_only_the_hidden_state_at_labelled_positions():
    hidden = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]]], requires_grad=True)
    target = torch.tensor([3.0, 4.0], requires_grad=True)
    mask = torch.tensor([[False, True, True]])
    row_mean_loss(squared_error(hidden, target), mask).backward()
    assert target.grad is None
    # d/dh mean_{t in {1,2}} mean_d (h - c)^2 = (h - c) / (2 positions * 2 units / 2) = (h - c) / 2
    assert hidden.grad.tolist() == [[[0.0, 0.0], [-1.5, -1.0], [0.0, -0.5]]]
