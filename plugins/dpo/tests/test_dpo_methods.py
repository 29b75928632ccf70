"""DPO and IdkNLL: golden losses from hand formulas, compat mode, normalisation, declared needs, registration.

The stub model's logits at a position depend only on the input token there: a table of hand-chosen probabilities
``P[token]`` (the reference model uses ``R[token]``), so every log-probability below is ``log`` of a number in a
table. Logits at position ``t`` predict the label at ``t + 1``.
"""

from __future__ import annotations

import math

import pytest
import torch
from support.plugin_checks import assert_plugin_module_imports_only_the_hook_marker, methods_registered_by
from support.table_golden import CE_RETAIN, KL_EVERY_POSITION, KL_RETAIN, RETAIN, P, TableReference
from support.table_model import TableModel
from unlearn_dpo import plugin
from unlearn_dpo.methods import DPO, IdkNLL

from unlearn_core import FORGET_FIELD
from unlearn_core.data import Tokenized
from unlearn_core.errors import ConfigError
from unlearn_core.normalization import BatchTotals

# forget answers. Row 4: after 0 -> 1 (0.3), after 1 -> 2 (0.3); row 7: after 2 -> 1 (0.25), 1 -> 0 (0.1), 0 -> 2 (0.2)
FORGET = {
    "input_ids": torch.tensor([[0, 1, 2, 2, 2], [2, 2, 1, 0, 2]]),
    "attention_mask": torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]),
    "labels": torch.tensor([[-100, 1, 2, -100, -100], [-100, -100, 1, 0, 2]]),
    "index": torch.tensor([4, 7]),
}
LOSE = [math.log(0.3 * 0.3), math.log(0.25 * 0.1 * 0.2)]
# "I don't know" answers of the same rows. Row 4: after 0 -> 2 (0.2), 2 -> 0 (0.25), 0 -> 1 (0.3); row 7: after
# 2 -> 1 (0.25), 1 -> 1 (0.6)
ALTERNATE = {
    "input_ids": torch.tensor([[0, 2, 0, 1], [2, 1, 1, 0]]),
    "attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]),
    "labels": torch.tensor([[-100, 2, 0, 1], [-100, 1, 1, -100]]),
    "index": torch.tensor([4, 7]),
}
WIN = [math.log(0.2 * 0.25 * 0.3), math.log(0.25 * 0.6)]
ALTERNATE_TOKENS = 5
REF = {FORGET_FIELD: {4: -2.0, 7: -6.5}, "alternate": {4: -4.0, 7: -2.5}}  # cached reference log-probs


def log_sigmoid(x: float) -> float:
    """log(1 / (1 + e^-x))."""
    return -math.log1p(math.exp(-x))


def dpo_by_hand(beta: float) -> float:
    """-(2/beta) mean_i log sigmoid(beta [(win_i - ref_w_i) - (lose_i - ref_l_i)])."""
    margins = [(w - REF["alternate"][i]) - (lo - REF[FORGET_FIELD][i]) for w, lo, i in zip(WIN, LOSE, (4, 7))]
    return -(2 / beta) * sum(log_sigmoid(beta * m) for m in margins) / 2


IDK_NLL = -sum(WIN) / ALTERNATE_TOKENS


