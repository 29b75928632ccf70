"""Golden values for the token-weighted forget terms (WGA, SatImp) and CE-U, computed by hand from their formulas.

Logits are ``log`` of hand-chosen next-token probabilities, so every probability below is a number of a table.
"""

from __future__ import annotations

import math

import pytest
import torch
from unlearn_tokenweighted.losses import (
    ceu_loss,
    ceu_positions,
    satimp_weights,
    token_nll,
    weighted_ascent_loss,
    wga_weights,
)

# Two rows, vocabulary 3. Row 0 predicts 1 (probability 0.3) then 2 (0.3); row 1 predicts 1 (0.25), 0 (0.1), 2 (0.2).
DIST = {0: [0.5, 0.3, 0.2], 1: [0.1, 0.6, 0.3], 2: [0.25, 0.25, 0.5]}  # next-token probabilities after each token
INPUT_IDS = torch.tensor([[0, 1, 2, 2, 2], [2, 2, 1, 0, 2]])
LABELS = torch.tensor([[-100, 1, 2, -100, -100], [-100, -100, 1, 0, 2]])
TARGET_PROBS = [0.3, 0.3, 0.25, 0.1, 0.2]
# (input token, label) of each target position, in order: what CE-U reads
POSITIONS = [(0, 1), (1, 2), (2, 1), (1, 0), (0, 2)]


def logits() -> torch.Tensor:
    """``log DIST[input token]`` at every position."""
    return torch.tensor([[DIST[t] for t in row] for row in INPUT_IDS.tolist()]).log()


def test_token_nll_is_minus_log_probability_at_targets() -> None:
    nll, mask = token_nll(logits(), LABELS)
    assert mask.tolist() == [[True, True, False, False], [False, True, True, True]]
    assert nll[mask].tolist() == pytest.approx([-math.log(p) for p in TARGET_PROBS], abs=1e-6)
    assert nll[~mask].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.5])
def test_wga_is_minus_the_probability_weighted_mean_cross_entropy(beta: float) -> None:
    nll, mask = token_nll(logits(), LABELS)
    loss = weighted_ascent_loss(nll, mask, wga_weights(nll, beta))
    expected = -sum(p**beta * -math.log(p) for p in TARGET_PROBS) / 5
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_wga_with_beta_zero_is_gradient_ascent() -> None:
    nll, mask = token_nll(logits(), LABELS)
    assert weighted_ascent_loss(nll, mask, wga_weights(nll, 0.0)).item() == pytest.approx(-nll[mask].mean().item())


def test_satimp_weights_saturation_and_importance() -> None:
    nll, mask = token_nll(logits(), LABELS)
    weights = satimp_weights(nll, 5.0, 1.0)
    assert weights[mask].tolist() == pytest.approx([p**5 * (1 - p) for p in TARGET_PROBS], rel=1e-5)
    loss = weighted_ascent_loss(nll, mask, satimp_weights(nll, 2.0, 3.0))
    expected = -sum(p**2 * (1 - p) ** 3 * -math.log(p) for p in TARGET_PROBS) / 5
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_weights_carry_no_gradient_and_ascent_lowers_the_targets() -> None:
    z = logits().requires_grad_(True)
    nll, mask = token_nll(z, LABELS)
    weights = wga_weights(nll, 1.0)
    assert not weights.requires_grad
    weighted_ascent_loss(nll, mask, weights).backward()
    # loss = -(1/N) sum_t w_t nll_t and d nll / d z_label = -(1 - p): d loss / d z_label = (w/N)(1 - p) > 0, so a
    # descent step lowers the label's logit (row 0, position 0: p = 0.3, weight p = 0.3)
    assert z.grad[0, 0, 1].item() == pytest.approx((0.3 / 5) * (1 - 0.3), abs=1e-6)


def test_weighted_ascent_divides_by_the_effective_batch() -> None:
    nll, mask = token_nll(logits(), LABELS)
    ones = torch.ones_like(nll)
    total = sum(-math.log(p) for p in TARGET_PROBS)
    assert weighted_ascent_loss(nll, mask, ones, count=20.0).item() == pytest.approx(-total / 20, abs=1e-6)


def ceu_term(token: int, label: int) -> float:
    """-sum_v q_v log p_v with p = DIST[token] and q = p without the label, renormalised."""
    p = DIST[token]
    rest = 1 - p[label]
    return -sum(p[v] / rest * math.log(p[v]) for v in range(3) if v != label)


@pytest.mark.parametrize(("skip", "kept"), [(0, [0, 1, 2, 3, 4]), (1, [1, 3, 4]), (2, [4]), (3, [])])
def test_ceu_skips_each_rows_first_answer_tokens(skip: int, kept: list[int]) -> None:
    positions = ceu_positions(LABELS, skip)
    assert int(positions.sum()) == len(kept)
    loss = ceu_loss(logits(), LABELS, skip)
    if not kept:
        assert math.isnan(loss.item())
        return
    expected = sum(ceu_term(*POSITIONS[k]) for k in kept) / len(kept)
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_ceu_gradient_moves_the_model_toward_its_own_distribution_without_the_label() -> None:
    z = logits().requires_grad_(True)
    ceu_loss(z, LABELS, 1).backward()
    # at the kept position (row 0, logits of position 1: input token 1, label 2): d/dz = (p - q) / 3
    p = DIST[1]
    q = [0.1 / 0.7, 0.6 / 0.7, 0.0]
    assert z.grad[0, 1].tolist() == pytest.approx([(pv - qv) / 3 for pv, qv in zip(p, q)], abs=1e-6)
    assert z.grad[0, 0].abs().sum().item() == 0.0  # the skipped first answer token
    assert z.grad[1, 3].abs().sum().item() > 0


def test_ceu_divides_by_the_effective_batch() -> None:
    expected = sum(ceu_term(*POSITIONS[k]) for k in (1, 3, 4))
    assert ceu_loss(logits(), LABELS, 1, count=12.0).item() == pytest.approx(expected / 12, abs=1e-6)
