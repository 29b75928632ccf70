"""Golden values for the per-sample statistics (3-token vocabulary, softmax chosen by hand)."""

import math

import pytest
import torch

from unlearn_core.metrics.statistics import SampleStatistics, compute_sample_statistics, prob

L2 = math.log(2)
# logits = log of unnormalised weights, so the softmax is weights / sum(weights)
P_121 = [0.0, L2, 0.0]  # softmax [1/4, 1/2, 1/4]
P_112 = [0.0, 0.0, L2]  # softmax [1/4, 1/4, 1/2]
UNIFORM = [0.0, 0.0, 0.0]  # softmax [1/3, 1/3, 1/3]
DECOY = [50.0, -50.0, 7.0]  # rows that are not targets after the shift; using them would change every number


def approx(value: float) -> object:
    return pytest.approx(value, rel=1e-6, abs=1e-12)


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    # sample 0: prompt of 2 tokens, targets labels[2..4] = (1, 2, 0=EOS), predicted by logits rows 1..3
    # sample 1: right-padded, targets labels[1..2] = (2, 0=EOS), predicted by logits rows 0..1
    logits = torch.tensor(
        [
            [DECOY, P_121, P_121, UNIFORM, DECOY],
            [P_112, P_121, DECOY, DECOY, DECOY],
        ]
    )
    labels = torch.tensor([[-100, -100, 1, 2, 0], [-100, 2, 0, -100, -100]])
    return logits, labels


def test_avg_loss_includes_eos_and_per_token_tensors_exclude_it() -> None:
    logits, labels = _batch()
    first, second = compute_sample_statistics(logits, labels)
    # sample 0: -log p = -log(1/2) - log(1/4) - log(1/3) = log 24 over 3 targets
    assert first.num_targets == 3
    assert first.nll_sum == approx(math.log(24))
    assert first.avg_loss == approx(math.log(24) / 3)
    assert first.prob == approx(24 ** (-1 / 3))
    # excluding EOS: log(1/2) (argmax 1 == target 1, hit), log(1/4) (argmax 1 != target 2, miss)
    assert first.token_logprobs.tolist() == [approx(math.log(0.5)), approx(math.log(0.25))]
    assert first.argmax_hits.tolist() == [True, False]
    # sample 1: p(2) = 1/2 under [1/4,1/4,1/2] (hit), EOS p(0) = 1/4 under [1/4,1/2,1/4]
    assert second.num_targets == 2
    assert second.avg_loss == approx((math.log(2) + math.log(4)) / 2)
    assert second.token_logprobs.tolist() == [approx(math.log(0.5))]
    assert second.argmax_hits.tolist() == [True]


def test_minkpp_z_by_hand() -> None:
    logits, labels = _batch()
    first, second = compute_sample_statistics(logits, labels)
    # p = [1/4, 1/2, 1/4]: mu = 2*(1/4)*(-2 ln2) + (1/2)*(-ln2) = -1.5 ln2
    # E[(log p)^2] = 2*(1/4)*(4 ln2^2) + (1/2)*ln2^2 = 2.5 ln2^2; sigma2 = 2.5 - 2.25 = 0.25 ln2^2; sigma = 0.5 ln2
    # target p=1/2: z = (-ln2 + 1.5 ln2) / (0.5 ln2) = 1; target p=1/4: z = (-2 ln2 + 1.5 ln2) / (0.5 ln2) = -1
    assert first.minkpp_z.tolist() == [approx(1.0), approx(-1.0)]
    assert second.minkpp_z.tolist() == [approx(1.0)]  # [1/4,1/4,1/2] is a permutation, target p = 1/2


def test_minkpp_sigma2_is_clamped() -> None:
    # near one-hot row [100, 0, 0]: sigma2 ~ 1e-40 -> clamped to 1e-6 (sigma 1e-3); mu ~ 0; target 1 has lp = -100
    logits = torch.tensor([[[100.0, 0.0, 0.0], UNIFORM, UNIFORM]])
    labels = torch.tensor([[-100, 1, 0]])
    (stats,) = compute_sample_statistics(logits, labels)
    assert stats.token_logprobs.tolist() == [approx(-100.0)]
    assert stats.minkpp_z.tolist() == [approx(-100.0 / 1e-3)]


def test_types_and_float32_from_bf16() -> None:
    # integer logits are exact in bf16; the float32 result must match float64 math to 1e-6 (bf16 math would not)
    row = [2.0, 0.0, 1.0]
    logits = torch.tensor([[row, row, UNIFORM]], dtype=torch.bfloat16)
    labels = torch.tensor([[-100, 2, 0]])
    (stats,) = compute_sample_statistics(logits, labels)
    assert isinstance(stats, SampleStatistics)
    # row 0 predicts 2: lp = 1 - lse; row 1 predicts EOS 0: lp = 2 - lse; lse = log(e^2 + e^0 + e^1)
    lse = math.log(math.exp(2) + 1 + math.e)
    assert stats.token_logprobs.dtype == torch.float32
    assert stats.minkpp_z.dtype == torch.float32
    assert stats.argmax_hits.dtype == torch.bool
    assert stats.token_logprobs.device.type == "cpu"
    assert stats.token_logprobs.tolist() == [approx(1.0 - lse)]
    assert stats.avg_loss == approx(((lse - 1.0) + (lse - 2.0)) / 2)
    assert isinstance(stats.avg_loss, float) and isinstance(stats.num_targets, int)


def test_zero_and_one_target_samples() -> None:
    logits = torch.tensor([[P_121, P_121, P_121], [P_121, P_121, P_121]])
    labels = torch.tensor([[-100, -100, -100], [-100, -100, 1]])
    empty, single = compute_sample_statistics(logits, labels)
    assert math.isnan(empty.avg_loss) and math.isnan(empty.prob)
    assert empty.num_targets == 0
    assert empty.token_logprobs.numel() == 0 and empty.argmax_hits.numel() == 0 and empty.minkpp_z.numel() == 0
    assert single.num_targets == 1
    assert single.avg_loss == approx(math.log(2))
    assert single.token_logprobs.numel() == 0 and single.argmax_hits.numel() == 0 and single.minkpp_z.numel() == 0


def test_first_label_is_never_a_target() -> None:
    # labels[:, 0] has no logits row predicting it (causal shift), so only labels[2] counts
    logits = torch.tensor([[P_121, P_121, P_121]])
    labels = torch.tensor([[1, -100, 1]])
    (stats,) = compute_sample_statistics(logits, labels)
    assert stats.num_targets == 1


def test_prob() -> None:
    assert prob(math.log(4)) == approx(0.25)
    assert prob(0.0) == 1.0


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="expected logits"):
        compute_sample_statistics(torch.zeros(1, 3, 4), torch.zeros(1, 4, dtype=torch.long))
