"""Golden values for the membership-inference scores, the AUC and the gradient-norm attack."""

import copy
import math
import zlib
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from unlearn_core.metrics.mia import (
    auc,
    gradnorm_scores,
    loss_score,
    min_k_plus_plus_score,
    min_k_score,
    reference_score,
    zlib_score,
)


def approx(value: float, rel: float = 1e-6) -> object:
    return pytest.approx(value, rel=rel)


def test_loss_and_reference_scores() -> None:
    assert loss_score(1.25) == 1.25
    assert reference_score(2.0, 0.5) == approx(1.5)


def test_zlib_score() -> None:
    # zlib.compress(b"hello") is 13 bytes (2 header + 7 deflate + 4 adler32)
    assert len(zlib.compress(b"hello")) == 13
    assert zlib_score(2.6, "hello") == approx(0.2)
    # non-ASCII text is compressed as UTF-8 bytes ("é" is 2 bytes)
    assert zlib_score(1.0, "é") == approx(1.0 / len(zlib.compress("é".encode())))


def test_min_k() -> None:
    logprobs = torch.tensor([-0.1, -2.0, -0.5, -3.0, -1.0])
    # n = 5, K = int(5 * 0.4) = 2: lowest (-3, -2) -> -mean = 2.5
    assert min_k_score(logprobs) == approx(2.5)
    # K = max(1, int(5 * 0.1)) = 1: lowest -3 -> 3
    assert min_k_score(logprobs, k=0.1) == approx(3.0)
    # k = 1: -mean of all = 6.6 / 5
    assert min_k_score(logprobs, k=1.0) == approx(1.32)
    assert math.isnan(min_k_score(torch.tensor([])))
    with pytest.raises(ValueError, match="k must be"):
        min_k_score(logprobs, k=0.0)


def test_min_k_plus_plus() -> None:
    z = torch.tensor([1.0, -1.0, 0.5, -2.0])
    # n = 4, K = int(1.6) = 1: lowest -2 -> 2
    assert min_k_plus_plus_score(z) == approx(2.0)
    # K = int(4 * 0.5) = 2: lowest (-2, -1) -> 1.5
    assert min_k_plus_plus_score(z, k=0.5) == approx(1.5)
    assert math.isnan(min_k_plus_plus_score(torch.empty(0)))


def test_auc_with_ties_by_hand() -> None:
    forget = [0.1, 0.4, 0.35, 0.8]
    holdout = [0.35, 0.9, 0.2]
    # pairs (holdout h, forget f) scoring 1 if h > f, 1/2 if tied:
    # h=0.35: 0.1 -> 1, 0.4 -> 0, 0.35 -> 1/2, 0.8 -> 0 = 1.5; h=0.9: 4; h=0.2: 0.1 -> 1 = 1; total 6.5 of 12
    assert auc(forget, holdout) == approx(6.5 / 12)


def test_auc_equals_the_rank_sum_formula() -> None:
    from scipy.stats import rankdata

    rng = np.random.default_rng(0)
    for forget_size, holdout_size in ((1, 1), (5, 8), (40, 40), (120, 77)):
        forget = np.round(rng.normal(0.0, 1.0, forget_size), 1)  # rounded: many ties
        holdout = np.round(rng.normal(0.3, 1.0, holdout_size), 1)
        ranks = rankdata(np.concatenate([forget, holdout]))
        u_statistic = ranks[forget_size:].sum() - holdout_size * (holdout_size + 1) / 2
        assert auc(forget, holdout) == float(u_statistic / (forget_size * holdout_size))


def test_auc_extremes() -> None:
    assert auc([0.0, 1.0], [2.0, 3.0]) == 1.0  # holdout has the higher (less member-like) scores
    assert auc([2.0, 3.0], [0.0, 1.0]) == 0.0
    assert auc([1.0, 1.0], [1.0, 1.0, 1.0]) == 0.5
    with pytest.raises(ValueError, match="both classes"):
        auc([], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        auc([math.nan], [1.0])


class TinyLM(torch.nn.Module):
    """Embedding + linear head with a frozen and an unused parameter; returns an object with ``.logits``."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = torch.nn.Embedding(5, 4)
        self.mix = torch.nn.Linear(4, 4)
        self.head = torch.nn.Linear(4, 5)
        self.frozen = torch.nn.Parameter(torch.ones(4), requires_grad=False)
        self.unused = torch.nn.Parameter(torch.ones(3))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        hidden = torch.tanh(self.mix(self.embed(input_ids) * self.frozen))
        # a causal running mean, so a position sees the earlier ones
        weights = attention_mask.float().unsqueeze(-1)
        hidden = (hidden * weights).cumsum(1) / weights.cumsum(1).clamp_min(1.0)
        return SimpleNamespace(logits=self.head(hidden))


BATCH = {
    "input_ids": torch.tensor([[1, 2, 3, 4, 0], [3, 1, 1, 0, 0], [2, 2, 0, 0, 0]]),
    "attention_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0], [1, 1, 1, 0, 0]]),
    "labels": torch.tensor([[-100, 2, 3, 4, 0], [-100, -100, 1, 0, -100], [-100, -100, 0, -100, -100]]),
}


def _reference_gradnorm(model: torch.nn.Module, i: int) -> float:
    """The straightforward way: a deep copy, an explicit per-position loss, loss.backward(), then .grad norms."""
    clone = copy.deepcopy(model)
    logits = clone(BATCH["input_ids"][i : i + 1], BATCH["attention_mask"][i : i + 1]).logits[0]
    labels = BATCH["labels"][i]
    targets = [t for t in range(1, labels.numel()) if labels[t] != -100][:-1]  # drop the EOS target
    logprobs = [torch.log_softmax(logits[t - 1], dim=-1)[labels[t]] for t in targets]
    loss = -torch.stack(logprobs).mean()
    loss.backward()
    norms = [p.grad.norm() for p in clone.parameters() if p.grad is not None]
    assert len(norms) == 5  # embed, mix (w, b), head (w, b): the frozen and the unused parameter get no gradient
    return float(torch.stack(norms).mean())


@pytest.mark.parametrize("training", [True, False])
def test_gradnorm_matches_backward_and_leaves_model_alone(training: bool) -> None:
    model = TinyLM()
    model.train(training)
    scores = gradnorm_scores(model, BATCH)
    assert scores[0] == approx(_reference_gradnorm(model, 0), rel=1e-5)
    assert scores[1] == approx(_reference_gradnorm(model, 1), rel=1e-5)
    assert math.isnan(scores[2])  # one target only: nothing left once EOS is excluded
    assert scores[0] != approx(scores[1], rel=1e-3)
    assert model.training is training
    assert all(p.grad is None for p in model.parameters())


def test_gradnorm_keeps_accumulated_grads() -> None:
    model = TinyLM()
    for p in model.parameters():
        if p.requires_grad:
            p.grad = torch.full_like(p, 0.5)
    gradnorm_scores(model, BATCH)
    assert all(torch.equal(p.grad, torch.full_like(p, 0.5)) for p in model.parameters() if p.requires_grad)


def test_gradnorm_under_no_grad() -> None:
    model = TinyLM()
    with torch.no_grad():
        scores = gradnorm_scores(model, BATCH)
    assert scores[0] == approx(_reference_gradnorm(model, 0), rel=1e-5)
