"""NPO and SimNPO: golden losses from hand formulas, gradients, reference needs, hook registration.

The stub model's logits at a position depend only on the input token there: a table of hand-chosen probabilities
``P[token]`` (the reference model uses ``R[token]``), so every log-probability below is ``log`` of a number in a
table. Logits at position ``t`` predict the label at ``t + 1``.
"""

from __future__ import annotations

import math

import pytest
import torch
from support.micro_llama import micro_llama_and_batch
from support.plugin_checks import assert_plugin_module_imports_only_the_hook_marker, methods_registered_by
from support.table_golden import CE_RETAIN, KL_RETAIN, RETAIN, P, TableReference
from support.table_model import TableModel
from unlearn_npo import plugin
from unlearn_npo.methods import NPO, SimNPO

from unlearn_core.losses import model_logits, sequence_nll

# forget sample 0: after 0 -> 1 (0.3), after 1 -> 2 (0.3); sample 1: after 2 -> 1 (0.25), after 1 -> 0 (0.1), and
# after 0 -> 2 (0.2)
FORGET = {
    "input_ids": torch.tensor([[0, 1, 2, 2, 2], [2, 2, 1, 0, 2]]),
    "attention_mask": torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]),
    "labels": torch.tensor([[-100, 1, 2, -100, -100], [-100, -100, 1, 0, 2]]),
    "index": torch.tensor([4, 7]),
}
LOGP = [math.log(0.3) + math.log(0.3), math.log(0.25) + math.log(0.1) + math.log(0.2)]  # log pi_theta(y|x)
NUM_TARGETS = [2, 3]
REF_LOGP = [-2.0, -6.5]  # cached reference log-probs of samples 4 and 7


def log_sigmoid(x: float) -> float:
    """log(1 / (1 + e^-x))."""
    return -math.log1p(math.exp(-x))


def npo_by_hand(beta: float) -> float:
    """-(2/beta) * mean_i log sigmoid(-beta * (logp_i - ref_logp_i))."""
    return -(2 / beta) * sum(log_sigmoid(-beta * (lp - rp)) for lp, rp in zip(LOGP, REF_LOGP)) / 2


def simnpo_by_hand(beta: float, delta: float) -> float:
    """-(2/beta) * mean_i log sigmoid(beta * (NLL_sum_i / |y_i| - delta))."""
    return -(2 / beta) * sum(log_sigmoid(beta * (-lp / n - delta)) for lp, n in zip(LOGP, NUM_TARGETS)) / 2


class FakeReference(TableReference):
    """Reference model ``R`` and cached forget log-probs by sample index; records what was asked."""

    def __init__(self, cached: dict[int, float] | None = None) -> None:
        super().__init__()
        self.cached = cached if cached is not None else {4: REF_LOGP[0], 7: REF_LOGP[1]}
        self.logprob_batches: list[dict[str, torch.Tensor]] = []

    def forget_logprobs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        self.logprob_batches.append(batch)
        return torch.tensor([self.cached[i] for i in batch["index"].tolist()])


def batch() -> dict[str, dict[str, torch.Tensor]]:
    return {"forget": FORGET, "retain": RETAIN}


def test_npo_defaults_nll() -> None:
    method = NPO()
    assert method.args == {"beta": 0.1, "gamma": 1.0, "alpha": 1.0, "retain_loss_type": "NLL"}
    reference = FakeReference()
    out = method.compute_loss(TableModel(P), batch(), reference)
    assert out.loss.item() == pytest.approx(npo_by_hand(0.1) + CE_RETAIN, abs=1e-5)
    assert out.terms["forget_loss"] == pytest.approx(npo_by_hand(0.1), abs=1e-5)
    assert out.terms["retain_loss"] == pytest.approx(CE_RETAIN, abs=1e-6)
    assert reference.logprob_batches == [FORGET]
    assert reference.logits_calls == 0


def test_npo_weights_and_beta() -> None:
    out = NPO(beta=0.5, gamma=2.0, alpha=0.25).compute_loss(TableModel(P), batch(), FakeReference())
    assert out.loss.item() == pytest.approx(2.0 * npo_by_hand(0.5) + 0.25 * CE_RETAIN, abs=1e-5)


