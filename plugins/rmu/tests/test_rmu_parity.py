"""RMU with ``compat=open-unlearning`` against open-unlearning's own first-step loss on one fixed batch (measured by
running it; ``tests/parity/fixtures/methods/rmu.json``), and the paper's formula differing from it there."""

from __future__ import annotations

import pytest
import torch
from parity.method_cases import ModelReference, batch_of, fixture_model, load_cases, method_args
from unlearn_rmu.method import RMU

FIXTURE = load_cases("rmu")
REL = 1e-5


@pytest.fixture(scope="module")
def models() -> dict[str, torch.nn.Module]:
    return {name: fixture_model(name) for name in ("target", "retain")}


def method_for(case: dict, **changes: object) -> RMU:
    method = RMU(**{**method_args(case), **changes})
    method.load_state_dict({"control_vector": torch.tensor(case["control_vector"])})  # the vector it drew
    return method


@pytest.mark.parametrize("name", sorted(FIXTURE["cases"]))
def test_compat_reproduces_open_unlearnings_first_step_loss(models, name):
    case = FIXTURE["cases"][name]
    reference = ModelReference(models[case["reference"]])
    out = method_for(case).compute_loss(models["target"], batch_of(FIXTURE), reference)
    assert out.loss.item() == pytest.approx(case["loss"], rel=REL)
    assert out.terms["retain_loss"] == pytest.approx(case["logged"]["retain_loss"], rel=REL, abs=1e-7)
    forget = case["loss"] - case["method_args"]["alpha"] * case["logged"]["retain_loss"]
    assert out.terms["forget_loss"] == pytest.approx(forget, rel=REL)


def test_the_paper_formula_differs_from_the_broadcast_mean(models):
    """Rows of different answer lengths: ``mean_i S_i/n_i`` is not ``mean_i S_i * mean_j 1/n_j``."""
    case = FIXTURE["cases"]["embed_diff_vs_retain"]
    reference = ModelReference(models["retain"])
    paper = method_for(case, compat="none").compute_loss(models["target"], batch_of(FIXTURE), reference)
    compat = method_for(case).compute_loss(models["target"], batch_of(FIXTURE), reference)
    assert abs(paper.terms["forget_loss"] - compat.terms["forget_loss"]) > 1e-3 * compat.terms["forget_loss"]
    assert abs(paper.terms["retain_loss"] - compat.terms["retain_loss"]) > 1e-3 * compat.terms["retain_loss"]
