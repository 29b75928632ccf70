"""PDU with ``compat=open-unlearning`` against open-unlearning's own first-step loss and dual update on one fixed
batch (measured by running it; ``tests/parity/fixtures/methods/pdu.json``), and the paper's formula differing."""

from __future__ import annotations

import pytest
import torch
from parity.method_cases import ModelReference, batch_of, fixture_model, load_cases, method_args
from unlearn_pdu.method import PDU

FIXTURE = load_cases("pdu")
REL = 1e-5


@pytest.fixture(scope="module")
def models() -> dict[str, torch.nn.Module]:
    return {name: fixture_model(name) for name in ("target", "retain")}


@pytest.mark.parametrize("name", sorted(FIXTURE["cases"]))
def test_compat_reproduces_open_unlearnings_first_step_loss_and_dual_update(models, name):
    case = FIXTURE["cases"][name]
    reference = ModelReference(models[case["reference"]])
    method = PDU(**method_args(case, ignore=("loss_names",)))
    out = method.compute_loss(models["target"], batch_of(FIXTURE), reference)
    assert out.loss.item() == pytest.approx(case["loss"], rel=REL)
    assert out.terms["forget_loss"] == pytest.approx(case["logged"]["forget_loss"], rel=REL)
    assert out.terms["retain_loss"] == pytest.approx(case["logged"]["retain_loss"], rel=REL)
    method.on_step_end(1, {"loss": out.loss.item(), **out.terms, **out.stats})
    assert method.dual == pytest.approx(case["retain_preference_after"], rel=REL)


def test_the_paper_formula_differs_from_the_answer_positions_logits(models):
    """The paper scores the positions that predict the answer, open-unlearning the answer positions themselves."""
    case = FIXTURE["cases"]["default"]
    reference = ModelReference(models["target"])
    args = {**method_args(case, ignore=("loss_names",)), "compat": "none"}
    paper = PDU(**args).compute_loss(models["target"], batch_of(FIXTURE), reference)
    assert abs(paper.terms["forget_loss"] - case["logged"]["forget_loss"]) > 1e-2 * case["logged"]["forget_loss"]
    assert paper.terms["retain_loss"] == pytest.approx(case["logged"]["retain_loss"], rel=REL)  # NLL: the same
