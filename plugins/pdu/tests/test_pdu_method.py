"""PDU: golden primal loss on a table model, the dual variable's updates (per step, per epoch, warm-up, clamp),
state, argument checks and registration."""

from __future__ import annotations

import math

import pytest
import torch
from support.plugin_checks import assert_plugin_module_imports_only_the_hook_marker, methods_registered_by
from support.table_model import TableModel
from unlearn_pdu import plugin
from unlearn_pdu.method import PDU

from unlearn_core.errors import ConfigError
from unlearn_core.normalization import TOTALS_KEY, BatchTotals

# logits (not probabilities) after tokens 0, 1, 2: flattening gaps (max - mean)^2 = 4, 4, 0
Z = [[3.0, 0.0, 0.0], [1.0, 1.0, 4.0], [2.0, 2.0, 2.0]]
GAP = [4.0, 4.0, 0.0]
FORGET = {  # targets predicted after tokens 1, 0 (row 0) and 2 (row 1); own labels at positions 2, 3 and 1
    "input_ids": torch.tensor([[2, 1, 0, 1], [1, 2, 0, 0]]),
    "attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]]),
    "labels": torch.tensor([[-100, -100, 0, 1], [-100, 2, -100, -100]]),
    "index": torch.tensor([0, 1]),
}
FLAT = (GAP[1] + GAP[0] + GAP[1]) / 3  # positions 1, 2 of row 0 and 0 of row 1 predict the targets
FLAT_OU = (GAP[0] + GAP[1] + GAP[2]) / 3  # the answer positions themselves: tokens 0, 1 (row 0) and 2 (row 1)
RETAIN = {  # targets after tokens 1 and 0
    "input_ids": torch.tensor([[2, 1, 0, 2]]),
    "attention_mask": torch.tensor([[1, 1, 1, 1]]),
    "labels": torch.tensor([[-100, -100, 0, 2]]),
    "index": torch.tensor([5]),
}


def log_softmax(z: list[float], k: int) -> float:
    return z[k] - math.log(sum(math.exp(v) for v in z))


NLL = -(log_softmax(Z[1], 0) + log_softmax(Z[0], 2)) / 2


def table_model() -> TableModel:
    """The model whose logits after token ``k`` are ``Z[k]``."""
    return TableModel(Z, probabilities=False)


class Epoch:
    """An ``EpochEnd`` whose batches are given."""

    def __init__(self, epoch: int, batches: list[dict]) -> None:
        self.epoch, self.step, self.reference, self.batches = epoch, 0, None, batches

    def mean(self, value):  # noqa: ANN001, ANN201
        with torch.no_grad():  # as the runner's
            return sum(float(value(table_model(), b)) for b in self.batches) / len(self.batches)


def batch() -> dict[str, dict[str, torch.Tensor]]:
    return {"forget": FORGET, "retain": RETAIN}


def test_defaults_are_open_unlearnings_with_eps_required():
    assert PDU.defaults == {
        "retain_loss_eps": None,
        "primal_dual": True,
        "dual_step_size": 1.0,
        "dual_update_upon": "step",
        "dual_warmup_epochs": 5,
        "gamma": 1.0,
        "alpha": 1.0,
        "retain_loss_type": "NLL",
        "compat": "none",
    }
    with pytest.raises(ConfigError, match=r"set trainer.method_args.retain_loss_eps=NUMBER") as refused:
        PDU()
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ({"retain_loss_eps": "low"}, "'trainer.method_args.retain_loss_eps' must be a number, got 'low'"),
        ({"retain_loss_eps": 1.0, "dual_step_size": -1.0}, "dual_step_size' must be at least 0, got -1.0"),
        ({"retain_loss_eps": 1.0, "alpha": -0.5}, "'trainer.method_args.alpha' must be at least 0"),
    ],
)
def test_bad_values_are_one_line_errors(args, named):
    with pytest.raises(ConfigError, match=named):
        PDU(**args)


