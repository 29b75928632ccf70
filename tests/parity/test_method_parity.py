"""Unlearning losses against open-unlearning's own: its first-step loss on one fixed batch (``fixtures/methods/``).

open-unlearning (commit d3d7cf9) built each method's trainer from its own trainer configs on the tiny target model of
``fixtures/models`` (the retain model as its reference model) and computed the loss of one batch of four forget rows
(with their "I don't know" alternates) and four retain rows, tokenised and collated by its own data pipeline; the
batch and the losses are in ``fixtures/methods/<plugin>.json`` (how: ``fixtures/README.md``). Here each method, with
the same method_args and ``compat=open-unlearning``, gets the same loss on the same batch; with ``compat=none`` the
difference is the documented one (a KL retain term over the retain batch's target positions only).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from unlearn_core import FORGET_FIELD
from unlearn_core.losses import kl_every_position, kl_on_targets, model_logits, sequence_nll

FIXTURES = Path(__file__).parent / "fixtures"
REL = 1e-6


def _method_class(name: str) -> type:
    """The method registered as ``name`` (the plugins must be installed)."""
    from unlearn_core.plugins import load_plugins

    return load_plugins().methods.get(name)


@pytest.fixture(scope="module")
def models() -> tuple[Any, Any]:
    """The trained model and the reference model open-unlearning used (float32, eval mode)."""
    from transformers import AutoModelForCausalLM

    load = lambda name: AutoModelForCausalLM.from_pretrained(FIXTURES / "models" / name, dtype=torch.float32)  # noqa: E731
    return load("target").eval(), load("retain").eval()


class FixtureReference:
    """The retain model as reference: its logits, and its log-probs of each row as the runner caches them."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            return model_logits(self.model, batch)

    def logprobs(self, batch: dict[str, torch.Tensor], field: str = FORGET_FIELD) -> torch.Tensor:
        with torch.no_grad():
            return -sequence_nll(model_logits(self.model, batch), batch["labels"])[0]

    def forget_logprobs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.logprobs(batch)


def _batch(recorded: dict[str, Any]) -> dict[str, Any]:
    parts = {}
    for name, values in recorded.items():
        part = {key: torch.tensor(value, dtype=torch.long) for key, value in values.items()}
        part["index"] = torch.arange(part["input_ids"].shape[0])
        parts[name] = part
    return {"forget": parts["forget"], "retain": parts["retain"], "forget_fields": {"alternate": parts["alternate"]}}


def _cases(plugin: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    fixture = json.loads((FIXTURES / "methods" / f"{plugin}.json").read_text())
    return [(fixture["batch"], case) for case in fixture["cases"]]


CASES = [
    pytest.param(b, c, id=f"{c['trainer']}-{i}") for p in ("dpo", "tokenweighted") for i, (b, c) in enumerate(_cases(p))
]


def _loss(models: tuple[Any, Any], recorded: dict[str, Any], case: dict[str, Any], compat: str) -> float:
    model, reference = models
    method = _method_class(case["trainer"])(**case["method_args"], compat=compat)
    with torch.no_grad():
        return method.compute_loss(model, _batch(recorded), FixtureReference(reference)).loss.item()


@pytest.mark.parametrize(("recorded", "case"), CASES)
def test_compat_open_unlearning_gives_open_unlearnings_first_step_loss(models, recorded, case) -> None:
    assert _loss(models, recorded, case, "open-unlearning") == pytest.approx(case["loss"], rel=REL)


@pytest.mark.parametrize(("recorded", "case"), CASES)
def test_the_default_differs_only_by_the_kl_retain_term_over_target_positions(models, recorded, case) -> None:
    ours = _loss(models, recorded, case, "none")
    args = case["method_args"]
    if args.get("retain_loss_type") != "KL":
        assert ours == pytest.approx(case["loss"], rel=REL)
        return
    model, reference = models
    retain = _batch(recorded)["retain"]
    with torch.no_grad():
        theirs_kl = kl_every_position(model_logits(reference, retain), model_logits(model, retain)).item()
        our_kl = kl_on_targets(model_logits(reference, retain), model_logits(model, retain), retain["labels"]).item()
    assert abs(our_kl - theirs_kl) > 0.1
    assert ours == pytest.approx(case["loss"] + args["alpha"] * (our_kl - theirs_kl), rel=REL)
