"""GradAscent and GradDiff: raise the forget set's cross-entropy, optionally while keeping the retain set fit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from unlearn_core import Batch, LossOutput, Reference, UnlearnBatch, UnlearningMethod

if TYPE_CHECKING:
    import torch


def forget_ascent_loss(model: torch.nn.Module, forget: Batch) -> torch.Tensor:
    """``-CE_mean(forget)``: the negated mean token cross-entropy over the forget batch's targets."""
    from unlearn_core import losses

    return -losses.mean_token_nll(losses.model_logits(model, forget), forget["labels"])


class GradAscent(UnlearningMethod):
    """Gradient ascent on the forget set: ``L = -CE_mean(forget)``; no retain term, no reference model."""

    name: ClassVar[str] = "GradAscent"
    aliases: ClassVar[tuple[str, ...]] = ("GA",)
    description: ClassVar[str] = "gradient ascent on the forget set: L = -CE_mean(forget)"
    defaults: ClassVar[dict[str, Any]] = {}

    def compute_loss(self, model: torch.nn.Module, batch: UnlearnBatch, reference: Reference) -> LossOutput:
        """Negated mean token cross-entropy of the forget batch (the retain batch is not used)."""
        loss = forget_ascent_loss(model, batch["forget"])
        return LossOutput(loss=loss, terms={"forget_loss": float(loss.detach())})


class GradDiff(UnlearningMethod):
    """Gradient difference: ``L = gamma * (-CE_mean(forget)) + alpha * L_retain`` (retain NLL or KL)."""

    name: ClassVar[str] = "GradDiff"
    description: ClassVar[str] = "gradient difference: L = gamma * (-CE_mean(forget)) + alpha * L_retain"
    defaults: ClassVar[dict[str, Any]] = {"gamma": 1.0, "alpha": 1.0, "retain_loss_type": "NLL"}

    def compute_loss(self, model: torch.nn.Module, batch: UnlearnBatch, reference: Reference) -> LossOutput:
        """Weighted sum of the forget ascent term and the retain term."""
        from unlearn_core import losses

        forget_loss = forget_ascent_loss(model, batch["forget"])
        retain = losses.retain_loss(self.args["retain_loss_type"], model, batch["retain"], reference)
        loss = self.args["gamma"] * forget_loss + self.args["alpha"] * retain
        return LossOutput(
            loss=loss, terms={"forget_loss": float(forget_loss.detach()), "retain_loss": float(retain.detach())}
        )
