"""WGA (arXiv 2502.19301), SatImp (arXiv 2505.11953) and CE-U (arXiv 2503.01224): unlearning by what each forget
token contributes, instead of raw gradient ascent on all of them alike."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from unlearn_core import BatchTotals, LossOutput, Normalization, Reference, UnlearnBatch, UnlearningMethod, errors
from unlearn_core.normalization import count_key

if TYPE_CHECKING:
    import torch

OPEN_UNLEARNING = "open-unlearning"
COMPAT_CHOICES: tuple[str, ...] = ("none", OPEN_UNLEARNING)
"""``trainer.method_args.compat``: ``none`` (this package's normalisation) or ``open-unlearning`` (its numbers)."""
CEU_TOKENS = "ceu_tokens"
"""CE-U's own count: forget target tokens after each row's first ``ignore_first_n_answer_tokens``."""


class _CompatMethod(UnlearningMethod):
    """``compat=open-unlearning``: each micro-batch's loss is its own mean, as open-unlearning's trainer computes it
    (and averages over micro-batches and processes), and a KL retain term averages over every padded position."""

    choices: ClassVar[dict[str, tuple[Any, ...]]] = {**UnlearningMethod.choices, "compat": COMPAT_CHOICES}

    @property
    def open_unlearning(self) -> bool:
        """Whether ``compat=open-unlearning`` asks for open-unlearning's numbers."""
        return self.args.get("compat") == OPEN_UNLEARNING

    def normalization(self) -> Normalization:
        """Terms are averaged over the effective batch, or over each micro-batch with ``compat=open-unlearning``."""
        return "micro-batch" if self.open_unlearning else "effective"

    def check_at_least(self, key: str, lowest: float, strict: bool = False) -> None:
        """A ConfigError naming the key when its value is below ``lowest`` (or equal to it with ``strict``)."""
        value = self.args[key]
        if value < lowest or (strict and value == lowest):
            bound = f"greater than {lowest}" if strict else f"at least {lowest}"
            raise errors.ConfigError(f"trainer.method_args.{key} must be {bound} for {self.name}, got {value!r}")


class _WeightedAscent(_CompatMethod):
    """``L = gamma * L_forget + alpha * L_retain`` with ``L_forget = -sum_t w_t CE_t / N`` over the forget target
    tokens, ``w_t`` a detached function of the model's probability of the label (``weights``)."""

    @abstractmethod
    def weights(self, nll: torch.Tensor) -> torch.Tensor:
        """The token weights (no gradient) of per-token cross-entropies ``nll``."""

    def compute_loss(self, model: torch.nn.Module, batch: UnlearnBatch, reference: Reference) -> LossOutput:
        """Weighted ascent on the forget tokens plus the retain term; logs the mean token weight."""
        from unlearn_core import losses  # torch: imported when a loss is computed, not when plugins are listed
        from unlearn_tokenweighted.losses import token_nll, weighted_ascent_loss

        totals = self.totals(batch)
        forget_batch = batch["forget"]
        nll, mask = token_nll(losses.model_output(model, forget_batch), forget_batch["labels"])  # chunked head
        weights = self.weights(nll)
        forget = weighted_ascent_loss(nll, mask, weights, totals.tokens("forget"))
        retain = losses.retain_loss(
            self.args["retain_loss_type"],
            model,
            batch["retain"],
            reference,
            totals.tokens("retain"),
            every_position=self.open_unlearning,
        )
        loss = self.args["gamma"] * forget + self.args["alpha"] * retain
        terms = {"forget_loss": float(forget.detach()), "retain_loss": float(retain.detach())}
        return LossOutput(loss=loss, terms=terms, stats={"mean_weight": float(weights[mask].mean())})


class WGA(_WeightedAscent):
    """Weighted gradient ascent: ``w_t = sg(p_t)^beta``, so tokens the model has already forgotten stop pushing."""

    name: ClassVar[str] = "WGA"
    description: ClassVar[str] = "gradient ascent on forget tokens weighted by the model's probability^beta"
    defaults: ClassVar[dict[str, Any]] = {
        "beta": 1.0,
        "alpha": 1.0,
        "gamma": 1.0,
        "retain_loss_type": "NLL",
        "compat": "none",
    }

    def __init__(self, **method_args: Any) -> None:
        super().__init__(**method_args)
        self.check_at_least("beta", 0.0)

    def weights(self, nll: torch.Tensor) -> torch.Tensor:
        """``p_t^beta``."""
        from unlearn_tokenweighted.losses import wga_weights

        return wga_weights(nll, self.args["beta"])


class SatImp(_WeightedAscent):
    """Saturation-importance reweighting: ``w_t = sg(p_t)^beta1 * sg(1 - p_t)^beta2``."""

    name: ClassVar[str] = "SatImp"
    description: ClassVar[str] = "gradient ascent on forget tokens weighted by p^beta1 (1-p)^beta2"
    defaults: ClassVar[dict[str, Any]] = {
        "beta1": 5.0,
        "beta2": 1.0,
        "alpha": 1.0,
        "gamma": 0.1,
        "retain_loss_type": "NLL",
        "compat": "none",
    }
    embedded_protocol: ClassVar[dict[str, dict[str, Any]]] = {
        "tofu": {"trainer.method_args.gamma": 100.0},
        "muse": {"trainer.method_args.gamma": 100.0},
    }
    """The embedded targets are nearly certain of their forget answers, so the weights ``p^5 (1 - p)`` are tiny and
    ``gamma=0.1`` forgets nothing (see the README)."""

    def __init__(self, **method_args: Any) -> None:
        super().__init__(**method_args)
        self.check_at_least("beta1", 0.0)
        self.check_at_least("beta2", 0.0)

    def weights(self, nll: torch.Tensor) -> torch.Tensor:
        """``p_t^beta1 (1 - p_t)^beta2``."""
        from unlearn_tokenweighted.losses import satimp_weights

        return satimp_weights(nll, self.args["beta1"], self.args["beta2"])


class CEU(_CompatMethod):
    """CE-U: cross-entropy toward the model's own distribution with the true token removed, on the forget answers
    without their first ``ignore_first_n_answer_tokens`` tokens; no retain term."""

    name: ClassVar[str] = "CEU"
    aliases: ClassVar[tuple[str, ...]] = ("CE-U",)
    description: ClassVar[str] = "cross-entropy to the model's own distribution with the label's logit masked out"
    defaults: ClassVar[dict[str, Any]] = {"ignore_first_n_answer_tokens": 1, "compat": "none"}
    embedded_protocol: ClassVar[dict[str, dict[str, Any]]] = {
        "tofu": {"trainer.args.learning_rate": 5e-5},
        "muse": {"trainer.args.learning_rate": 4e-5},
    }
    """CE-U has no retain term: at the embedded protocol's learning rates it destroys the tiny models (see the
    README)."""
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {"compat": COMPAT_CHOICES}

    def __init__(self, **method_args: Any) -> None:
        super().__init__(**method_args)
        self.check_at_least("ignore_first_n_answer_tokens", 0)

    def unit_counts(self, batch: UnlearnBatch) -> dict[str, float]:
        """The standard counts and the forget target tokens CE-U averages over."""
        from unlearn_tokenweighted.losses import ceu_positions

        counts = super().unit_counts(batch)
        kept = ceu_positions(batch["forget"]["labels"], self.args["ignore_first_n_answer_tokens"])
        counts[count_key("forget", CEU_TOKENS)] = float(kept.sum())
        return counts

    def compute_loss(self, model: torch.nn.Module, batch: UnlearnBatch, reference: Reference) -> LossOutput:
        """CE-U on the forget batch (the retain batch is not used)."""
        from unlearn_core import losses  # torch: imported when a loss is computed, not when plugins are listed
        from unlearn_tokenweighted.losses import ceu_loss

        totals: BatchTotals = self.totals(batch)
        forget_batch = batch["forget"]
        logits = losses.model_output(model, forget_batch)  # the head on the kept rows only, chunk by chunk
        count = totals[count_key("forget", CEU_TOKENS)]
        loss = ceu_loss(logits, forget_batch["labels"], self.args["ignore_first_n_answer_tokens"], count)
        return LossOutput(loss=loss, terms={"forget_loss": float(loss.detach())})
