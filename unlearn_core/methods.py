"""The unlearning-method contract: a method turns a forget/retain batch into a loss; the runner does the rest."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    import torch

Batch = dict[str, "torch.Tensor"]
"""A padded causal-LM batch: ``input_ids``, ``attention_mask``, ``labels`` (-100 on prompt/padding), ``index``."""


@dataclass
class LossOutput:
    """The loss to back-propagate and its named terms (floats, for logs and NaN messages)."""

    loss: torch.Tensor
    terms: dict[str, float] = field(default_factory=dict)


class Reference(Protocol):
    """What the runner provides to methods that compare against the model before unlearning."""

    def forget_logprobs(self, batch: Batch) -> torch.Tensor:
        """Sequence log-probabilities ``log pi_ref(y|x)`` (sums over targets) of a forget batch, cached once."""
        ...

    def logits(self, batch: Batch) -> torch.Tensor:
        """Logits of the frozen reference model on ``batch`` (no gradient)."""
        ...


class UnlearningMethod(ABC):
    """Base class of unlearning methods.

    Subclasses set ``name`` (what ``--method``/``trainer=`` accept), optional ``aliases``, ``defaults`` (every
    ``trainer.method_args`` key they accept, with its default) and implement ``compute_loss``. The runner builds the
    method with the user's method_args already validated against ``defaults``.
    """

    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {}
    """Allowed values for method_args that are enumerations, e.g. ``{"retain_loss_type": ("NLL", "KL")}``."""

    def __init__(self, **method_args: Any) -> None:
        self.args: dict[str, Any] = {**self.defaults, **method_args}

    def needs_reference_model(self) -> bool:
        """True when ``compute_loss`` calls ``reference.logits`` (a frozen copy of the starting model is kept)."""
        return False

    def needs_reference_logprobs(self) -> bool:
        """True when ``compute_loss`` calls ``reference.forget_logprobs`` (computed once before the first update)."""
        return False

    def reads_parameters(self) -> bool:
        """True when ``compute_loss`` reads the model's parameter tensors directly (a distance to the starting
        weights, a norm penalty). Under DeepSpeed ZeRO-3 each process holds only a slice of every parameter outside
        a forward pass, so the runner refuses to start such a method there (DDP and ZeRO-1/2 keep full weights)."""
        return False

    @abstractmethod
    def compute_loss(self, model: torch.nn.Module, batch: dict[str, Batch], reference: Reference) -> LossOutput:
        """Loss for one ``{"forget": ..., "retain": ...}`` batch."""
