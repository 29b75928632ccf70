"""What methods compare against: cached reference log-probs of the forget set and a frozen reference model."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import torch

from unlearn_core.chunked.deferred import DeferredLogits
from unlearn_core.data import Tokenized, collate
from unlearn_core.distributed import is_partitioned
from unlearn_core.hidden_states import ModuleOutputs, module_outputs, unwrap
from unlearn_core.losses import Scores, model_logits, model_output, sequence_nll
from unlearn_core.methods import FORGET_FIELD
from unlearn_core.models.lora import adapters_off
from unlearn_core.training.deepspeed_support import zero_stage
from unlearn_core.training.zero3 import frozen_copy, inference_engine

CachedLogprobs = dict[str, dict[int, float]]
"""Reference log-probs by field name, then by sample index."""


class FrozenReference:
    """Implements ``unlearn_core.Reference`` for the runner.

    Reference log-probs of the forget answers and of any extra answer field the method names are computed once, with
    the initial weights, before the first update, and looked up by sample index; a frozen copy of the model is kept
    only when the method asks for reference logits or module outputs (KL retain loss, RMU): a local replica, or under
    ZeRO-3 an inference-only DeepSpeed engine partitioned like the trained model (``starting_model_copy``).
    """

    def __init__(self, model: torch.nn.Module | None = None, adapters_disabled: bool = False) -> None:
        self._model = model
        self._adapters_disabled = adapters_disabled
        """``model`` is the trained PEFT model, used with its adapters disabled (LoRA: no copy)."""
        self._logprobs: dict[str, dict[int, float]] = {}

    @classmethod
    def build(
        cls,
        scorer: torch.nn.Module | None,
        forget: Sequence[Tokenized],
        *,
        fields: Sequence[str],
        keep: torch.nn.Module | None,
        batch_size: int,
        pad_id: int,
        device: torch.device,
        cached_logprobs: CachedLogprobs | None = None,
        adapters_disabled: bool = False,
    ) -> FrozenReference:
        """Snapshot what the method needs before training starts.

        ``fields`` are the ``reference_logprob_fields()`` whose log-probs to compute with ``scorer`` (the starting
        model, or its frozen copy; not needed when ``covered``); ``keep`` is the frozen model kept for ``logits``
        (None when the method does not ask for it). ``cached_logprobs`` (from a checkpoint, when resuming) are used
        instead of recomputing for each field they cover. Every process computes every log-prob with the same
        batches, so a partitioned ``scorer`` sees the same number of forwards everywhere. ``adapters_disabled``:
        ``keep`` is the PEFT model being trained, run with its adapters disabled (and the caller scores with them
        disabled too).
        """
        ref = cls(keep, adapters_disabled)
        for name in fields:
            cached = (cached_logprobs or {}).get(name)
            if covered(cached_logprobs, forget, (name,)):
                ref._logprobs[name] = dict(cached or {})
                continue
            if scorer is None:
                raise ValueError("reference log-probs must be computed but no scoring model was given")
            ref._logprobs[name] = sequence_logprobs(scorer, field_samples(forget, name), batch_size, pad_id, device)
        return ref

    @property
    def kind(self) -> str:
        """What serves ``logits``: ``none``, ``replica`` (a full local copy) or ``zero3-engine`` (partitioned)."""
        if self._adapters_disabled:
            return "adapter-disabled"
        if self._model is None:
            return "none"
        return "zero3-engine" if hasattr(self._model, "module") else "replica"

    def logprobs(self, batch: dict[str, torch.Tensor], field: str = FORGET_FIELD) -> torch.Tensor:
        """Cached ``log pi_ref(y|x)`` of the rows of ``batch``, a batch of ``field``."""
        if field not in self._logprobs:
            declared = ", ".join(self._logprobs) or "none"
            raise RuntimeError(
                f"no reference log-probs of '{field}' were cached (reference_logprob_fields() declared: {declared})"
            )
        values = [self._logprobs[field][i] for i in batch["index"].tolist()]
        return torch.tensor(values, dtype=torch.float32, device=batch["input_ids"].device)

    def forget_logprobs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Cached ``log pi_ref(y|x)`` for the samples of a forget batch."""
        return self.logprobs(batch, FORGET_FIELD)

    def _frozen(self) -> torch.nn.Module:
        if self._model is None:
            raise RuntimeError("this method did not declare needs_reference_model(); no reference model was kept")
        return self._model

    def _starting(self) -> Any:
        """No gradient, and for a LoRA run the adapters disabled."""
        if not self._adapters_disabled:
            return torch.no_grad()

        stack = contextlib.ExitStack()
        stack.enter_context(torch.no_grad())
        stack.enter_context(adapters_off(self._frozen()))
        return stack

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits of the frozen starting model (no gradient)."""
        with self._starting():
            return model_logits(self._frozen(), batch)

    def output(self, batch: dict[str, torch.Tensor]) -> Scores:
        """The frozen starting model's hidden states and head (``DeferredLogits``) or logits (no gradient)."""
        with self._starting():
            output = model_output(self._frozen(), batch)
        if self._adapters_disabled and isinstance(output, DeferredLogits) and output.weight is None:
            output.project = self._head_without_adapters(output.project)  # an adapted head: off when it runs
        return output

    def _head_without_adapters(self, head: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], Any]:
        def project(hidden: torch.Tensor) -> torch.Tensor:
            with self._starting():
                return head(hidden)

        return project

    def module_outputs(self, batch: dict[str, torch.Tensor], pattern: str) -> ModuleOutputs:
        """Outputs of the frozen starting model's modules named like ``pattern`` (no gradient)."""
        with self._starting():
            return module_outputs(self._frozen(), batch, pattern)

    def state(self) -> CachedLogprobs:
        """The cached log-probs by field, then by sample index (saved with checkpoints)."""
        return {name: dict(values) for name, values in self._logprobs.items()}


