"""Golden values for PDU's logit flattening, computed by hand from ``(max_v z_v - mean_v z_v)^2``."""

from __future__ import annotations

import pytest
import torch
from unlearn_pdu.losses import flatness_gap, flattening_loss, flattening_loss_open_unlearning, labelled_count

# one row, 4 positions, vocabulary 3: gaps (max - mean)^2 of each position's logits
LOGITS = torch.tensor([[[3.0, 0.0, 0.0], [1.0, 1.0, 4.0], [2.0, 2.0, 2.0], [0.0, 6.0, 0.0]]])
GAPS = [(3 - 1) ** 2, (4 - 2) ** 2, 0.0, (6 - 2) ** 2]  # 4, 4, 0, 16
LABELS = torch.tensor([[-100, -100, 7, 8]])  # answer tokens at positions 2, 3


def test_flatness_gap_is_zero_for_uniform_logits():
    assert flatness_gap(LOGITS).tolist() == [GAPS]


def test_flattening_scores_the_positions_that_predict_the_answer():
    # after the causal shift positions 1 and 2 predict the answer tokens at 2 and 3
    assert flattening_loss(LOGITS, LABELS).item() == pytest.approx((GAPS[1] + GAPS[2]) / 2)
    assert flattening_loss(LOGITS, LABELS, count=4).item() == pytest.approx((GAPS[1] + GAPS[2]) / 4)


def test_open_unlearning_scores_the_answer_positions_themselves():
    assert labelled_count(LABELS) == 2
    assert flattening_loss_open_unlearning(LOGITS, LABELS).item() == pytest.approx((GAPS[2] + GAPS[3]) / 2)
    assert flattening_loss_open_unlearning(LOGITS, LABELS, count=8).item() == pytest.approx((GAPS[2] + GAPS[3]) / 8)


def test_gradient_flattens_the_logits():
    logits = LOGITS.clone().requires_grad_(True)
    flattening_loss(logits, LABELS).backward()
    # position 1: d/dz (max - mean)^2 = 2 (max - mean) (onehot(argmax) - 1/3) / 2 positions = 2 * (onehot - 1/3)
    assert logits.grad[0, 1].tolist() == pytest.approx([-2 / 3, -2 / 3, 4 / 3])
    assert logits.grad[0, 0].abs().sum() == 0 and logits.grad[0, 3].abs().sum() == 0
