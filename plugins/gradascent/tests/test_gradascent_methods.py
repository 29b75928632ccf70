"""GradAscent and GradDiff: golden losses from hand formulas, gradients, reference needs, hook registration.

The stub model's logits at a position depend only on the input token there: a table of hand-chosen probabilities
``P[token]`` (the reference model uses ``R[token]``), so every cross-entropy below is ``-log`` of a number in a
table. Logits at position ``t`` predict the label at ``t + 1``.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from support.micro_llama import micro_llama_and_batch
from support.plugin_checks import assert_plugin_module_imports_only_the_hook_marker, methods_registered_by
from support.table_golden import CE_RETAIN, KL_RETAIN, RETAIN, P, TableReference
from support.table_model import TableModel
from unlearn_gradascent import plugin
from unlearn_gradascent.methods import GradAscent, GradDiff

# forget targets: after 0 -> 1 (0.3), after 1 -> 2 (0.3); after 2 -> 1 (0.25), after 1 -> 0 (0.1)
FORGET = {
    "input_ids": torch.tensor([[0, 1, 2, 2], [2, 2, 1, 0]]),
    "attention_mask": torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]]),
    "labels": torch.tensor([[-100, 1, 2, -100], [-100, -100, 1, 0]]),
    "index": torch.tensor([0, 1]),
}
CE_FORGET = -(math.log(0.3) + math.log(0.3) + math.log(0.25) + math.log(0.1)) / 4


class FakeReference(TableReference):
    """Reference model ``R``; counts calls so tests can check that NLL methods never use it."""

    def forget_logprobs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        raise AssertionError("gradient ascent methods never need reference log-probs")


def batch() -> dict[str, dict[str, torch.Tensor]]:
    return {"forget": FORGET, "retain": RETAIN}


def test_gradascent_is_negated_mean_token_ce_of_forget() -> None:
    reference = FakeReference()
    out = GradAscent().compute_loss(TableModel(P), batch(), reference)
    assert out.loss.item() == pytest.approx(-CE_FORGET, abs=1e-6)
    assert out.terms == {"forget_loss": pytest.approx(-CE_FORGET, abs=1e-6)}
    assert reference.logits_calls == 0


def test_gradascent_step_raises_forget_ce() -> None:
    model = TableModel(P)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    GradAscent().compute_loss(model, batch(), FakeReference()).loss.backward()
    assert model.embed.weight.grad is not None and model.embed.weight.grad.abs().sum() > 0
    optimizer.step()
    after = -GradAscent().compute_loss(model, batch(), FakeReference()).loss.item()
    assert after > CE_FORGET


def test_graddiff_defaults_nll() -> None:
    method = GradDiff()
    assert method.args == {"gamma": 1.0, "alpha": 1.0, "retain_loss_type": "NLL"}
    reference = FakeReference()
    out = method.compute_loss(TableModel(P), batch(), reference)
    assert out.loss.item() == pytest.approx(-CE_FORGET + CE_RETAIN, abs=1e-6)
    assert reference.logits_calls == 0


def test_graddiff_weights_nll() -> None:
    out = GradDiff(gamma=2.0, alpha=0.5).compute_loss(TableModel(P), batch(), FakeReference())
    assert out.loss.item() == pytest.approx(2.0 * -CE_FORGET + 0.5 * CE_RETAIN, abs=1e-6)
    assert out.terms["forget_loss"] == pytest.approx(-CE_FORGET, abs=1e-6)
    assert out.terms["retain_loss"] == pytest.approx(CE_RETAIN, abs=1e-6)


def test_graddiff_kl_on_retain_target_positions() -> None:
    reference = FakeReference()
    model = TableModel(P)
    out = GradDiff(gamma=2.0, alpha=0.5, retain_loss_type="KL").compute_loss(model, batch(), reference)
    assert out.loss.item() == pytest.approx(2.0 * -CE_FORGET + 0.5 * KL_RETAIN, abs=1e-6)
    assert out.terms["retain_loss"] == pytest.approx(KL_RETAIN, abs=1e-6)
    assert reference.logits_calls == 1
    out.loss.backward()
    assert model.embed.weight.grad is not None
    assert reference.model.embed.weight.grad is None


def test_reference_needs() -> None:
    assert not GradAscent().needs_reference_model()
    assert not GradAscent().needs_reference_logprobs()
    assert not GradDiff().needs_reference_model()
    assert GradDiff(retain_loss_type="KL").needs_reference_model()
    assert not GradDiff(retain_loss_type="KL").needs_reference_logprobs()
    assert GradDiff.choices == {"retain_loss_type": ("NLL", "KL")}


def test_registration_through_the_hook() -> None:
    registry = methods_registered_by(plugin)
    assert registry.names() == ["GradAscent", "GradDiff"]
    assert registry.get("gradascent") is GradAscent
    assert registry.get("GA") is GradAscent
    assert registry.get("graddiff") is GradDiff


def test_plugin_module_imports_only_the_hook_marker() -> None:
    assert_plugin_module_imports_only_the_hook_marker(plugin)


def test_graddiff_kl_on_tiny_llama() -> None:
    model, llama_batch = micro_llama_and_batch()
    frozen = copy.deepcopy(model).eval().requires_grad_(False)

    class LlamaReference:
        def logits(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
            with torch.no_grad():
                return frozen(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits

        def forget_logprobs(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
            raise AssertionError

    hf_ce = model(**llama_batch).loss.item()
    out = GradDiff(retain_loss_type="KL").compute_loss(
        model, {"forget": llama_batch, "retain": llama_batch}, LlamaReference()
    )
    assert out.terms["forget_loss"] == pytest.approx(-hf_ce, abs=1e-5)
    assert out.terms["retain_loss"] == pytest.approx(0.0, abs=1e-6)  # nothing has changed yet
    out.loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.lm_head.weight.grad.abs().sum() > 0
