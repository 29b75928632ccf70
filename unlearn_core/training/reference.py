"""What methods compare against: cached reference log-probs of the forget set and a frozen reference model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from unlearn_core.data import Tokenized, collate
from unlearn_core.losses import model_logits, sequence_nll


class FrozenReference:
    """Implements ``unlearn_core.Reference`` for the runner.

    Forget log-probs are computed once, with the initial weights, before the first update, and looked up by sample
    index; a frozen copy of the model is kept only when the method asks for reference logits (KL retain loss): a
    local replica, or under ZeRO-3 an inference-only DeepSpeed engine partitioned like the trained model
    (``starting_model_copy``).
    """

    def __init__(self, model: torch.nn.Module | None = None) -> None:
        self._model = model
        self._forget_logprobs: dict[int, float] = {}

    @classmethod
    def build(
        cls,
        scorer: torch.nn.Module | None,
        forget: Sequence[Tokenized],
        *,
        need_logprobs: bool,
        keep: torch.nn.Module | None,
        batch_size: int,
        pad_id: int,
        device: torch.device,
        cached_logprobs: dict[int, float] | None = None,
    ) -> FrozenReference:
        """Snapshot what the method needs before training starts.

        ``scorer`` computes the forget log-probs (the starting model, or its frozen copy; not needed when
        ``covered``); ``keep`` is the frozen model kept for ``logits`` (None when the method does not ask for it).
        ``cached_logprobs`` (from a checkpoint, when resuming) are used instead of recomputing when they cover the
        forget set. Every process computes every log-prob with the same batches, so a partitioned ``scorer`` sees
        the same number of forwards everywhere.
        """
        ref = cls(keep)
        if need_logprobs and covered(cached_logprobs, forget):
            ref._forget_logprobs = dict(cached_logprobs or {})
        elif need_logprobs:
            if scorer is None:
                raise ValueError("forget log-probs must be computed but no scoring model was given")
            was_training = scorer.training
            scorer.eval()
            with torch.no_grad():
                for start in range(0, len(forget), batch_size):
                    batch = {k: v.to(device) for k, v in collate(forget[start : start + batch_size], pad_id).items()}
                    nll, _ = sequence_nll(model_logits(scorer, batch), batch["labels"])
                    for i, value in zip(batch["index"].tolist(), (-nll).tolist()):
                        ref._forget_logprobs[i] = value
            scorer.train(was_training)
        return ref

    @property
    def kind(self) -> str:
        """What serves ``logits``: ``none``, ``replica`` (a full local copy) or ``zero3-engine`` (partitioned)."""
        if self._model is None:
            return "none"
        return "zero3-engine" if hasattr(self._model, "module") else "replica"

    def forget_logprobs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Cached ``log pi_ref(y|x)`` for the samples of a forget batch."""
        values = [self._forget_logprobs[i] for i in batch["index"].tolist()]
        return torch.tensor(values, dtype=torch.float32, device=batch["input_ids"].device)

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits of the frozen starting model (no gradient)."""
        if self._model is None:
            raise RuntimeError("this method did not declare needs_reference_model(); no reference model was kept")
        with torch.no_grad():
            return model_logits(self._model, batch)

    def state(self) -> dict[str, float]:
        """The cached log-probs keyed by sample index (saved with checkpoints)."""
        return dict(self._forget_logprobs)


def covered(cached_logprobs: dict[int, float] | None, forget: Sequence[Tokenized]) -> bool:
    """Whether ``cached_logprobs`` hold a log-prob for every forget sample."""
    return bool(cached_logprobs) and {s.index for s in forget} <= set(cached_logprobs or {})


def starting_model_copy(
    model: torch.nn.Module, accelerator: Any, reload: Callable[[], torch.nn.Module]
) -> torch.nn.Module:
    """A frozen copy of the starting model: a local replica (single process, DDP, ZeRO-1/2), or under ZeRO-3 an
    inference-only DeepSpeed engine whose parameters stay partitioned. ``reload()`` loads the starting model again
    (a partitioned model cannot be copied)."""
    from unlearn_core.training.deepspeed_support import zero_stage
    from unlearn_core.training.zero3 import frozen_copy, inference_engine

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
        from unlearn_core.distributed import is_partitioned

        if not is_partitioned(self.model):
            return self.model
        frozen = self.frozen()
        return getattr(frozen, "module", frozen)

    def release(self) -> None:
        """Drop the frozen copy (the reference keeps it when the method needs it)."""
        self._frozen = None
