"""Golden values for the shared loss primitives, computed by hand from the formulas in ../shared/spec/METHODS.md.

Logits are written as ``log(p) + c``: softmax gives back ``p`` whatever the row offset ``c``, so every expected
log-probability below is the log of a probability chosen by hand.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from unlearn_core.errors import ConfigError
from unlearn_core.losses import (
    kl_every_position,
    kl_on_targets,
    mean_token_nll,
    model_logits,
    retain_loss,
    sequence_nll,
    shifted_targets,
)

LN2, LN3 = math.log(2), math.log(3)


def logits_of(probs: list[float], offset: float = 0.0) -> list[float]:
    """Logits whose softmax is ``probs``."""
    return [math.log(p) + offset for p in probs]


def kl(p: list[float], q: list[float]) -> float:
    """KL(p || q) = sum_v p_v log(p_v / q_v)."""
    return sum(pv * math.log(pv / qv) for pv, qv in zip(p, q))


# Two samples, 4 positions, vocab 3. Logits at position t predict the label at t + 1.
# Sample 0: prompt, prompt, answer token 1, padding -> one target (position 1 predicts token 1).
# Sample 1: the label at position 0 is never a target (nothing predicts it); positions 0, 1, 2 predict 0, 2, 1.
LABELS = torch.tensor([[-100, -100, 1, -100], [0, 0, 2, 1]])
LOGITS = torch.tensor(
    [
        [
            [10.0, -10.0, 0.0],  # prompt position: must not count
            logits_of([0.25, 0.5, 0.25], offset=1.7),  # predicts 1: -log 0.5 = ln 2
            [-30.0, 30.0, 0.0],  # predicts padding: must not count
            [5.0, 0.0, -5.0],  # last position: predicts nothing
        ],
        [
            logits_of([0.5, 0.25, 0.25], offset=-2.0),  # predicts 0: ln 2
            logits_of([0.1, 0.1, 0.8]),  # predicts 2: -ln 0.8
            logits_of([1 / 3, 1 / 3, 1 / 3], offset=4.0),  # predicts 1: ln 3
            [7.0, 0.0, 0.0],  # last position: predicts nothing
        ],
    ]
)
NLL_SUM = [LN2, LN2 - math.log(0.8) + LN3]
NUM_TARGETS = [1, 3]


def test_shifted_targets_drops_last_logit_and_first_label() -> None:
    logits, labels, mask = shifted_targets(LOGITS, LABELS)
    assert torch.equal(logits, LOGITS[:, :3])
    assert labels.tolist() == [[-100, 1, -100], [0, 2, 1]]
    assert mask.tolist() == [[False, True, False], [True, True, True]]


def test_sequence_nll_sums_target_tokens_per_sample() -> None:
    nll_sum, num_targets = sequence_nll(LOGITS, LABELS)
    assert nll_sum.tolist() == pytest.approx(NLL_SUM, abs=1e-6)
    assert num_targets.tolist() == NUM_TARGETS


def test_sequence_nll_is_float32_for_low_precision_logits() -> None:
    nll_sum, _ = sequence_nll(LOGITS.to(torch.bfloat16), LABELS)
    assert nll_sum.dtype == torch.float32
    assert nll_sum.tolist() == pytest.approx(NLL_SUM, abs=2e-2)


def test_mean_token_nll_averages_over_all_target_tokens_of_the_batch() -> None:
    expected = sum(NLL_SUM) / sum(NUM_TARGETS)  # 4 tokens, not the mean of per-sample means
    assert mean_token_nll(LOGITS, LABELS).item() == pytest.approx(expected, abs=1e-6)
    hf_style = torch.nn.functional.cross_entropy(LOGITS[:, :-1].reshape(-1, 3), LABELS[:, 1:].reshape(-1))
    assert mean_token_nll(LOGITS, LABELS).item() == pytest.approx(hf_style.item(), abs=1e-6)


def test_mean_token_nll_without_targets_is_nan() -> None:
    assert math.isnan(mean_token_nll(LOGITS, torch.full_like(LABELS, -100)).item())


def test_nll_ignores_infinite_logits_at_masked_positions() -> None:
    logits = LOGITS.clone()
    logits[0, 0] = torch.tensor([0.0, -math.inf, -math.inf])  # a prompt position that gives 0 probability
    nll_sum, _ = sequence_nll(logits, LABELS)
    assert nll_sum.tolist() == pytest.approx(NLL_SUM, abs=1e-6)


# KL(pi_ref || pi_theta): the target positions have hand-chosen distributions; the prompt, padding and last
# positions have a huge KL that must not enter the mean.
P_REF = {(0, 1): [0.8, 0.1, 0.1], (1, 0): [0.5, 0.25, 0.25], (1, 1): [0.2, 0.3, 0.5], (1, 2): [0.6, 0.2, 0.2]}
P_THETA = {(0, 1): [1 / 3, 1 / 3, 1 / 3], (1, 0): [0.25, 0.5, 0.25], (1, 1): [0.2, 0.3, 0.5], (1, 2): [0.1, 0.1, 0.8]}


def kl_logits() -> tuple[torch.Tensor, torch.Tensor]:
    """Reference and model logits that disagree wildly outside the target positions."""
    ref = torch.tensor([[[20.0, -20.0, 0.0]] * 4] * 2)
    theta = torch.tensor([[[-20.0, 20.0, 0.0]] * 4] * 2)
    for (b, t), p in P_REF.items():
        ref[b, t] = torch.tensor(logits_of(p, offset=0.5))
        theta[b, t] = torch.tensor(logits_of(P_THETA[(b, t)], offset=-1.0))
    return ref, theta


def test_kl_on_targets_averages_over_target_positions_only() -> None:
    ref, theta = kl_logits()
    expected = sum(kl(P_REF[k], P_THETA[k]) for k in P_REF) / 4
    assert kl_on_targets(ref, theta, LABELS).item() == pytest.approx(expected, abs=1e-6)


def test_kl_direction_is_reference_to_model() -> None:
    ref, theta = kl_logits()
    labels = torch.tensor([[-100, -100, 1, -100]])  # only sample 0, position 1
    forward = kl(P_REF[(0, 1)], P_THETA[(0, 1)])  # 0.8 ln 2.4 + 0.2 ln 0.3
    backward = kl(P_THETA[(0, 1)], P_REF[(0, 1)])
    assert forward == pytest.approx(0.8 * math.log(2.4) + 0.2 * math.log(0.3))
    assert abs(forward - backward) > 0.05
    assert kl_on_targets(ref[:1], theta[:1], labels).item() == pytest.approx(forward, abs=1e-6)


def test_kl_gradient_reaches_the_model_only() -> None:
    ref, theta = kl_logits()
    ref.requires_grad_(True)
    theta.requires_grad_(True)
    kl_on_targets(ref, theta, LABELS).backward()
    assert ref.grad is None
    assert theta.grad is not None
    assert theta.grad[0, 0].abs().sum() == 0  # prompt position: no gradient
    assert theta.grad[0, 1].abs().sum() > 0
    # d KL(p||q) / d z_theta = (q - p) / (number of target positions)
    expected = (torch.tensor(P_THETA[(0, 1)]) - torch.tensor(P_REF[(0, 1)])) / 4
    assert torch.allclose(theta.grad[0, 1], expected, atol=1e-6)


def softmax(z: list[float]) -> list[float]:
    """softmax of one row, by hand."""
    total = sum(math.exp(v) for v in z)
    return [math.exp(v) / total for v in z]


def test_kl_every_position_averages_over_every_position_of_the_batch() -> None:
    # open-unlearning's KL: the 4 target positions and the 4 others (prompt, padding, last), divided by 2 x 4
    ref, theta = kl_logits()
    outside = kl(softmax([20.0, -20.0, 0.0]), softmax([-20.0, 20.0, 0.0]))  # about 40
    expected = (sum(kl(P_REF[k], P_THETA[k]) for k in P_REF) + 4 * outside) / 8
    assert kl_every_position(ref, theta).item() == pytest.approx(expected, rel=1e-5)
    model = FixedLogitsModel(theta)
    loss = retain_loss("KL", model, retain_batch(), FixedReference(ref), 99.0, every_position=True)
    assert loss.item() == pytest.approx(expected, rel=1e-5)  # the count is not used


def test_kl_every_position_averages_over_prompt_padding_and_last_positions_too() -> None:
    # open-unlearning's retain KL: no shift, no mask; every one of the 2 x 4 positions counts
    ref = torch.tensor([[logits_of([0.5, 0.25, 0.25], offset=3.0), logits_of([0.8, 0.1, 0.1])]])
    theta = torch.tensor([[logits_of([0.25, 0.5, 0.25]), logits_of([0.8, 0.1, 0.1], offset=-2.0)]])
    expected = (kl([0.5, 0.25, 0.25], [0.25, 0.5, 0.25]) + 0.0) / 2  # (0.5 ln 2 - 0.25 ln 2) / 2
    assert expected == pytest.approx(0.125 * LN2)
    assert kl_every_position(ref, theta).item() == pytest.approx(expected, abs=1e-6)
    ref8, theta8 = kl_logits()
    # the 4 positions outside the targets: p = softmax(20, -20, 0), q = softmax(-20, 20, 0), equal normalisers, so
    # KL = sum_v p_v (z_ref_v - z_theta_v) = 40 (p_0 - p_1)
    norm = 1 + math.exp(-40) + math.exp(-20)
    wild = 40 * (1 - math.exp(-40)) / norm
    every = (sum(kl(P_REF[k], P_THETA[k]) for k in P_REF) + 4 * wild) / 8
    assert kl_every_position(ref8, theta8).item() == pytest.approx(every, rel=1e-4)


def test_kl_of_identical_models_is_zero() -> None:
    assert kl_on_targets(LOGITS, LOGITS, LABELS).item() == pytest.approx(0.0, abs=1e-7)


class FixedLogitsModel(torch.nn.Module):
    """Returns the same logits for every batch and records the keyword arguments of each call."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(logits.clone())
        self.calls: list[dict[str, object]] = []

    def forward(self, **kwargs: torch.Tensor) -> SimpleNamespace:
        self.calls.append(kwargs)
        return SimpleNamespace(logits=self.logits * 1.0)


