"""UNDIAL: self-distillation toward the starting model's next-token distribution with the memorised token lowered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from unlearn_core import RETAIN_LOSS_TYPES, LossOutput, Normalization, Reference, UnlearnBatch, UnlearningMethod
from unlearn_core.errors import ConfigError

if TYPE_CHECKING:
    import torch

OPEN_UNLEARNING = "open-unlearning"
COMPAT_CHOICES: tuple[str, ...] = ("none", OPEN_UNLEARNING)
"""``compat``: ``none`` (the paper's formula) or ``open-unlearning`` (its values, quirks included)."""


class UNDIAL(UnlearningMethod):
    """``L = gamma * L_forget + alpha * L_retain``, ``L_forget = mean_t CE(softmax(z_ref,t - beta onehot(y_t)),
    p_theta(.|x_<t))`` over the forget targets; the retain term (NLL or KL) is computed only when ``alpha != 0``."""

    name: ClassVar[str] = "UNDIAL"
    description: ClassVar[str] = "self-distillation toward the reference logits with the label logit lowered by beta"
    defaults: ClassVar[dict[str, Any]] = {
        "beta": 10.0,
        "gamma": 1.0,
        "alpha": 0.0,
        "retain_loss_type": "NLL",
        "compat": "none",
    }
    embedded_protocol: ClassVar[dict[str, dict[str, Any]]] = {
        "tofu": {"trainer.method_args.alpha": 1.0},
        "muse": {"trainer.method_args.alpha": 1.0},
    }
    """A retain NLL term: without it MUSE's embedded learning rate also wipes the retained knowledge."""
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {"retain_loss_type": RETAIN_LOSS_TYPES, "compat": COMPAT_CHOICES}

    @property
    def compat(self) -> bool:
        """Whether open-unlearning's values are reproduced (``compat=open-unlearning``)."""
        return self.args["compat"] == OPEN_UNLEARNING

    def needs_reference_model(self) -> bool:
        """The distillation targets are the frozen starting model's logits on the forget batch."""
        return True

    def normalization(self) -> Normalization:
        """Target-token means over the effective batch; open-unlearning's mean over every position, padding
        included, depends on how the batch is split and padded."""
        return "whole-batch" if self.compat else "effective"

    def forget_loss(self, model: torch.nn.Module, batch: UnlearnBatch, reference: Reference) -> torch.Tensor:
        """The distillation term on the forget batch."""
        from unlearn_core import losses
        from unlearn_undial.losses import undial_loss, undial_open_unlearning_loss

        forget = batch["forget"]
        beta = float(self.args["beta"])
        if not self.compat:  # the heads on target rows only, chunk by chunk
            output = getattr(reference, "output", None)
            ref_output = output(forget) if callable(output) else reference.logits(forget)
            count = self.totals(batch).tokens("forget")
            return undial_loss(losses.model_output(model, forget), ref_output, forget["labels"], beta, count)
        logits, ref_logits = losses.model_logits(model, forget), reference.logits(forget)
        try:
            return undial_open_unlearning_loss(logits, ref_logits, forget["labels"], beta)
        except ValueError as exc:
            raise ConfigError(f"UNDIAL with compat=open-unlearning: {exc}") from None

    def retain_loss(self, model: torch.nn.Module, batch: UnlearnBatch, reference: Reference) -> torch.Tensor:
        """NLL or KL on the retain batch (open-unlearning's KL over every position under compat)."""
        from unlearn_core import losses

        kind, retain = self.args["retain_loss_type"], batch["retain"]
        if kind == "KL" and self.compat:
            return losses.kl_every_position(reference.logits(retain), losses.model_logits(model, retain))
        return losses.retain_loss(kind, model, retain, reference, self.totals(batch).tokens("retain"))

    def compute_loss(self, model: torch.nn.Module, batch: UnlearnBatch, reference: Reference) -> LossOutput:
        """``gamma * L_forget (+ alpha * L_retain)``."""
        forget = self.forget_loss(model, batch, reference)
        loss = self.args["gamma"] * forget
        terms = {"forget_loss": float(forget.detach())}
        if self.args["alpha"] != 0:
            retain = self.retain_loss(model, batch, reference)
            loss = loss + self.args["alpha"] * retain
            terms["retain_loss"] = float(retain.detach())
        return LossOutput(loss, terms)
