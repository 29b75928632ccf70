"""The unlearning-method contract: a method turns a forget/retain batch into a loss; the runner does the rest.

A method declares what it needs and the runner provides it (nothing here owns a loop):

- ``forget_fields()``: extra answers of each forget row (an "I don't know" answer, a paraphrase), collated in the
  forget batch's row order as ``batch["forget_fields"][name]``;
- ``reference_logprob_fields()``: fields whose ``log pi_ref`` the runner computes once with the starting weights and
  caches (``reference.logprobs(batch, field)``); ``FORGET_FIELD`` is the forget answer itself;
- ``needs_reference_model()``: a frozen copy of the starting model (``reference.logits``,
  ``reference.module_outputs``);
- ``hidden_state_modules()``: modules whose outputs the loss reads (``module_outputs(model, batch, pattern)``);
- ``trainable_parameters()``: which parameters train (the others get ``requires_grad=False``);
- ``state_dict()``/``load_state_dict()`` with ``on_step_end``/``on_epoch_end``: state the method updates during
  training (a dual variable, a fixed random vector), saved with every checkpoint and restored by ``--resume``;
- ``normalization()``, ``unit_counts()``: what each term is averaged over, so that the runner can make the loss that
  of the effective batch however it is split (``unlearn_core.normalization``).

A method that reads the logits of several parts may get them with ``shared_forward.part_outputs(model, batch,
parts)``: the runner then runs them as the run's ``trainer.args.forward_mode`` and ``target_logits_only`` say (one
forward for forget and retain, logits only at answer tokens); with the defaults it is one plain forward per part.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from unlearn_core.normalization import TOTALS_KEY, BatchTotals, Normalization, standard_counts

if TYPE_CHECKING:
    import torch

    from unlearn_core.chunked.deferred import DeferredLogits
    from unlearn_core.hidden_states import ModuleOutputs

Batch = dict[str, "torch.Tensor"]
"""A padded causal-LM batch: ``input_ids``, ``attention_mask``, ``labels`` (-100 on prompt/padding), ``index``."""

UnlearnBatch = dict[str, Any]
"""What ``compute_loss`` gets: ``{"forget": Batch, "retain": Batch}``, plus ``"forget_fields": {name: Batch}`` (rows in
the forget batch's order) for the fields of ``forget_fields()`` and ``reference_logprob_fields()``."""

FORGET_FIELD = "forget"
"""The name of the forget answer itself in ``reference_logprob_fields()`` and ``Reference.logprobs``."""

RETAIN_LOSS_TYPES: tuple[str, ...] = ("NLL", "KL")
"""The shared retain losses of ``losses.retain_loss`` (``trainer.method_args.retain_loss_type``)."""

REFERENCE_RETAIN_LOSSES: tuple[str, ...] = ("KL",)
"""Retain losses that compare against the frozen starting model."""


@dataclass
class LossOutput:
    """The loss to back-propagate and its named terms (floats, for logs and NaN messages).

    ``terms`` are parts of the loss, normalised like it (with ``normalization() == "effective"`` each micro-batch's
    term is its share, and the runner adds the shares up); ``stats`` are other values to log as they are (a dual
    variable, a mean weight), averaged over micro-batches and processes.
    """

    loss: torch.Tensor
    terms: dict[str, float] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)


class Reference(Protocol):
    """What the runner provides to methods that compare against the model before unlearning."""

    def logprobs(self, batch: Batch, field: str = FORGET_FIELD) -> torch.Tensor:
        """Cached sequence log-probabilities ``log pi_ref(y|x)`` (sums over targets) of the rows of ``batch``, a
        batch of ``field`` (one of ``reference_logprob_fields()``), computed once with the starting weights."""
        ...

    def forget_logprobs(self, batch: Batch) -> torch.Tensor:
        """``logprobs(batch, FORGET_FIELD)``: the cached log-probabilities of forget answers."""
        ...

    def logits(self, batch: Batch) -> torch.Tensor:
        """Logits of the frozen reference model on ``batch`` (no gradient)."""
        ...

    def module_outputs(self, batch: Batch, pattern: str) -> ModuleOutputs:
        """Outputs of the frozen reference model's modules whose names fully match ``pattern`` (no gradient)."""
        ...

    def output(self, batch: Batch) -> torch.Tensor | DeferredLogits:
        """The frozen reference model's output for the losses of ``unlearn_core.losses`` (no gradient): its hidden
        states and head (``DeferredLogits``, so the logits are made chunk by chunk) when the model allows, else its
        logits."""
        ...