class FixedReference:
    """A Reference whose ``logits`` are fixed."""

    def __init__(self, logits: torch.Tensor) -> None:
        self._logits = logits

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self._logits

    def forget_logprobs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        raise AssertionError("a retain loss never needs forget log-probs")


def retain_batch() -> dict[str, torch.Tensor]:
    ids = torch.zeros_like(LABELS)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": LABELS, "index": torch.tensor([3, 9])}


def test_model_logits_passes_only_ids_and_mask() -> None:
    model = FixedLogitsModel(LOGITS)
    batch = retain_batch()
    assert torch.equal(model_logits(model, batch), LOGITS)
    assert set(model.calls[0]) == {"input_ids", "attention_mask"}


def test_retain_loss_nll() -> None:
    loss = retain_loss("NLL", FixedLogitsModel(LOGITS), retain_batch(), None)
    assert loss.item() == pytest.approx(sum(NLL_SUM) / 4, abs=1e-6)


def test_retain_loss_kl_uses_reference_logits() -> None:
    ref, theta = kl_logits()
    loss = retain_loss("KL", FixedLogitsModel(theta), retain_batch(), FixedReference(ref))
    assert loss.item() == pytest.approx(sum(kl(P_REF[k], P_THETA[k]) for k in P_REF) / 4, abs=1e-6)


def test_retain_loss_rejects_unknown_kind_with_choices() -> None:
    with pytest.raises(ConfigError, match="'MSE'.*NLL, KL"):
        retain_loss("MSE", FixedLogitsModel(LOGITS), retain_batch(), None)


def test_retain_loss_kl_without_reference_is_an_error() -> None:
    with pytest.raises(ConfigError, match="reference model"):
        retain_loss("KL", FixedLogitsModel(LOGITS), retain_batch(), None)
