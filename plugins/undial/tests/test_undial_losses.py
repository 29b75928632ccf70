"""Golden values for UNDIAL's forget term, computed by hand from ``CE(softmax(z_ref - beta onehot(y)), p_theta)``.

Logits are ``log`` of hand-chosen probabilities, so lowering the label's logit by ``beta = ln 4`` divides its
probability by 4 before renormalising: the adjusted targets below are fractions worked out by hand.
"""

from __future__ import annotations

import math

import pytest
import torch
from unlearn_undial.losses import adjusted_targets, soft_cross_entropy, undial_loss, undial_open_unlearning_loss

LN4 = math.log(4)


def log(probs: list[float]) -> list[float]:
    return [math.log(p) for p in probs]


def ce(q: list[float], p: list[float]) -> float:
    """-sum_v q_v log p_v."""
    return -sum(qv * math.log(pv) for qv, pv in zip(q, p))


def test_adjusted_targets_lower_the_label_and_renormalise():
    ref = torch.tensor([log([0.5, 0.25, 0.25]), log([0.2, 0.4, 0.4])])
    got = adjusted_targets(ref, torch.tensor([0, 2]), LN4)
    # row 0: (0.125, 0.25, 0.25) / 0.625 = (0.2, 0.4, 0.4); row 1: (0.2, 0.4, 0.1) / 0.7
    assert got[0].tolist() == pytest.approx([0.2, 0.4, 0.4])
    assert got[1].tolist() == pytest.approx([2 / 7, 4 / 7, 1 / 7])
    assert torch.allclose(adjusted_targets(ref, torch.tensor([0, 2]), 0.0), ref.exp())


def test_soft_cross_entropy():
    logits = torch.tensor([log([0.5, 0.25, 0.25])])
    assert soft_cross_entropy(logits, torch.tensor([[0.2, 0.4, 0.4]])).item() == pytest.approx(
        ce([0.2, 0.4, 0.4], [0.5, 0.25, 0.25])
    )


# one row of 4 positions, vocabulary 3; position t predicts the label at t + 1
LABELS = torch.tensor([[-100, -100, 0, 2]])  # targets: position 1 predicts 0, position 2 predicts 2
P = [log([0.6, 0.2, 0.2]), log([0.5, 0.25, 0.25]), log([0.1, 0.1, 0.8]), log([0.3, 0.3, 0.4])]  # model
Q = [log([0.2, 0.6, 0.2]), log([0.5, 0.25, 0.25]), log([0.2, 0.4, 0.4]), log([0.3, 0.4, 0.3])]  # reference


def test_undial_loss_averages_over_the_target_positions():
    logits, ref = torch.tensor([P]), torch.tensor([Q])
    # position 1: reference (0.5, 0.25, 0.25) with label 0 lowered -> (0.2, 0.4, 0.4); model (0.5, 0.25, 0.25)
    # position 2: reference (0.2, 0.4, 0.4) with label 2 lowered -> (2/7, 4/7, 1/7); model (0.1, 0.1, 0.8)
    first = ce([0.2, 0.4, 0.4], [0.5, 0.25, 0.25])
    second = ce([2 / 7, 4 / 7, 1 / 7], [0.1, 0.1, 0.8])
    assert undial_loss(logits, ref, LABELS, LN4).item() == pytest.approx((first + second) / 2, rel=1e-6)
    assert undial_loss(logits, ref, LABELS, LN4, count=5).item() == pytest.approx((first + second) / 5, rel=1e-6)


def test_undial_gradient_pulls_the_model_toward_the_adjusted_targets():
    logits, ref = torch.tensor([P], requires_grad=True), torch.tensor([Q], requires_grad=True)
    undial_loss(logits, ref, LABELS, LN4).backward()
    assert ref.grad is None
    # d CE(q, softmax z) / dz = softmax(z) - q, over 2 targets
    assert logits.grad[0, 1].tolist() == pytest.approx([(0.5 - 0.2) / 2, (0.25 - 0.4) / 2, (0.25 - 0.4) / 2])
    assert logits.grad[0, 0].abs().sum() == 0 and logits.grad[0, 3].abs().sum() == 0


def test_open_unlearning_averages_over_every_position_and_lowers_vocabulary_entry_minus_100():
    vocab = 101  # open-unlearning's -100 indexes entry 1 here
    base = [0.0] * vocab
    model = [list(base) for _ in range(3)]
    model[0][1] = math.log(3.0)  # position 0: entry 1 three times as likely as each other one
    teacher = [list(base) for _ in range(3)]
    logits, ref = torch.tensor([model]), torch.tensor([teacher])
    labels = torch.tensor([[-100, -100, 5]])  # shifted: position 0 -> -100 (entry 1), position 1 -> 5
    # teacher uniform; lowering entry k by ln 4 gives q_k = 0.25/100.25, others 1/100.25
    q = [1 / 100.25] * vocab
    q_low = 0.25 / 100.25
    pos0 = [1 / 103] * vocab  # model at position 0: entry 1 has 3/103
    pos0[1] = 3 / 103
    first = -sum((q_low if v == 1 else q[v]) * math.log(pos0[v]) for v in range(vocab))
    second = math.log(vocab)  # a uniform model: CE is log V whatever the targets
    got = undial_open_unlearning_loss(logits, ref, labels, LN4).item()
    assert got == pytest.approx((first + second) / 2, rel=1e-6)
    # the paper's loss scores position 1 alone
    assert undial_loss(logits, ref, labels, LN4).item() == pytest.approx(second, rel=1e-6)


def test_open_unlearning_needs_a_vocabulary_of_100():
    with pytest.raises(ValueError, match="100 entries or more, got 3"):
        undial_open_unlearning_loss(torch.tensor([P]), torch.tensor([Q]), LABELS, LN4)