def test_primal_loss_at_the_dual_variable():
    out = PDU(retain_loss_eps=0.5, gamma=2.0, alpha=3.0).compute_loss(table_model(), batch(), None)
    assert out.terms == pytest.approx({"forget_loss": FLAT, "retain_loss": NLL})
    assert out.stats == {"retain_preference": 3.0}
    assert out.loss.item() == pytest.approx(2.0 * FLAT + 3.0 * (NLL - 0.5))


def test_compat_scores_the_answer_positions():
    method = PDU(retain_loss_eps=0.5, compat="open-unlearning")
    assert method.compute_loss(table_model(), batch(), None).terms["forget_loss"] == pytest.approx(FLAT_OU)
    assert method.unit_counts(batch())["forget.labelled"] == 3.0
    assert method.normalization() == "effective"
    assert PDU(retain_loss_eps=0.5, compat="open-unlearning", retain_loss_type="KL").normalization() == "whole-batch"


def test_shares_with_the_effective_batchs_totals_add_up_eps_included():
    method = PDU(retain_loss_eps=0.5)
    whole = method.compute_loss(table_model(), batch(), None)
    halves = {"forget": FORGET, "retain": {k: torch.cat([v, v]) for k, v in RETAIN.items()}}
    totals = BatchTotals(method.unit_counts(halves))  # the same retain row twice: two micro-batches of one each
    parts = [method.compute_loss(table_model(), {"forget": FORGET, "retain": RETAIN, TOTALS_KEY: totals}, None)]
    parts.append(method.compute_loss(table_model(), {"forget": FORGET, "retain": RETAIN, TOTALS_KEY: totals}, None))
    assert sum(p.terms["retain_loss"] for p in parts) == pytest.approx(whole.terms["retain_loss"])
    forget_shares = sum(p.terms["forget_loss"] for p in parts)  # the forget rows counted once in totals: 2x FLAT
    assert forget_shares == pytest.approx(2 * FLAT)
    assert sum(p.loss.item() for p in parts) == pytest.approx(2 * FLAT + (NLL - 0.5))


def test_the_dual_variable_rises_after_each_step_once_warm_up_is_over():
    method = PDU(retain_loss_eps=0.5, dual_step_size=0.5, dual_warmup_epochs=1)
    method.on_step_end(1, {"retain_loss": 2.5})
    assert method.dual == 1.0  # still warming up
    method.on_epoch_end(Epoch(1, []))
    method.on_step_end(2, {"retain_loss": 2.5})
    assert method.dual == pytest.approx(1.0 + 0.5 * 2.0)
    method.on_step_end(3, {"retain_loss": 0.0})
    assert method.dual == pytest.approx(2.0 - 0.25)
    method.on_step_end(4, {"retain_loss": -10.0})
    assert method.dual == 0.0  # lambda >= 0
    assert method.state_dict() == {"dual": 0.0, "epochs_done": 1}


def test_the_dual_variable_rises_after_each_epoch_on_the_mean_retain_loss():
    method = PDU(retain_loss_eps=0.5, dual_update_upon="epoch", dual_warmup_epochs=0, alpha=0.0)
    method.on_step_end(1, {"retain_loss": 9.0})
    assert method.dual == 0.0
    method.on_epoch_end(Epoch(1, [batch(), batch()]))
    assert method.dual == pytest.approx(NLL - 0.5)
    assert method.epochs_done == 1


def test_without_primal_dual_the_weight_stays_alpha():
    method = PDU(retain_loss_eps=0.5, primal_dual=False, dual_warmup_epochs=0, alpha=2.0)
    method.on_step_end(1, {"retain_loss": 3.0})
    method.on_epoch_end(Epoch(1, [batch()]))
    assert method.dual == 2.0


def test_state_round_trip():
    method = PDU(retain_loss_eps=0.5)
    method.load_state_dict({"dual": 0.75, "epochs_done": 6})
    assert method.state_dict() == {"dual": 0.75, "epochs_done": 6}
    assert method.compute_loss(table_model(), batch(), None).stats == {"retain_preference": 0.75}


def test_registration_through_the_hook():
    registry = methods_registered_by(plugin)
    assert registry.names() == ["PDU"]
    assert registry.get("pdu") is PDU


def test_plugin_module_imports_only_the_hook_marker():
    assert_plugin_module_imports_only_the_hook_marker(plugin)