def test_npo_kl_retain() -> None:
    reference = FakeReference()
    model = TableModel(P)
    out = NPO(gamma=2.0, alpha=0.5, retain_loss_type="KL").compute_loss(model, batch(), reference)
    assert out.loss.item() == pytest.approx(2.0 * npo_by_hand(0.1) + 0.5 * KL_RETAIN, abs=1e-5)
    assert out.terms["retain_loss"] == pytest.approx(KL_RETAIN, abs=1e-6)
    assert reference.logits_calls == 1
    out.loss.backward()
    assert model.embed.weight.grad is not None and model.embed.weight.grad.abs().sum() > 0
    assert reference.model.embed.weight.grad is None


def test_npo_at_the_start_is_a_scaled_ln2_and_lowers_forget_likelihood() -> None:
    model = TableModel(P)
    with torch.no_grad():  # what the runner caches before the first update: the model's own log-probs
        nll, _ = sequence_nll(model_logits(model, FORGET), FORGET["labels"])
    reference = FakeReference({4: -nll[0].item(), 7: -nll[1].item()})
    method = NPO(alpha=0.0)
    out = method.compute_loss(model, batch(), reference)
    assert out.terms["forget_loss"] == pytest.approx(20 * math.log(2), abs=1e-5)
    out.loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.5).step()
    with torch.no_grad():
        nll_after, _ = sequence_nll(model_logits(model, FORGET), FORGET["labels"])
    assert (nll_after > nll).all()


def test_simnpo_defaults_nll() -> None:
    method = SimNPO()
    assert method.args == {"beta": 4.5, "delta": 0.0, "gamma": 0.125, "alpha": 1.0, "retain_loss_type": "NLL"}
    reference = FakeReference()
    out = method.compute_loss(TableModel(P), batch(), reference)
    assert out.loss.item() == pytest.approx(0.125 * simnpo_by_hand(4.5, 0.0) + CE_RETAIN, abs=1e-6)
    assert out.terms["forget_loss"] == pytest.approx(simnpo_by_hand(4.5, 0.0), abs=1e-6)
    assert reference.logprob_batches == [] and reference.logits_calls == 0


def test_simnpo_margin_and_kl_retain() -> None:
    reference = FakeReference()
    model = TableModel(P)
    method = SimNPO(beta=2.0, delta=1.5, gamma=1.0, alpha=3.0, retain_loss_type="KL")
    out = method.compute_loss(model, batch(), reference)
    assert out.loss.item() == pytest.approx(simnpo_by_hand(2.0, 1.5) + 3.0 * KL_RETAIN, abs=1e-6)
    assert reference.logprob_batches == [] and reference.logits_calls == 1
    out.loss.backward()
    assert model.embed.weight.grad is not None and torch.isfinite(model.embed.weight.grad).all()


def test_simnpo_step_raises_forget_nll() -> None:
    model = TableModel(P)
    with torch.no_grad():
        before, _ = sequence_nll(model_logits(model, FORGET), FORGET["labels"])
    SimNPO(alpha=0.0, gamma=1.0).compute_loss(model, batch(), FakeReference()).loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.5).step()
    with torch.no_grad():
        after, _ = sequence_nll(model_logits(model, FORGET), FORGET["labels"])
    assert (after > before).all()


def test_reference_needs() -> None:
    assert NPO().needs_reference_logprobs()
    assert not NPO().needs_reference_model()
    assert NPO(retain_loss_type="KL").needs_reference_model()
    assert not SimNPO().needs_reference_logprobs()
    assert not SimNPO().needs_reference_model()
    assert SimNPO(retain_loss_type="KL").needs_reference_model()
    assert NPO.choices == SimNPO.choices == {"retain_loss_type": ("NLL", "KL")}


def test_registration_through_the_hook() -> None:
    registry = methods_registered_by(plugin)
    assert registry.names() == ["NPO", "SimNPO"]
    assert registry.get("npo") is NPO
    assert registry.get("simnpo") is SimNPO


def test_plugin_module_imports_only_the_hook_marker() -> None:
    assert_plugin_module_imports_only_the_hook_marker(plugin)


def test_npo_on_tiny_llama() -> None:
    model, batch = micro_llama_and_batch()
    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    forget = {**batch, "index": torch.tensor([4, 7])}
    with torch.no_grad():
        nll, _ = sequence_nll(model_logits(model, forget), labels)
    reference = FakeReference({4: -nll[0].item(), 7: -nll[1].item()})
    out = NPO().compute_loss(model, {"forget": forget, "retain": forget}, reference)
    hf_ce = model(input_ids=ids, attention_mask=mask, labels=labels).loss.item()
    assert out.terms["forget_loss"] == pytest.approx(20 * math.log(2), abs=1e-4)
    assert out.terms["retain_loss"] == pytest.approx(hf_ce, abs=1e-5)
    out.loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