def field_samples(forget: Sequence[Tokenized], name: str) -> list[Tokenized]:
    """The forget samples themselves (``FORGET_FIELD``), or their extra answers ``name``."""
    return list(forget) if name == FORGET_FIELD else [sample.extra(name) for sample in forget]


def sequence_logprobs(
    scorer: torch.nn.Module, samples: Sequence[Tokenized], batch_size: int, pad_id: int, device: torch.device
) -> dict[int, float]:
    """``log pi(y|x)`` (sums over targets) of each sample under ``scorer``, by sample index, without gradient."""
    values: dict[int, float] = {}
    was_training = scorer.training
    scorer.eval()
    with torch.no_grad():
        for start in range(0, len(samples), batch_size):
            batch = {k: v.to(device) for k, v in collate(samples[start : start + batch_size], pad_id).items()}
            nll, _ = sequence_nll(model_output(scorer, batch), batch["labels"])
            values.update(zip(batch["index"].tolist(), (-nll).tolist()))
    scorer.train(was_training)
    return values


def covered(cached_logprobs: CachedLogprobs | None, forget: Sequence[Tokenized], fields: Sequence[str]) -> bool:
    """Whether ``cached_logprobs`` hold a log-prob of every forget sample for each of ``fields``."""
    indices, cached = {s.index for s in forget}, cached_logprobs or {}
    return all(bool(cached.get(name)) and indices <= set(cached[name]) for name in fields)


def starting_model_copy(
    model: torch.nn.Module, accelerator: Any, reload: Callable[[], torch.nn.Module]
) -> torch.nn.Module:
    """A frozen copy of the starting model: a local replica (single process, DDP, ZeRO-1/2), or under ZeRO-3 an
    inference-only DeepSpeed engine whose parameters stay partitioned. ``reload()`` loads the starting model again
    (a partitioned model cannot be copied)."""
    frozen = frozen_copy(model, reload)
    if zero_stage(accelerator) == 3:
        return inference_engine(frozen, accelerator)
    return frozen.to(accelerator.device)


class StartingModel:
    """The starting weights for the work before training: evaluating the target, the forget log-probs, the frozen
    reference. That is the model itself, except when it was loaded partitioned under ZeRO-3: it cannot run a forward
    before Accelerate prepares it, so one frozen inference engine is built on first use and serves all three."""

    def __init__(self, model: torch.nn.Module, accelerator: Any, reload: Callable[[], torch.nn.Module]) -> None:
        self.model, self.accelerator, self.reload = model, accelerator, reload
        self._frozen: torch.nn.Module | None = None

    def frozen(self) -> torch.nn.Module:
        """The frozen copy (built once): a replica, or under ZeRO-3 a DeepSpeed inference engine."""
        if self._frozen is None:
            self._frozen = starting_model_copy(self.model, self.accelerator, self.reload)
        return self._frozen

    def scorer(self) -> torch.nn.Module:
        """A module that runs forwards with the starting weights now (the engine's module under ZeRO-3)."""
        if not is_partitioned(self.model):
            return unwrap(self.model)  # a PEFT model's causal LM (the adapters in its layers): the fast scorers
        frozen = self.frozen()
        return getattr(frozen, "module", frozen)

    def release(self) -> None:
        """Drop the frozen copy (the reference keeps it when the method needs it)."""
        self._frozen = None