class EpochEnd(Protocol):
    """What ``UnlearningMethod.on_epoch_end`` is given."""

    epoch: int
    """Epochs completed so far (1 after the first)."""
    step: int
    """Optimizer steps completed so far."""
    reference: Reference | None
    """The reference ``compute_loss`` gets (a retain KL averaged over the epoch compares with it)."""

    def mean(self, value: Callable[[torch.nn.Module, UnlearnBatch], torch.Tensor | float]) -> float:
        """Mean of ``value(model, batch)`` over the batches of the epoch just finished on every process (the same
        result on each), with the current weights, without gradient and in eval mode."""
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
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {"retain_loss_type": RETAIN_LOSS_TYPES}
    """Allowed values for method_args that are enumerations (checked only for keys in ``defaults``); extend it with
    ``{**UnlearningMethod.choices, "key": (...)}``."""
    embedded_protocol: ClassVar[dict[str, dict[str, Any]]] = {}
    """Settings of this method for a benchmark's embedded tiny model, by benchmark name: dotted keys such as
    ``{"tofu": {"trainer.args.learning_rate": 5e-4, "trainer.method_args.beta": 1.0}}``, applied after the
    benchmark's embedded protocol where the user did not set the key, and only when the embedded model is used (the
    published defaults in ``defaults`` stay those of the paper or the reference)."""

    def __init__(self, **method_args: Any) -> None:
        self.args: dict[str, Any] = {**self.defaults, **method_args}

    # ---- what the method reads ------------------------------------------------------------------------------------
    def needs_reference_model(self) -> bool:
        """True when ``compute_loss`` calls ``reference.logits`` or ``reference.module_outputs`` (a frozen copy of the
        starting model is kept); by default, when ``retain_loss_type`` is one that compares with it (KL)."""
        return self.args.get("retain_loss_type") in REFERENCE_RETAIN_LOSSES

    def needs_reference_logprobs(self) -> bool:
        """Shorthand for ``reference_logprob_fields() == (FORGET_FIELD,)``: ``reference.forget_logprobs`` is read."""
        return False

    def reference_logprob_fields(self) -> tuple[str, ...]:
        """Fields whose reference log-probs ``compute_loss`` reads with ``reference.logprobs(batch, field)``:
        ``FORGET_FIELD`` (the forget answer) and names from ``forget_fields()``."""
        return (FORGET_FIELD,) if self.needs_reference_logprobs() else ()

    def forget_fields(self) -> tuple[str, ...]:
        """Extra answers of each forget row that ``compute_loss`` reads as ``batch["forget_fields"][name]``; a run
        whose forget data lacks one is refused before training."""
        return ()

    def hidden_state_modules(self) -> tuple[str, ...]:
        """Regular expressions (full match on module names, e.g. ``model\\.layers\\.7``) of the modules whose outputs
        ``compute_loss`` reads with ``module_outputs``; each must match a module, checked before training. Under DDP
        the runner then averages the gradients itself (layers after a hooked one may get none)."""
        return ()

    def trainable_parameters(self) -> tuple[str, ...] | None:
        """Regular expressions (full match on parameter names) of the parameters to train; the others are frozen
        before the optimizer is built. None (the default) trains every parameter."""
        return None

    def reads_parameters(self) -> bool:
        """True when ``compute_loss`` reads the model's parameter tensors directly (a distance to the starting
        weights, a norm penalty). Under DeepSpeed ZeRO-3 each process holds only a slice of every parameter outside
        a forward pass, so the runner refuses to start such a method there (DDP and ZeRO-1/2 keep full weights)."""
        return False

    # ---- how terms are normalised ----------------------------------------------------------------------------------
    def normalization(self) -> Normalization:
        """What ``compute_loss``'s terms are averaged over (see ``unlearn_core.normalization``):

        ``"effective"``: each term's sum is divided by a count of ``self.totals(batch)``, so the result does not
        depend on how the effective batch is split; ``"micro-batch"`` (the default, for methods written before
        totals existed): terms are means of the micro-batch and the runner averages them; ``"whole-batch"``: a term
        needs an unsplittable statistic of the whole batch, and the runner refuses to split it.
        """
        return "micro-batch"

    def unit_counts(self, batch: UnlearnBatch) -> dict[str, float]:
        """Counts of one micro-batch that terms are divided by: target tokens and rows of every part (``forget``,
        ``retain``, each forget field). Extend it (calling this first) for a count of your own, computed from the
        labels alone; the runner adds them up over the effective batch."""
        return standard_counts(batch)

    def totals(self, batch: UnlearnBatch) -> BatchTotals:
        """Counts of the effective batch, given by the runner, or those of ``batch`` itself when it gave none (a
        single batch in a test, an evaluation)."""
        given = batch.get(TOTALS_KEY)
        return given if given is not None else BatchTotals(self.unit_counts(batch))

    # ---- state kept across steps ----------------------------------------------------------------------------------
    def on_step_end(self, step: int, terms: Mapping[str, float]) -> None:
        """Called after each applied optimizer step (not a skipped one) with ``loss``, the loss terms and stats of
        that step: the effective batch's values (the same on every process)."""
        return None

    def on_epoch_end(self, epoch: EpochEnd) -> None:
        """Called after each epoch, before evaluation and the epoch's checkpoint."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """State to checkpoint: top-level values are tensors (saved as safetensors) or JSON values; the same on
        every process."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (on ``--resume``, before training goes on)."""
        return None

    @abstractmethod
    def compute_loss(self, model: torch.nn.Module, batch: UnlearnBatch, reference: Reference) -> LossOutput:
        """Loss for one ``{"forget": ..., "retain": ...}`` batch."""
