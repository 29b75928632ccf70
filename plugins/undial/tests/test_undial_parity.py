"""UNDIAL with ``compat=open-unlearning`` against open-unlearning's own first-step loss on one fixed batch (measured
by running it; ``tests/parity/fixtures/methods/undial.json``), and the paper's formula differing from it there."""

from __future__ import annotations

import pytest
import torch
from parity.method_cases import ModelReference, batch_of, fixture_model, load_cases, method_args
from unlearn_undial.method import UNDIAL

FIXTURE = load_cases("undial")
REL = 1e-5


@pytest.fixture(scope="module")
def models() -> dict[str, torch.nn.Module]:
    return {name: fixture_model(name) for name in ("target", "retain")}


@pytest.mark.parametrize("name", sorted(FIXTURE["cases"]))
def test_compat_reproduces_open_unlearnings_first_step_loss(models, name):
    case = FIXTURE["cases"][name]
    reference = ModelReference(models[case["reference"]])
    out = UNDIAL(**method_args(case)).compute_loss(models["target"], batch_of(FIXTURE), reference)
    assert out.loss.item() == pytest.approx(case["loss"], rel=REL)
    assert out.terms["forget_loss"] == pytest.approx(case["logged"]["forget_loss"], rel=REL)
    if case["method_args"]["alpha"]:
        assert out.terms["retain_loss"] == pytest.approx(case["logged"]["retain_loss"], rel=REL)
    else:
        assert "retain_loss" not in out.terms  # alpha = 0: the retain batch is not run


def test_the_paper_formula_differs_from_the_mean_over_every_position(models):
    """The batch is padded and prompted: the mean over target tokens is not the mean over all positions."""
    case = FIXTURE["cases"]["default"]
    reference = ModelReference(models["target"])
    method = UNDIAL(**{**method_args(case), "compat": "none"})
    paper = method.compute_loss(models["target"], batch_of(FIXTURE), reference)
    assert paper.terms["forget_loss"] > 1.5 * case["logged"]["forget_loss"]
