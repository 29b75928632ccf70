"""DPO with an "I don't know" alternate answer (IdkDPO, arXiv 2401.06121 and 2404.05868) and IdkNLL: teach the model
to answer forget questions with a refusal instead of the forgotten answer, while a retain term keeps the rest."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from unlearn_core import (
    FORGET_FIELD,
    BatchTotals,
    LossOutput,
    Normalization,
    Reference,
    UnlearnBatch,
    UnlearningMethod,
    errors,
)

if TYPE_CHECKING:
    import torch

ALTERNATE = "alternate"
"""The forget field of the "I don't know" answer (``data.forget=TOFU_QA_forget_idk`` has it)."""
OPEN_UNLEARNING = "open-unlearning"
COMPAT_CHOICES: tuple[str, ...] = ("none", OPEN_UNLEARNING)
"""``trainer.method_args.compat``: ``none`` (this package's formulas) or ``open-unlearning`` (its numbers)."""


class _AlternateMethod(UnlearningMethod):
    """``L = gamma * L_forget + alpha * L_retain``, where the forget term reads the ``alternate`` answer of each
    forget row; the retain term is NLL or KL (``losses.retain_loss``)."""

    choices: ClassVar[dict[str, tuple[Any, ...]]] = {**UnlearningMethod.choices, "compat": COMPAT_CHOICES}

    def __init__(self, **method_args: Any) -> None:
        super().__init__(**method_args)
        if "beta" in self.args and not self.args["beta"] > 0:
            raise errors.ConfigError(
                f"trainer.method_args.beta must be positive for {self.name} (the loss divides by it), got "
                f"{self.args['beta']!r}"
            )

    @property
    def open_unlearning(self) -> bool:
        """Whether ``compat=open-unlearning`` asks for open-unlearning's numbers."""
        return self.args.get("compat") == OPEN_UNLEARNING

    def forget_fields(self) -> tuple[str, ...]:
        """The "I don't know" answer of each forget row."""
        return (ALTERNATE,)

    def normalization(self) -> Normalization:
        """Terms are averaged over the effective batch; with ``compat=open-unlearning`` each micro-batch's loss is
        its own mean, as open-unlearning's trainer computes it (its KL averages over every padded position)."""
        return "micro-batch" if self.open_unlearning else "effective"

    @abstractmethod
    def forget_term(
        self, model: torch.nn.Module, batch: UnlearnBatch, reference: Reference, totals: BatchTotals
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The forget term and the values to log besides it."""

    def compute_loss(self, model: torch.nn.Module, batch: UnlearnBatch, reference: Reference) -> LossOutput:
        """Weighted sum of the forget term and the retain term."""
        from unlearn_core import losses  # torch: imported when a loss is computed, not when plugins are listed

        totals = self.totals(batch)
        forget, stats = self.forget_term(model, batch, reference, totals)
        kind = self.args["retain_loss_type"]
        every_position = self.open_unlearning
        retain = losses.retain_loss(
            kind, model, batch["retain"], reference, totals.tokens("retain"), every_position=every_position
        )
        loss = self.args["gamma"] * forget + self.args["alpha"] * retain
        terms = {"forget_loss": float(forget.detach()), "retain_loss": float(retain.detach())}
        return LossOutput(loss=loss, terms=terms, stats=stats)


class DPO(_AlternateMethod):
    """DPO: ``L_forget = -(2/beta) mean_i log sigmoid(beta [(log pi(a_i) - log pi_ref(a_i)) - (log pi(y_i) -
    log pi_ref(y_i))])``, ``a_i`` the alternate ("I don't know") answer, ``y_i`` the forget answer."""

    name: ClassVar[str] = "DPO"
    aliases: ClassVar[tuple[str, ...]] = ("IdkDPO",)
    description: ClassVar[str] = "prefer the alternate (I don't know) answer over the forget answer, against the start"
    defaults: ClassVar[dict[str, Any]] = {
        "beta": 0.1,
        "alpha": 1.0,
        "gamma": 1.0,
        "retain_loss_type": "NLL",
        "compat": "none",
    }
    embedded_protocol: ClassVar[dict[str, dict[str, Any]]] = {
        "tofu": {"data.forget": "TOFU_QA_forget_idk", "trainer.method_args.beta": 0.03}
    }
    """On the embedded TOFU: the forget rows with their "I don't know" answers, and a smaller beta (with 0.1 the loss
    saturates within the first epoch while the forget answers keep most of their probability; see the README)."""

    def reference_logprob_fields(self) -> tuple[str, ...]:
        """The starting model's log-probs of both answers, cached once before training."""
        return (FORGET_FIELD, ALTERNATE)

    def forget_term(
        self, model: torch.nn.Module, batch: UnlearnBatch, reference: Reference, totals: BatchTotals
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """DPO term averaged over the forget rows, and the mean preference margin (log-ratio difference)."""
        from unlearn_core import losses  # torch: imported when a loss is computed, not when plugins are listed
        from unlearn_dpo.losses import dpo_forget_loss

        forget, alternate = batch["forget"], batch["forget_fields"][ALTERNATE]
        lose_nll, _ = losses.sequence_nll(losses.model_output(model, forget), forget["labels"])
        win_nll, _ = losses.sequence_nll(losses.model_output(model, alternate), alternate["labels"])
        win_ref = reference.logprobs(alternate, ALTERNATE).to(win_nll.device)
        lose_ref = reference.logprobs(forget, FORGET_FIELD).to(lose_nll.device)
        term = dpo_forget_loss(-win_nll, win_ref, -lose_nll, lose_ref, self.args["beta"], totals.samples("forget"))
        margin = ((-win_nll - win_ref) - (-lose_nll - lose_ref)).detach().mean()
        return term, {"margin": float(margin)}


class IdkNLL(_AlternateMethod):
    """IdkNLL: ``L_forget = CE_mean(alternate)``, the mean token cross-entropy of the "I don't know" answers."""

    name: ClassVar[str] = "IdkNLL"
    description: ClassVar[str] = "finetune on the alternate (I don't know) answer of each forget question"
    defaults: ClassVar[dict[str, Any]] = {"alpha": 1.0, "gamma": 1.0, "retain_loss_type": "NLL"}
    embedded_protocol: ClassVar[dict[str, dict[str, Any]]] = {"tofu": {"data.forget": "TOFU_QA_forget_idk"}}
    """On the embedded TOFU: the forget rows with their "I don't know" answers."""

    def forget_term(
        self, model: torch.nn.Module, batch: UnlearnBatch, reference: Reference, totals: BatchTotals
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean token NLL of the alternate answers over the effective batch's alternate target tokens."""
        from unlearn_core import losses  # torch: imported when a loss is computed, not when plugins are listed

        alternate = batch["forget_fields"][ALTERNATE]
        logits = losses.model_output(model, alternate)  # the head applied to target rows only, chunk by chunk
        return losses.mean_token_nll(logits, alternate["labels"], totals.tokens(ALTERNATE)), {}
