"""GradAscent and GradDiff: raise the forget set's cross-entropy, optionally while keeping the retain set fit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from unlearn_core import Batch, LossOutput, Normalization, Reference, UnlearnBatch, UnlearningMethod

if TYPE_CHECKING:
    import torch


def forget_ascent_loss(model: torch.nn.Module, forget: Batch, count: float | None = None) -> torch.Tensor:
    """``-CE_mean(forget)``: the negated mean token cross-entropy over the forget targets (of the batch, or summed
    and divided by ``count``, the effective batch's forget target tokens)."""
    from unlearn_core import losses  # torch: imported when a loss is computed, not when plugins are listed

    return -losses.mean_token_nll(losses.model_output(model, forget), forget["labels"], count)


class GradAscent(UnlearningMethod):
    """Gradient ascent on the forget set: ``L = -CE_mean(forget)``; no retain term, no reference model."""

    name: ClassVar[str] = "GradAscent"
    aliases: ClassVar[tuple[str, ...]] = ("GA",)
    description: ClassVar[str] = "gradient ascent on the forget set: L = -CE_mean(forget)"
    defaults: ClassVar[dict[str, Any]] = {}
    embedded_protocol: ClassVar[dict[str, dict[str, Any]]] = {
        "tofu": {"trainer.args.learning_rate": 5e-5},
        "muse": {"trainer.args.learning_rate": 3e-5},
    }
    """Unbounded ascent with no retain term: at the embedded protocol's learning rates the tiny models collapse (see
    the README)."""

    def normalization(self) -> Normalization:
        """Averaged over the effective batch's forget target tokens."""
        return "effective"

    def compute_loss(self, model: torch.nn.Module, batch: UnlearnBatch, reference: Reference) -> LossOutput:
        """Negated mean token cross-entropy of the forget batch (the retain batch is not used)."""
        loss = forget_ascent_loss(model, batch["forget"], self.totals(batch).tokens("forget"))
        return LossOutput(loss=loss, terms={"forget_loss": float(loss.detach())})


class GradDiff(UnlearningMethod):
    """Gradient difference: ``L = gamma * (-CE_mean(forget)) + alpha * L_retain`` (retain NLL or KL)."""

    name: ClassVar[str] = "GradDiff"
    description: ClassVar[str] = "gradient difference: L = gamma * (-CE_mean(forget)) + alpha * L_retain"
    defaults: ClassVar[dict[str, Any]] = {"gamma": 1.0, "alpha": 1.0, "retain_loss_type": "NLL"}
    embedded_protocol: ClassVar[dict[str, dict[str, Any]]] = {
        "tofu": {"trainer.args.learning_rate": 1e-4},
        "muse": {"trainer.args.learning_rate": 1e-3},
    }
    """At the embedded protocol's learning rates GradDiff over-unlearns (see the README)."""

    def normalization(self) -> Normalization:
        """Both terms are averaged over the effective batch's target tokens (forget, retain)."""
        return "effective"

    def compute_loss(self, model: torch.nn.Module, batch: UnlearnBatch, reference: Reference) -> LossOutput:
        """Weighted sum of the forget ascent term and the retain term; one forward for both parts when the run's
        ``trainer.args.forward_mode`` allows it."""
        from unlearn_core.shared_forward import part_outputs, retain_loss  # torch: imported when a loss is computed

        totals = self.totals(batch)
        outputs = part_outputs(model, batch, ("forget", "retain"))
        forget_loss = -outputs["forget"].mean_token_nll(totals.tokens("forget"))
        kind = self.args["retain_loss_type"]
        retain = retain_loss(kind, model, outputs["retain"], batch["retain"], reference, totals.tokens("retain"))
        loss = self.args["gamma"] * forget_loss + self.args["alpha"] * retain
        return LossOutput(
            loss=loss, terms={"forget_loss": float(forget_loss.detach()), "retain_loss": float(retain.detach())}
        )
