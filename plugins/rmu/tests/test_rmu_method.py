"""RMU: golden losses on a toy model whose hidden states are hand-chosen, its needs, state and argument checks.

The toy model's layer ``model.layers.0`` is an embedding, so the hidden state at a position is a hand-chosen row
``H[token]``; the reference model's rows are ``R[token]``. The control vector is set to ``(3, 4)``.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from support.plugin_checks import assert_plugin_module_imports_only_the_hook_marker, methods_registered_by
from unlearn_rmu import plugin
from unlearn_rmu.method import RMU

from unlearn_core import module_outputs
from unlearn_core.errors import ConfigError
from unlearn_core.normalization import TOTALS_KEY, BatchTotals, standard_counts

H = [[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]]  # model: hidden state of tokens 0, 1, 2
R = [[1.0, 1.0], [2.0, 2.0], [3.0, 1.0]]  # reference model
CONTROL = torch.tensor([3.0, 4.0])
# squared error to the control vector, averaged over the 2 units: token 0 -> 10, token 1 -> 6.5, token 2 -> 0.5
TO_CONTROL = {0: 10.0, 1: 6.5, 2: 0.5}
# squared error to the reference: token 0 -> (0 + 1)/2 = 0.5, token 1 -> (4 + 0)/2 = 2, token 2 -> (0 + 4)/2 = 2
TO_REFERENCE = {0: 0.5, 1: 2.0, 2: 2.0}

# forget row 0 scores positions 1, 2 (tokens 1, 2); row 1 positions 0..3 (tokens 2, 2, 1, 0)
FORGET = {
    "input_ids": torch.tensor([[0, 1, 2, 0], [2, 2, 1, 0]]),
    "attention_mask": torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]]),
    "labels": torch.tensor([[-100, 1, 2, -100], [2, 2, 1, 0]]),
    "index": torch.tensor([0, 1]),
}
FORGET_ROWS = [(6.5 + 0.5) / 2, (0.5 + 0.5 + 6.5 + 10.0) / 4]  # 3.5, 4.375
# retain row scores positions 2, 3 (tokens 0, 1)
RETAIN = {
    "input_ids": torch.tensor([[2, 1, 0, 1]]),
    "attention_mask": torch.tensor([[1, 1, 1, 1]]),
    "labels": torch.tensor([[-100, -100, 0, 1]]),
    "index": torch.tensor([5]),
}
RETAIN_ROW = (0.5 + 2.0) / 2


class Toy(torch.nn.Module):
    """``model.layers.0`` (embedding rows ``table``), ``model.layers.1`` (linear) and a linear head to 3 tokens."""

    def __init__(self, table: list[list[float]]) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.model = torch.nn.Module()
        self.model.layers = torch.nn.ModuleList([torch.nn.Embedding(3, 2), torch.nn.Linear(2, 2)])
        self.lm_head = torch.nn.Linear(2, 3)
        with torch.no_grad():
            self.model.layers[0].weight.copy_(torch.tensor(table))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> SimpleNamespace:
        return SimpleNamespace(logits=self.lm_head(self.model.layers[1](self.model.layers[0](input_ids))))


class FakeReference:
    """The frozen reference model ``R``."""

    def __init__(self) -> None:
        self.model = Toy(R)

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            return self.model(batch["input_ids"]).logits

    def module_outputs(self, batch: dict[str, torch.Tensor], pattern: str) -> object:
        with torch.no_grad():
            return module_outputs(self.model, batch, pattern)


def rmu(**args: object) -> RMU:
    method = RMU(module_regex=r"model\.layers\.0", **args)
    method.load_state_dict({"control_vector": CONTROL})
    return method


def test_defaults_are_open_unlearnings():
    assert RMU.defaults == {
        "gamma": 1.0,
        "steering_coeff": 2.0,
        "retain_loss_type": "EMBED_DIFF",
        "alpha": 1.0,
        "module_regex": r"model\.layers\.7",
        "trainable_params_regex": [".*"],
        "control_seed": 0,
        "compat": "none",
    }
    assert RMU.choices == {"retain_loss_type": ("EMBED_DIFF", "NLL", "KL"), "compat": ("none", "open-unlearning")}


def test_default_loss_is_the_mean_of_row_means():
    out = rmu(gamma=2.0, alpha=0.5).compute_loss(Toy(H), {"forget": FORGET, "retain": RETAIN}, FakeReference())
    forget = sum(FORGET_ROWS) / 2  # 3.9375
    assert out.terms == pytest.approx({"forget_loss": forget, "retain_loss": RETAIN_ROW})
    assert out.loss.item() == pytest.approx(2.0 * forget + 0.5 * RETAIN_ROW)


def test_compat_is_open_unlearnings_broadcast_mean():
    out = rmu(compat="open-unlearning").compute_loss(Toy(H), {"forget": FORGET, "retain": RETAIN}, FakeReference())
    sums, counts = [6.5 + 0.5, 0.5 + 0.5 + 6.5 + 10.0], [2, 4]
    forget = sum(sums) / 2 * sum(1 / n for n in counts) / 2  # 12.25 * 0.375
    assert out.terms["forget_loss"] == pytest.approx(forget)
    assert out.terms["retain_loss"] == pytest.approx(RETAIN_ROW)  # one row: the broadcast changes nothing


def test_shares_of_micro_batches_add_up_to_the_whole_batch():
    """With the effective batch's totals each micro-batch's loss is its share: split rows add up to the whole."""
    whole = {"forget": FORGET, "retain": RETAIN}
    totals = BatchTotals(standard_counts(whole))
    total = 0.0
    for row in (0, 1):
        part = {"forget": {k: v[row : row + 1] for k, v in FORGET.items()}, "retain": RETAIN, TOTALS_KEY: totals}
        out = rmu().compute_loss(Toy(H), part, FakeReference())
        total += out.terms["forget_loss"]
    assert total == pytest.approx(sum(FORGET_ROWS) / 2)


def test_gradient_reaches_the_hooked_layer_and_the_ones_before_only():
    model = Toy(H)
    rmu(alpha=0.0).compute_loss(model, {"forget": FORGET, "retain": RETAIN}, FakeReference()).loss.backward()
    assert model.model.layers[0].weight.grad is not None
    assert model.model.layers[1].weight.grad is None and model.lm_head.weight.grad is None


def test_nll_and_kl_retain_losses():
    from unlearn_core.losses import kl_on_targets, mean_token_nll

    model, reference, batch = Toy(H), FakeReference(), {"forget": FORGET, "retain": RETAIN}
    with torch.no_grad():
        nll = mean_token_nll(model(RETAIN["input_ids"]).logits, RETAIN["labels"]).item()
        kl = kl_on_targets(reference.logits(RETAIN), model(RETAIN["input_ids"]).logits, RETAIN["labels"]).item()
    assert rmu(retain_loss_type="NLL").compute_loss(model, batch, reference).terms["retain_loss"] == pytest.approx(nll)
    assert rmu(retain_loss_type="KL").compute_loss(model, batch, reference).terms["retain_loss"] == pytest.approx(kl)
    assert not RMU(retain_loss_type="NLL").needs_reference_model()
    assert RMU().needs_reference_model() and RMU(retain_loss_type="KL").needs_reference_model()


def test_needs_and_normalisation():
    method = RMU(module_regex=r"model\.layers\.3", trainable_params_regex=[r"model\.layers\.(2|3)\.mlp\..*"])
    assert method.hidden_state_modules() == (r"model\.layers\.3",)
    assert method.trainable_parameters() == (r"model\.layers\.(2|3)\.mlp\..*",)
    assert method.normalization() == "effective"
    assert RMU(compat="open-unlearning").normalization() == "whole-batch"


def test_control_vector_is_drawn_once_from_its_seed_and_kept_in_the_state():
    from unlearn_rmu.losses import control_vector

    method = RMU(module_regex=r"model\.layers\.0", steering_coeff=5.0, control_seed=3)
    assert method.state_dict() == {}
    method.compute_loss(Toy(H), {"forget": FORGET, "retain": RETAIN}, FakeReference())
    state = method.state_dict()
    assert torch.equal(state["control_vector"], control_vector(2, 5.0, 3))
    again = RMU(module_regex=r"model\.layers\.0", control_seed=99)
    again.load_state_dict(state)
    assert torch.equal(again.control_vector(2), state["control_vector"])
    with pytest.raises(ConfigError, match="2 units but the layer has 4"):
        again.control_vector(4)


def test_a_pattern_matching_several_modules_is_a_one_line_error():
    method = RMU(module_regex=r"model\.layers\.\d")
    with pytest.raises(ConfigError, match=r"matches 2: model\.layers\.0, model\.layers\.1"):
        method.compute_loss(Toy(H), {"forget": FORGET, "retain": RETAIN}, FakeReference())


@pytest.mark.parametrize("bad", [[], "model.layers.7", [3]])
def test_trainable_params_regex_must_be_a_list_of_patterns(bad):
    with pytest.raises(ConfigError, match="trainable_params_regex' must be a non-empty list"):
        RMU(trainable_params_regex=bad)


def test_registration_through_the_hook():
    registry = methods_registered_by(plugin)
    assert registry.names() == ["RMU"]
    assert registry.get("rmu") is RMU


def test_plugin_module_imports_only_the_hook_marker():
    assert_plugin_module_imports_only_the_hook_marker(plugin)
