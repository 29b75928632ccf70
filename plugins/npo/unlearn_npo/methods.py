"""NPO (arXiv 2404.05868) and SimNPO: bounded, preference-style forgetting instead of raw gradient ascent."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from unlearn_core import Batch, BatchTotals, LossOutput, Normalization, Reference, UnlearnBatch, UnlearningMethod

if TYPE_CHECKING:
    import torch

    from unlearn_core.shared_forward import PartOutput


class _ForgetRetainMethod(UnlearningMethod):
    """Shared ``L = gamma * L_forget + alpha * L_retain`` with a NLL or KL retain term (the base class keeps the
    reference model for KL)."""

    @abstractmethod
    def forget_loss(self, output: PartOutput, forget: Batch, reference: Reference, rows: float) -> torch.Tensor:
        """The method's forget term from the model's ``output`` on ``forget``: a mean over forget rows, its sum
        divided by ``rows`` (the effective batch's)."""

    def normalization(self) -> Normalization:
        """The forget term is averaged over the effective batch's forget rows, the retain term over its retain
        target tokens."""
        return "effective"

    def compute_loss(self, model: torch.nn.Module, batch: UnlearnBatch, reference: Reference) -> LossOutput:
        """Weighted sum of the forget term and the retain term; one forward for both parts when the run's
        ``trainer.args.forward_mode`` allows it."""
        from unlearn_core.shared_forward import part_outputs, retain_loss  # torch: imported when a loss is computed

        totals: BatchTotals = self.totals(batch)
        outputs = part_outputs(model, batch, ("forget", "retain"))
        forget = self.forget_loss(outputs["forget"], batch["forget"], reference, totals.samples("forget"))
        kind = self.args["retain_loss_type"]
        retain = retain_loss(kind, model, outputs["retain"], batch["retain"], reference, totals.tokens("retain"))
        loss = self.args["gamma"] * forget + self.args["alpha"] * retain
        return LossOutput(
            loss=loss, terms={"forget_loss": float(forget.detach()), "retain_loss": float(retain.detach())}
        )


class NPO(_ForgetRetainMethod):
    """NPO: ``L_forget = -(2/beta) mean_i log sigmoid(-beta (log pi_theta(y_i|x_i) - log pi_ref(y_i|x_i)))``."""

    name: ClassVar[str] = "NPO"
    description: ClassVar[str] = "negative preference optimization against cached reference log-probs"
    defaults: ClassVar[dict[str, Any]] = {"beta": 0.1, "gamma": 1.0, "alpha": 1.0, "retain_loss_type": "NLL"}

    def needs_reference_logprobs(self) -> bool:
        """The forget term compares with the starting model's log-probs of the forget set (cached once)."""
        return True

    def forget_loss(self, output: PartOutput, forget: Batch, reference: Reference, rows: float) -> torch.Tensor:
        """NPO forget term from sequence log-probs (sums over target tokens) of the model and the reference."""
        from unlearn_npo.losses import npo_forget_loss  # torch: imported when a loss is computed

        nll_sum, _ = output.sequence_nll()
        return npo_forget_loss(-nll_sum, reference.forget_logprobs(forget), self.args["beta"], rows)


class SimNPO(_ForgetRetainMethod):
    """SimNPO: ``L_forget = -(2/beta) mean_i log sigmoid(beta (NLL_sum(y_i)/|y_i| - delta))``; no reference."""

    name: ClassVar[str] = "SimNPO"
    description: ClassVar[str] = "reference-free NPO on length-normalised NLL"
    defaults: ClassVar[dict[str, Any]] = {
        "beta": 4.5,
        "delta": 0.0,
        "gamma": 0.125,
        "alpha": 1.0,
        "retain_loss_type": "NLL",
    }

    def forget_loss(self, output: PartOutput, forget: Batch, reference: Reference, rows: float) -> torch.Tensor:
        """SimNPO forget term from the model's length-normalised NLL of each forget answer."""
        from unlearn_npo.losses import simnpo_forget_loss  # torch: imported when a loss is computed

        nll_sum, num_targets = output.sequence_nll()
        return simnpo_forget_loss(nll_sum, num_targets, self.args["beta"], self.args["delta"], rows)
