"""PDU: minimise logit flattening on the forget set subject to ``retain loss <= eps``, by primal-dual descent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from unlearn_core import (
    RETAIN_LOSS_TYPES,
    EpochEnd,
    LossOutput,
    Normalization,
    Reference,
    UnlearnBatch,
    UnlearningMethod,
)
from unlearn_core.errors import ConfigError
from unlearn_core.normalization import count_key

if TYPE_CHECKING:
    import torch

OPEN_UNLEARNING = "open-unlearning"
COMPAT_CHOICES: tuple[str, ...] = ("none", OPEN_UNLEARNING)
"""``compat``: ``none`` (the paper's formula) or ``open-unlearning`` (its values, quirks included)."""
LABELLED = "labelled"
"""Unit of open-unlearning's forget denominator: positions whose own label is not -100."""


def _number(key: str, value: Any, *, minimum: float | None = None) -> float:
    """``value`` as a float, or a one-line ConfigError naming ``trainer.method_args.KEY``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"'trainer.method_args.{key}' must be a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"'trainer.method_args.{key}' must be at least {minimum:g}, got {value!r}")
    return float(value)


class PDU(UnlearningMethod):
    """``L = gamma * L_forget + lambda * (L_retain - retain_loss_eps)`` with the dual variable ``lambda >= 0``
    (starting at ``alpha``) raised by ``dual_step_size * (L_retain - eps)`` after each step or epoch once
    ``dual_warmup_epochs`` epochs have passed (``primal_dual``); ``L_forget`` is logit flattening."""

    name: ClassVar[str] = "PDU"
    description: ClassVar[str] = "primal-dual unlearning: logit flattening subject to retain loss <= retain_loss_eps"
    defaults: ClassVar[dict[str, Any]] = {
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
    embedded_protocol: ClassVar[dict[str, dict[str, Any]]] = {
        "tofu": {"trainer.method_args.retain_loss_eps": 0.1, "trainer.method_args.dual_warmup_epochs": 0},
        "muse": {"trainer.method_args.retain_loss_eps": 0.1, "trainer.method_args.dual_warmup_epochs": 0},
    }
    """The embedded targets' retain NLL is about 0.07; without warm-up the dual variable acts from the first step
    (with 5 warm-up epochs the flattening term breaks the tiny model first; see the README)."""
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {
        "retain_loss_type": RETAIN_LOSS_TYPES,
        "dual_update_upon": ("step", "epoch"),
        "compat": COMPAT_CHOICES,
    }

    def __init__(self, **method_args: Any) -> None:
        super().__init__(**method_args)
        if self.args["retain_loss_eps"] is None:
            raise ConfigError(
                "PDU needs the retain loss it must stay under: set trainer.method_args.retain_loss_eps=NUMBER (e.g. "
                "the starting model's retain loss times 1.1)"
            )
        self.eps = _number("retain_loss_eps", self.args["retain_loss_eps"])
        self.step_size = _number("dual_step_size", self.args["dual_step_size"], minimum=0.0)
        self.warmup = _number("dual_warmup_epochs", self.args["dual_warmup_epochs"], minimum=0.0)
        self.dual = _number("alpha", self.args["alpha"], minimum=0.0)
        """The dual variable lambda (open-unlearning's ``retain_preference``)."""
        self.epochs_done = 0

    @property
    def compat(self) -> bool:
        """Whether open-unlearning's values are reproduced (``compat=open-unlearning``)."""
        return self.args["compat"] == OPEN_UNLEARNING

    def normalization(self) -> Normalization:
        """Target-token means over the effective batch; under compat, open-unlearning's KL over every position
        (padding included) cannot be split."""
        return "whole-batch" if self.compat and self.args["retain_loss_type"] == "KL" else "effective"

    def unit_counts(self, batch: UnlearnBatch) -> dict[str, float]:
        """The standard counts and the forget positions whose own label is not -100 (compat's denominator)."""
        from unlearn_pdu.losses import labelled_count

        counts = super().unit_counts(batch)
        counts[count_key("forget", LABELLED)] = float(labelled_count(batch["forget"]["labels"]))
        return counts

    def forget_loss(self, model: torch.nn.Module, batch: UnlearnBatch) -> torch.Tensor:
        """Logit flattening on the forget batch."""
        from unlearn_core import losses
        from unlearn_pdu.losses import flattening_loss, flattening_loss_open_unlearning

        forget, totals = batch["forget"], self.totals(batch)
        if self.compat:
            logits = losses.model_logits(model, forget)
            return flattening_loss_open_unlearning(logits, forget["labels"], totals[count_key("forget", LABELLED)])
        logits = losses.model_output(model, forget)  # the head on target rows only, chunk by chunk
        return flattening_loss(logits, forget["labels"], totals.tokens("forget"))

    def retain_loss(self, model: torch.nn.Module, batch: UnlearnBatch, reference: Reference) -> torch.Tensor:
        """NLL or KL on the retain batch (open-unlearning's KL over every position under compat)."""
        from unlearn_core import losses

        kind, retain = self.args["retain_loss_type"], batch["retain"]
        if kind == "KL" and self.compat:
            return losses.kl_every_position(reference.logits(retain), losses.model_logits(model, retain))
        return losses.retain_loss(kind, model, retain, reference, self.totals(batch).tokens("retain"))

    def _eps_share(self, batch: UnlearnBatch) -> float:
        """This micro-batch's share of ``eps``, so the shifted retain term adds up like the retain loss itself."""
        from unlearn_core.normalization import target_tokens

        if self.normalization() != "effective":
            return self.eps
        own = target_tokens(batch["retain"])
        total = self.totals(batch).tokens("retain")
        return self.eps * own / total if total else float("nan")

    def compute_loss(self, model: torch.nn.Module, batch: UnlearnBatch, reference: Reference) -> LossOutput:
        """``gamma * L_forget + lambda * (L_retain - eps)`` at the current dual variable."""
        forget = self.forget_loss(model, batch)
        retain = self.retain_loss(model, batch, reference)
        loss = self.args["gamma"] * forget + self.dual * (retain - self._eps_share(batch))
        terms = {"forget_loss": float(forget.detach()), "retain_loss": float(retain.detach())}
        return LossOutput(loss, terms, stats={"retain_preference": self.dual})

    def _ascend(self, retain: float) -> None:
        self.dual = max(0.0, self.dual + self.step_size * (retain - self.eps))

    def _updating(self, upon: str) -> bool:
        after_warmup = self.epochs_done >= self.warmup
        return bool(self.args["primal_dual"]) and self.args["dual_update_upon"] == upon and after_warmup

    def on_step_end(self, step: int, terms: Mapping[str, float]) -> None:
        """Dual ascent on the step's retain loss, once the warm-up epochs are over."""
        if self._updating("step"):
            self._ascend(terms["retain_loss"])

    def on_epoch_end(self, epoch: EpochEnd) -> None:
        """Count the epoch; in ``epoch`` mode (after warm-up) ascend on the mean retain loss over the epoch's
        batches, measured with the weights at the epoch's end."""
        self.epochs_done = epoch.epoch
        if self._updating("epoch"):
            reference = epoch.reference
            self._ascend(epoch.mean(lambda model, batch: self.retain_loss(model, batch, reference)))  # type: ignore[arg-type]

    def state_dict(self) -> dict[str, Any]:
        """The dual variable and the epochs completed (JSON values)."""
        return {"dual": self.dual, "epochs_done": self.epochs_done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Put back the dual variable and the epochs completed."""
        self.dual, self.epochs_done = float(state["dual"]), int(state["epochs_done"])
