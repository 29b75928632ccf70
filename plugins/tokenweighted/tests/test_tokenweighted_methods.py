"""WGA, SatImp and CEU as methods: golden losses, retain terms, compat mode, CE-U's own count, errors, registration.

The stub model's logits at a position depend only on the input token there: ``log P[token]`` (the reference model:
``log R[token]``), so every probability below is a number of a table.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from support.plugin_checks import assert_plugin_module_imports_only_the_hook_marker, methods_registered_by
from support.table_golden import CE_RETAIN, KL_EVERY_POSITION, KL_RETAIN, RETAIN, P, TableReference
from support.table_model import TableModel
from unlearn_tokenweighted import plugin
from unlearn_tokenweighted.methods import CEU, WGA, SatImp

from unlearn_core.errors import ConfigError
from unlearn_core.normalization import BatchTotals

FORGET = {
    "input_ids": torch.tensor([[0, 1, 2, 2, 2], [2, 2, 1, 0, 2]]),
    "attention_mask": torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]),
    "labels": torch.tensor([[-100, 1, 2, -100, -100], [-100, -100, 1, 0, 2]]),
    "index": torch.tensor([4, 7]),
}
TARGET_PROBS = [0.3, 0.3, 0.25, 0.1, 0.2]


def weighted(weight: Callable[[float], float]) -> float:
    """-mean_t w(p_t) * (-log p_t) over the five forget targets."""
    return -sum(weight(p) * -math.log(p) for p in TARGET_PROBS) / 5


WGA_FORGET = weighted(lambda p: p)
SATIMP_FORGET = weighted(lambda p: p**5 * (1 - p))
# CE-U without each row's first answer token: (input 1, label 2), (input 1, label 0), (input 0, label 2)
CEU_FORGET = (
    -(0.1 / 0.7 * math.log(0.1) + 0.6 / 0.7 * math.log(0.6))
    - (0.6 / 0.9 * math.log(0.6) + 0.3 / 0.9 * math.log(0.3))
    - (0.5 / 0.8 * math.log(0.5) + 0.3 / 0.8 * math.log(0.3))
) / 3


FakeReference = TableReference


def batch(**extra: object) -> dict[str, object]:
    return {"forget": FORGET, "retain": RETAIN, **extra}


def test_defaults_are_open_unlearnings() -> None:
    assert WGA().args == {"beta": 1.0, "alpha": 1.0, "gamma": 1.0, "retain_loss_type": "NLL", "compat": "none"}
    assert SatImp().args == {
        "beta1": 5.0,
        "beta2": 1.0,
        "alpha": 1.0,
        "gamma": 0.1,
        "retain_loss_type": "NLL",
        "compat": "none",
    }
    assert CEU().args == {"ignore_first_n_answer_tokens": 1, "compat": "none"}


def test_wga_golden_loss_and_logs() -> None:
    reference = FakeReference()
    out = WGA().compute_loss(TableModel(P), batch(), reference)
    assert out.loss.item() == pytest.approx(WGA_FORGET + CE_RETAIN, abs=1e-6)
    assert out.terms == {
        "forget_loss": pytest.approx(WGA_FORGET, abs=1e-6),
        "retain_loss": pytest.approx(CE_RETAIN, abs=1e-6),
    }
    assert out.stats == {"mean_weight": pytest.approx(sum(TARGET_PROBS) / 5, abs=1e-6)}
    assert reference.logits_calls == 0


def test_satimp_golden_loss_with_kl_retain() -> None:
    reference = FakeReference()
    model = TableModel(P)
    out = SatImp(gamma=2.0, alpha=0.5, retain_loss_type="KL").compute_loss(model, batch(), reference)
    assert out.loss.item() == pytest.approx(2.0 * SATIMP_FORGET + 0.5 * KL_RETAIN, abs=1e-6)
    assert out.terms["retain_loss"] == pytest.approx(KL_RETAIN, abs=1e-6)
    assert reference.logits_calls == 1
    out.loss.backward()
    assert model.embed.weight.grad is not None and reference.model.embed.weight.grad is None


def test_satimp_default_gamma_weighs_the_forget_term() -> None:
    out = SatImp().compute_loss(TableModel(P), batch(), FakeReference())
    assert out.loss.item() == pytest.approx(0.1 * SATIMP_FORGET + CE_RETAIN, abs=1e-6)


def test_ceu_golden_loss_uses_no_retain_data() -> None:
    model = TableModel(P)
    out = CEU().compute_loss(model, {"forget": FORGET, "retain": None}, FakeReference())
    assert out.loss.item() == pytest.approx(CEU_FORGET, abs=1e-6)
    assert out.terms == {"forget_loss": pytest.approx(CEU_FORGET, abs=1e-6)}
    assert not CEU().needs_reference_model()


def test_ceu_counts_the_tokens_it_averages_over() -> None:
    counts = CEU().unit_counts(batch())
    assert counts["forget.ceu_tokens"] == 3.0 and counts["forget.tokens"] == 5.0
    assert CEU(ignore_first_n_answer_tokens=0).unit_counts(batch())["forget.ceu_tokens"] == 5.0
    totals = BatchTotals({**counts, "forget.ceu_tokens": 12.0})
    out = CEU().compute_loss(TableModel(P), batch(totals=totals), FakeReference())
    assert out.terms["forget_loss"] == pytest.approx(CEU_FORGET * 3 / 12, abs=1e-6)


def test_terms_are_shares_of_the_effective_batch() -> None:
    totals = BatchTotals({"forget.tokens": 20.0, "retain.tokens": 8.0})
    out = WGA().compute_loss(TableModel(P), batch(totals=totals), FakeReference())
    assert out.terms["forget_loss"] == pytest.approx(WGA_FORGET * 5 / 20, abs=1e-6)
    assert out.terms["retain_loss"] == pytest.approx(CE_RETAIN * 2 / 8, abs=1e-6)


def test_compat_open_unlearning() -> None:
    for method in (WGA, SatImp, CEU):
        assert method().normalization() == "effective"
        assert method(compat="open-unlearning").normalization() == "micro-batch"
    out = WGA(retain_loss_type="KL", compat="open-unlearning").compute_loss(TableModel(P), batch(), FakeReference())
    assert out.terms["retain_loss"] == pytest.approx(KL_EVERY_POSITION, abs=1e-6)
    assert out.loss.item() == pytest.approx(WGA_FORGET + KL_EVERY_POSITION, abs=1e-6)
    nll = WGA(compat="open-unlearning").compute_loss(TableModel(P), batch(), FakeReference())
    assert nll.loss.item() == pytest.approx(WGA_FORGET + CE_RETAIN, abs=1e-6)


def test_a_step_lowers_the_forget_probabilities() -> None:
    from unlearn_core.losses import model_logits, sequence_nll

    for method in (WGA(alpha=0.0), SatImp(alpha=0.0, gamma=1.0), CEU()):
        model = TableModel(P)
        with torch.no_grad():
            before, _ = sequence_nll(model_logits(model, FORGET), FORGET["labels"])
        method.compute_loss(model, batch(), FakeReference()).loss.backward()
        torch.optim.SGD(model.parameters(), lr=1.0).step()
        with torch.no_grad():
            after, _ = sequence_nll(model_logits(model, FORGET), FORGET["labels"])
        assert (after > before).all(), method.name


@pytest.mark.parametrize(
    ("method", "args", "message"),
    [
        (WGA, {"beta": -1.0}, r"trainer\.method_args\.beta must be at least 0\.0 for WGA, got -1\.0"),
        (SatImp, {"beta2": -0.5}, r"trainer\.method_args\.beta2 must be at least 0\.0 for SatImp"),
        (CEU, {"ignore_first_n_answer_tokens": -1}, r"ignore_first_n_answer_tokens must be at least 0 for CEU"),
    ],
)
def test_bad_values_are_refused(method: type, args: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        method(**args)


def test_choices() -> None:
    assert WGA.choices == SatImp.choices == {"retain_loss_type": ("NLL", "KL"), "compat": ("none", "open-unlearning")}
    assert CEU.choices == {"compat": ("none", "open-unlearning")}


def test_registration_through_the_hook() -> None:
    registry = methods_registered_by(plugin)
    assert registry.names() == ["CEU", "SatImp", "WGA"]
    assert registry.get("wga") is WGA and registry.get("satimp") is SatImp
    assert registry.get("ceu") is registry.get("CE-U") is CEU


def test_plugin_module_imports_only_the_hook_marker() -> None:
    assert_plugin_module_imports_only_the_hook_marker(plugin)
