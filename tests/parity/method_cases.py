"""open-unlearning's first-step losses of unlearning methods on one fixed batch, for the methods' parity tests.

``fixtures/methods/<method>.json`` (see ``fixtures/README.md``) holds the batch open-unlearning's data loader gave
(the fixture's TOFU forget10 and retain90 rows, raw template), its settings per case and the loss its trainer
computed on that batch with the fixture's target model. A case's ``reference`` is the model the trainer compared
with: ``target`` (its own starting copy, as in a real run) or ``retain`` (the fixture's retain model, so that terms
comparing with the reference are not 0).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from unlearn_core.hidden_states import ModuleOutputs, module_outputs

FIXTURES = Path(__file__).parent / "fixtures"


def load_cases(method: str) -> dict[str, Any]:
    """The fixture of ``method`` (``rmu``, ``undial``, ``pdu``)."""
    return json.loads((FIXTURES / "methods" / f"{method}.json").read_text())


def batch_of(fixture: dict[str, Any]) -> dict[str, Any]:
    """The fixture's forget and retain batches as tensors (with row indices)."""
    parts = {}
    for part, rows in fixture["batch"].items():
        tensors = {key: torch.tensor(value) for key, value in rows.items()}
        tensors["index"] = torch.arange(tensors["input_ids"].shape[0])
        parts[part] = tensors
    return parts


def fixture_model(name: str) -> torch.nn.Module:
    """The fixture's ``target`` or ``retain`` tiny Llama in float32, as open-unlearning loaded it (sdpa)."""
    from transformers import AutoModelForCausalLM

    path = FIXTURES / "models" / name
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa").eval()


class ModelReference:
    """A frozen model as the method's reference: its logits and module outputs, without gradient."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            return self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits

    def module_outputs(self, batch: dict[str, torch.Tensor], pattern: str) -> ModuleOutputs:
        with torch.no_grad():
            return module_outputs(self.model, batch, pattern)


def method_args(case: dict[str, Any], ignore: tuple[str, ...] = ()) -> dict[str, Any]:
    """open-unlearning's method_args of ``case`` with ``compat=open-unlearning``, less keys we do not take."""
    args = {k: v for k, v in case["method_args"].items() if k not in ignore}
    return {**args, "compat": "open-unlearning"}
