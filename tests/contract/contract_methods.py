"""Tiny methods that use every piece of the method contract, registered as the plugin ``contract_methods``.

In process, tests pass this module to ``load_plugins(extra=[...])``; for the console script and launched processes,
``plugin_env`` makes it an installed plugin: a distribution's metadata (with its ``unlearn`` entry point) in a
directory put on ``PYTHONPATH`` together with this module's own directory.

- ``FieldsDPO``: DPO-style loss on the ``alternate`` forget field against cached reference log-probs of both
  the forget answer and the alternate (IdkDPO's needs), plus a retain term.
- ``HiddenRMU``: RMU's needs: hidden states of one layer for the trained and the frozen model, a fixed random
  control vector kept in its state, and only one matrix trained.
- ``DualPDU``: PDU's needs: a dual variable updated after each step from the retain loss, or after each epoch
  from the mean retain loss over the epoch's data, kept in its state with a tensor of its history.
- ``ContractAll``: all of the above at once, for the multi-process tests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from unlearn_core import (
    FORGET_FIELD,
    EpochEnd,
    LossOutput,
    Reference,
    UnlearnBatch,
    UnlearningMethod,
    hookimpl,
)

HERE = Path(__file__).resolve().parent
LAYER = r"model\.layers\.1"
TRAINED = r"model\.layers\.1\.mlp\.down_proj\.weight"
DISTRIBUTION = "unlearn_contract_test_methods"


def _torch() -> Any:
    import torch

    return torch


def dpo_term(model: Any, batch: UnlearnBatch, reference: Reference, beta: float) -> Any:
    """``-(2/beta) mean log sigmoid(beta [(lp_w - ref_w) - (lp_l - ref_l)])``, w the alternate, l the forget answer."""
    torch = _torch()
    from unlearn_core import losses

    forget, alternate = batch["forget"], batch["forget_fields"]["alternate"]
    if not torch.equal(forget["index"], alternate["index"]):
        raise AssertionError("the alternate rows are not in the forget batch's order")
    win, _ = losses.sequence_nll(losses.model_logits(model, alternate), alternate["labels"])
    lose, _ = losses.sequence_nll(losses.model_logits(model, forget), forget["labels"])
    margin = (-win - reference.logprobs(alternate, "alternate")) - (-lose - reference.logprobs(forget, FORGET_FIELD))
    return -(2.0 / beta) * torch.nn.functional.logsigmoid(beta * margin).mean()


def terms(**values: Any) -> dict[str, float]:
    """Loss terms as floats (tensors detached first)."""
    return {k: float(v.detach()) if hasattr(v, "detach") else float(v) for k, v in values.items()}


def masked_mse(a: Any, b: Any, labels: Any) -> Any:
    """Mean squared error over the hidden units of the target positions."""
    mask = (labels != -100).unsqueeze(-1).to(a.dtype)
    return ((a - b) ** 2 * mask).sum() / (mask.sum() * a.shape[-1])


class FieldsDPO(UnlearningMethod):
    """Prefer the alternate ("I don't know") answer over the forget answer, relative to the starting model."""

    name: ClassVar[str] = "FieldsDPO"
    defaults: ClassVar[dict[str, Any]] = {"beta": 0.1, "alpha": 1.0, "retain_loss_type": "NLL"}

    def forget_fields(self) -> tuple[str, ...]:
        """The "I don't know" answer of each forget row."""
        return ("alternate",)

    def reference_logprob_fields(self) -> tuple[str, ...]:
        """Reference log-probs of both answers."""
        return (FORGET_FIELD, "alternate")

    def compute_loss(self, model: Any, batch: UnlearnBatch, reference: Reference) -> LossOutput:
        """DPO term plus the retain term."""
        from unlearn_core import losses

        forget = dpo_term(model, batch, reference, self.args["beta"])
        retain = losses.retain_loss(self.args["retain_loss_type"], model, batch["retain"], reference)
        loss = forget + self.args["alpha"] * retain
        return LossOutput(loss, terms(forget_loss=forget, retain_loss=retain))


class HiddenRMU(UnlearningMethod):
    """Steer one layer's output on forget data toward a fixed random vector, keep it on retain data."""

    name: ClassVar[str] = "HiddenRMU"
    defaults: ClassVar[dict[str, Any]] = {
        "steering_coeff": 2.0,
        "alpha": 1.0,
        "seed": 0,
        "layer": LAYER,
        "trainable": TRAINED,
    }

    def __init__(self, **method_args: Any) -> None:
        super().__init__(**method_args)
        self.control: Any = None

    def needs_reference_model(self) -> bool:
        """The retain term compares with the frozen model's hidden states."""
        return True

    def hidden_state_modules(self) -> tuple[str, ...]:
        """The steered layer."""
        return (self.args["layer"],)

    def trainable_parameters(self) -> tuple[str, ...] | None:
        """Only the steered layer's output projection (``.*`` trains everything)."""
        return (self.args["trainable"],)

    def control_vector(self, width: int) -> Any:
        """``c * u / |u|``, ``u ~ U[0, 1)^width``, drawn once from the method's own seed."""
        torch = _torch()
        if self.control is None:
            u = torch.rand(width, generator=torch.Generator().manual_seed(self.args["seed"]))
            self.control = u / u.norm() * self.args["steering_coeff"]
        return self.control

    def compute_loss(self, model: Any, batch: UnlearnBatch, reference: Reference) -> LossOutput:
        """MSE to the control vector on forget targets plus MSE to the frozen model's hidden state on retain."""
        from unlearn_core import module_outputs

        forget, retain = batch["forget"], batch["retain"]
        layer = self.args["layer"]
        hidden = module_outputs(model, forget, layer).one()
        target = self.control_vector(hidden.shape[-1]).to(hidden.device, hidden.dtype).expand_as(hidden)
        forget_loss = masked_mse(hidden, target, forget["labels"])
        kept = module_outputs(model, retain, layer).one()
        frozen = reference.module_outputs(retain, layer).one()
        retain_loss = masked_mse(kept, frozen.to(kept.dtype), retain["labels"])
        loss = forget_loss + self.args["alpha"] * retain_loss
        return LossOutput(loss, terms(forget_loss=forget_loss, retain_loss=retain_loss))

    def state_dict(self) -> dict[str, Any]:
        """The control vector, once drawn."""
        return {} if self.control is None else {"control": self.control}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Put back the control vector."""
        self.control = state.get("control")


class DualPDU(UnlearningMethod):
    """``gamma * (-CE_forget) + lambda * (retain - eps)``; lambda rises with the retain loss after a step or epoch."""

    name: ClassVar[str] = "DualPDU"
    defaults: ClassVar[dict[str, Any]] = {
        "gamma": 1.0,
        "alpha": 1.0,
        "retain_loss_eps": 0.5,
        "dual_step_size": 0.5,
        "dual_update_upon": "step",
    }
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {"dual_update_upon": ("step", "epoch")}

    def __init__(self, **method_args: Any) -> None:
        super().__init__(**method_args)
        self.dual: float = float(self.args["alpha"])
        self.history: list[float] = []
        self.epochs_seen = 0

    def retain_nll(self, model: Any, batch: UnlearnBatch) -> Any:
        """Mean token NLL of the retain batch."""
        from unlearn_core import losses

        return losses.mean_token_nll(losses.model_logits(model, batch["retain"]), batch["retain"]["labels"])

    def compute_loss(self, model: Any, batch: UnlearnBatch, reference: Reference) -> LossOutput:
        """The primal loss at the current dual variable."""
        from unlearn_core import losses

        forget = -losses.mean_token_nll(losses.model_logits(model, batch["forget"]), batch["forget"]["labels"])
        retain = self.retain_nll(model, batch)
        loss = self.args["gamma"] * forget + self.dual * (retain - self.args["retain_loss_eps"])
        return LossOutput(loss, terms(forget_loss=forget, retain_loss=retain, dual=self.dual))

    def _rise(self, retain: float) -> None:
        self.dual = max(0.0, self.dual + self.args["dual_step_size"] * (retain - self.args["retain_loss_eps"]))
        self.history.append(self.dual)

    def on_step_end(self, step: int, terms: Mapping[str, float]) -> None:
        """Dual ascent on the step's retain loss (averaged over processes)."""
        if self.args["dual_update_upon"] == "step":
            self._rise(terms["retain_loss"])

    def on_epoch_end(self, epoch: EpochEnd) -> None:
        """Dual ascent on the mean retain loss over the epoch's data, with the weights at the epoch's end."""
        self.epochs_seen = epoch.epoch
        if self.args["dual_update_upon"] == "epoch":
            self._rise(epoch.mean(lambda model, batch: self.retain_nll(model, batch)))

    def state_dict(self) -> dict[str, Any]:
        """The dual variable (JSON), the epochs seen, and its history (a tensor)."""
        torch = _torch()
        return {
            "dual": self.dual,
            "epochs_seen": self.epochs_seen,
            "history": torch.tensor(self.history, dtype=torch.float64),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Put back what ``state_dict`` saved."""
        self.dual, self.epochs_seen = state["dual"], state["epochs_seen"]
        self.history = state["history"].tolist()


class ContractAll(HiddenRMU, DualPDU, FieldsDPO):
    """Every piece at once: forget fields, their reference log-probs, hidden states of the trained and the frozen
    model, one trained matrix, and a dual variable and a control vector in its state."""

    name: ClassVar[str] = "ContractAll"
    defaults: ClassVar[dict[str, Any]] = {
        **DualPDU.defaults,
        **HiddenRMU.defaults,
        "beta": 0.1,
        "retain_loss_eps": 1.0,
    }

    def __init__(self, **method_args: Any) -> None:
        DualPDU.__init__(self, **method_args)
        self.control = None

    def compute_loss(self, model: Any, batch: UnlearnBatch, reference: Reference) -> LossOutput:
        """DPO on the alternate, the RMU terms, the retain NLL weighted by the dual variable."""
        dpo = dpo_term(model, batch, reference, self.args["beta"])
        rmu = HiddenRMU.compute_loss(self, model, batch, reference)
        retain = self.retain_nll(model, batch)
        loss = dpo + rmu.loss + self.dual * (retain - self.args["retain_loss_eps"])
        return LossOutput(loss, terms(forget_loss=dpo, retain_loss=retain, dual=self.dual))

    def state_dict(self) -> dict[str, Any]:
        """Both states."""
        return {**DualPDU.state_dict(self), **HiddenRMU.state_dict(self)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Both states."""
        DualPDU.load_state_dict(self, state)
        HiddenRMU.load_state_dict(self, state)


METHODS = (FieldsDPO, HiddenRMU, DualPDU, ContractAll)


@hookimpl
def register_methods(register: Any) -> None:
    """Register the test methods."""
    for method in METHODS:
        register(method.name, method)


def plugin_env(directory: Path) -> dict[str, str]:
    """Make this module an installed ``unlearn`` plugin for processes started with the returned environment."""
    info = directory / f"{DISTRIBUTION}-0.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {DISTRIBUTION}\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text("[unlearn]\ncontract_methods = contract_methods\n")
    paths = [str(directory), str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(paths)}
