"""UNDIAL: golden losses on a table model (logits at a position depend only on the input token there), the retain
term only when alpha != 0, its needs and registration."""

from __future__ import annotations

import math

import pytest
import torch
from support.plugin_checks import assert_plugin_module_imports_only_the_hook_marker, methods_registered_by
from support.table_model import TableModel
from unlearn_undial import plugin
from unlearn_undial.method import UNDIAL

from unlearn_core.errors import ConfigError
from unlearn_core.losses import kl_every_position, kl_on_targets, mean_token_nll

P = [[0.5, 0.25, 0.25], [0.1, 0.1, 0.8], [0.25, 0.25, 0.5]]  # model: next-token probabilities after 0, 1, 2
R = [[0.5, 0.25, 0.25], [0.2, 0.4, 0.4], [0.6, 0.2, 0.2]]  # reference model
LN4 = math.log(4)

# forget targets: after token 0 -> 0, after token 1 -> 2 (row 0); after token 2 -> 1 (row 1)
FORGET = {
    "input_ids": torch.tensor([[2, 0, 1, 0], [0, 2, 1, 1]]),
    "attention_mask": torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]]),
    "labels": torch.tensor([[-100, -100, 0, 2], [-100, -100, 1, -100]]),
    "index": torch.tensor([0, 1]),
}
RETAIN = {
    "input_ids": torch.tensor([[2, 1, 0, 2]]),
    "attention_mask": torch.tensor([[1, 1, 1, 1]]),
    "labels": torch.tensor([[-100, -100, 0, 2]]),
    "index": torch.tensor([5]),
}


def ce(q: list[float], p: list[float]) -> float:
    return -sum(qv * math.log(pv) for qv, pv in zip(q, p))


# after token 0 (label 0): reference (0.5, 0.25, 0.25) lowered by 4 on 0 -> (0.2, 0.4, 0.4), model P[0]
# after token 1 (label 2): reference (0.2, 0.4, 0.4) lowered on 2 -> (2/7, 4/7, 1/7), model P[1]
# after token 2 (label 1): reference (0.6, 0.2, 0.2) lowered on 1 -> (0.6, 0.05, 0.2)/0.85, model P[2]
FORGET_CE = [
    ce([0.2, 0.4, 0.4], P[0]),
    ce([2 / 7, 4 / 7, 1 / 7], P[1]),
    ce([0.6 / 0.85, 0.05 / 0.85, 0.2 / 0.85], P[2]),
]
UNDIAL_LN4 = sum(FORGET_CE) / 3


class FakeReference:
    def __init__(self) -> None:
        self.model = TableModel(R)
        self.batches: list[dict[str, torch.Tensor]] = []

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        self.batches.append(batch)
        with torch.no_grad():
            return self.model(batch["input_ids"]).logits


def batch() -> dict[str, dict[str, torch.Tensor]]:
    return {"forget": FORGET, "retain": RETAIN}


def test_defaults_are_open_unlearnings():
    assert UNDIAL.defaults == {"beta": 10.0, "gamma": 1.0, "alpha": 0.0, "retain_loss_type": "NLL", "compat": "none"}
    assert UNDIAL.choices == {"retain_loss_type": ("NLL", "KL"), "compat": ("none", "open-unlearning")}


def test_forget_term_over_target_tokens_and_no_retain_pass_at_alpha_0():
    reference = FakeReference()
    out = UNDIAL(beta=LN4, gamma=2.0).compute_loss(TableModel(P), batch(), reference)
    assert out.terms == pytest.approx({"forget_loss": UNDIAL_LN4})
    assert out.loss.item() == pytest.approx(2.0 * UNDIAL_LN4)
    assert reference.batches == [FORGET]  # the teacher runs on the forget batch only


def test_nll_and_kl_retain_terms():
    model = TableModel(P)
    with torch.no_grad():
        nll = mean_token_nll(model(RETAIN["input_ids"]).logits, RETAIN["labels"]).item()
        ref_logits = TableModel(R)(RETAIN["input_ids"]).logits
        kl = kl_on_targets(ref_logits, model(RETAIN["input_ids"]).logits, RETAIN["labels"]).item()
        kl_all = kl_every_position(ref_logits, model(RETAIN["input_ids"]).logits).item()
    out = UNDIAL(beta=LN4, alpha=0.5).compute_loss(model, batch(), FakeReference())
    assert out.terms == pytest.approx({"forget_loss": UNDIAL_LN4, "retain_loss": nll})
    assert out.loss.item() == pytest.approx(UNDIAL_LN4 + 0.5 * nll)
    kl_out = UNDIAL(beta=LN4, alpha=1.0, retain_loss_type="KL").compute_loss(model, batch(), FakeReference())
    assert kl_out.terms["retain_loss"] == pytest.approx(kl)
    compat = UNDIAL(alpha=1.0, retain_loss_type="KL", compat="open-unlearning")
    with pytest.raises(ConfigError, match="100 entries or more"):  # its forget term needs a vocabulary of 100
        compat.compute_loss(model, batch(), FakeReference())
    assert compat.retain_loss(model, batch(), FakeReference()).item() == pytest.approx(kl_all)
    assert abs(kl_all - kl) > 1e-3


def test_descending_lowers_the_forget_tokens_probability():
    model = TableModel(P)
    UNDIAL().compute_loss(model, batch(), FakeReference()).loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.5).step()
    after = model.embed.weight.detach().softmax(dim=-1)
    assert after[0, 0] < 0.5 and after[1, 2] < 0.8 and after[2, 1] < 0.25


def test_needs_and_normalisation():
    assert UNDIAL().needs_reference_model() and not UNDIAL().needs_reference_logprobs()
    assert UNDIAL().normalization() == "effective"
    assert UNDIAL(compat="open-unlearning").normalization() == "whole-batch"


def test_registration_through_the_hook():
    registry = methods_registered_by(plugin)
    assert registry.names() == ["UNDIAL"]
    assert registry.get("undial") is UNDIAL


def test_plugin_module_imports_only_the_hook_marker():
    assert_plugin_module_imports_only_the_hook_marker(plugin)