class FakeReference(TableReference):
    """Reference model ``R`` and cached log-probs by field and row index; records what was asked."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str] = []

    def logprobs(self, batch: dict[str, torch.Tensor], field: str = FORGET_FIELD) -> torch.Tensor:
        self.fields.append(field)
        return torch.tensor([REF[field][i] for i in batch["index"].tolist()])


def batch(**extra: object) -> dict[str, object]:
    return {"forget": FORGET, "retain": RETAIN, "forget_fields": {"alternate": ALTERNATE}, **extra}


def test_dpo_defaults_are_open_unlearnings() -> None:
    assert DPO().args == {"beta": 0.1, "alpha": 1.0, "gamma": 1.0, "retain_loss_type": "NLL", "compat": "none"}
    assert IdkNLL().args == {"alpha": 1.0, "gamma": 1.0, "retain_loss_type": "NLL"}


def test_dpo_golden_loss_with_nll_retain() -> None:
    reference = FakeReference()
    out = DPO().compute_loss(TableModel(P), batch(), reference)
    assert out.loss.item() == pytest.approx(dpo_by_hand(0.1) + CE_RETAIN, abs=1e-5)
    assert out.terms["forget_loss"] == pytest.approx(dpo_by_hand(0.1), abs=1e-5)
    assert out.terms["retain_loss"] == pytest.approx(CE_RETAIN, abs=1e-6)
    margins = [(w - REF["alternate"][i]) - (lo - REF[FORGET_FIELD][i]) for w, lo, i in zip(WIN, LOSE, (4, 7))]
    assert out.stats == {"margin": pytest.approx(sum(margins) / 2, abs=1e-5)}
    assert sorted(reference.fields) == ["alternate", FORGET_FIELD]
    assert reference.logits_calls == 0


def test_dpo_weights_beta_and_kl_retain() -> None:
    reference = FakeReference()
    model = TableModel(P)
    out = DPO(beta=0.5, gamma=2.0, alpha=0.25, retain_loss_type="KL").compute_loss(model, batch(), reference)
    assert out.loss.item() == pytest.approx(2.0 * dpo_by_hand(0.5) + 0.25 * KL_RETAIN, abs=1e-5)
    assert reference.logits_calls == 1
    out.loss.backward()
    assert model.embed.weight.grad is not None and model.embed.weight.grad.abs().sum() > 0
    assert reference.model.embed.weight.grad is None


def test_dpo_step_prefers_the_alternate_over_the_forget_answer() -> None:
    from unlearn_core.losses import model_logits, sequence_nll

    model = TableModel(P)
    DPO(alpha=0.0).compute_loss(model, batch(), FakeReference()).loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    with torch.no_grad():
        lose, _ = sequence_nll(model_logits(model, FORGET), FORGET["labels"])
        win, _ = sequence_nll(model_logits(model, ALTERNATE), ALTERNATE["labels"])
    margin_before = [w - lo for w, lo in zip(WIN, LOSE)]
    assert all(after > before for after, before in zip((lose - win).tolist(), margin_before))


def test_idknll_golden_loss() -> None:
    reference = FakeReference()
    out = IdkNLL(gamma=2.0, alpha=0.5).compute_loss(TableModel(P), batch(), reference)
    assert out.loss.item() == pytest.approx(2.0 * IDK_NLL + 0.5 * CE_RETAIN, abs=1e-6)
    assert out.terms == {
        "forget_loss": pytest.approx(IDK_NLL, abs=1e-6),
        "retain_loss": pytest.approx(CE_RETAIN, abs=1e-6),
    }
    assert reference.fields == [] and reference.logits_calls == 0


def test_terms_are_shares_of_the_effective_batch() -> None:
    # the runner's totals: this micro-batch is part of an effective batch of 8 forget rows, 20 alternate tokens, and
    # 6 retain target tokens; each term is this batch's sum over that count
    totals = BatchTotals({"forget.samples": 8.0, "alternate.tokens": 20.0, "retain.tokens": 6.0})
    dpo = DPO().compute_loss(TableModel(P), batch(totals=totals), FakeReference())
    assert dpo.terms["forget_loss"] == pytest.approx(dpo_by_hand(0.1) * 2 / 8, abs=1e-5)
    assert dpo.terms["retain_loss"] == pytest.approx(CE_RETAIN * 2 / 6, abs=1e-6)
    idk = IdkNLL().compute_loss(TableModel(P), batch(totals=totals), FakeReference())
    assert idk.terms["forget_loss"] == pytest.approx(IDK_NLL * ALTERNATE_TOKENS / 20, abs=1e-6)


def test_compat_open_unlearning_takes_kl_over_every_position_and_micro_batch_means() -> None:
    method = DPO(retain_loss_type="KL", compat="open-unlearning")
    assert method.normalization() == "micro-batch"
    assert DPO().normalization() == IdkNLL().normalization() == "effective"
    out = method.compute_loss(TableModel(P), batch(), FakeReference())
    assert out.terms["retain_loss"] == pytest.approx(KL_EVERY_POSITION, abs=1e-6)
    assert out.loss.item() == pytest.approx(dpo_by_hand(0.1) + KL_EVERY_POSITION, abs=1e-5)
    assert abs(KL_EVERY_POSITION - KL_RETAIN) > 0.05
    # with the NLL retain loss open-unlearning's numbers are this package's
    plain = DPO(compat="open-unlearning").compute_loss(TableModel(P), batch(), FakeReference())
    assert plain.loss.item() == pytest.approx(dpo_by_hand(0.1) + CE_RETAIN, abs=1e-5)


def test_declared_needs() -> None:
    assert DPO().forget_fields() == IdkNLL().forget_fields() == ("alternate",)
    assert DPO().reference_logprob_fields() == (FORGET_FIELD, "alternate")
    assert IdkNLL().reference_logprob_fields() == ()
    assert not DPO().needs_reference_model() and not IdkNLL().needs_reference_model()
    assert DPO(retain_loss_type="KL").needs_reference_model() and IdkNLL(retain_loss_type="KL").needs_reference_model()
    assert DPO.choices == {"retain_loss_type": ("NLL", "KL"), "compat": ("none", "open-unlearning")}


@pytest.mark.parametrize("beta", [0.0, -0.1])
def test_a_beta_that_is_not_positive_is_refused(beta: float) -> None:
    with pytest.raises(ConfigError, match=r"trainer\.method_args\.beta must be positive for DPO.*got"):
        DPO(beta=beta)


def test_registration_through_the_hook() -> None:
    registry = methods_registered_by(plugin)
    assert registry.names() == ["DPO", "IdkNLL"]
    assert registry.get("dpo") is registry.get("IdkDPO") is registry.get("idkdpo") is DPO
    assert registry.get("idknll") is IdkNLL


def test_plugin_module_imports_only_the_hook_marker() -> None:
    assert_plugin_module_imports_only_the_hook_marker(plugin)


@pytest.mark.parametrize(
    ("extras", "said"),
    [((), "it has no other field"), ((("paraphrase", Tokenized((1,), (2,), 0)),), "its fields: paraphrase")],
)
def test_forget_data_without_the_alternate_answers_is_refused_in_one_line(extras, said) -> None:
    from unlearn_core.training.method_hooks import check_method_needs

    forget = [Tokenized((1, 2), (3,), 0, extras)]
    with pytest.raises(ConfigError) as refused:
        check_method_needs(DPO(), TableModel(P), forget)
    message = str(refused.value)
    assert "method 'DPO' reads the forget field 'alternate'" in message and f"({said})" in message
    assert "\n" not in message and "data.forget=" in message
