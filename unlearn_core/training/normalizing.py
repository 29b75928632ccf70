"""The runner's side of loss normalisation: the effective batch's totals, each micro-batch's backward scale, and the
logged record of a step (``unlearn_core.normalization`` has the method's side).

With ``trainer.args.average_tokens_across_devices=true`` (the default) and a method whose terms are normalised by
the effective batch, each micro-batch's loss is its share of the step's loss: the backward pass adds the shares
(no division by the micro-batches of the step), a scale by the number of processes undoes DDP's and DeepSpeed's
averaging of gradients, and the logged loss and terms are the sums of the shares over micro-batches and processes.
Otherwise (the setting off, or a method written before totals existed) each micro-batch's loss is a mean of its own,
divided by the micro-batches of the step, and the logged values are averages: results then depend on the split.
"""

from __future__ import annotations

import os
from typing import Any, Literal

import torch

from unlearn_core.errors import ConfigError
from unlearn_core.methods import LossOutput, UnlearningMethod
from unlearn_core.normalization import BatchTotals, add_counts, standard_counts

StepMode = Literal["effective", "micro-batch"]


def step_mode(method: UnlearningMethod | None, args: dict[str, Any]) -> StepMode:
    """How this run normalises its steps (finetuning normalises by the effective batch's target tokens)."""
    if not args.get("average_tokens_across_devices", True):
        return "micro-batch"
    if method is None or method.normalization() == "effective":
        return "effective"
    return "micro-batch"


def check_split(method: UnlearningMethod, args: dict[str, Any], processes: int | None = None) -> None:
    """Refuse to split the effective batch of a method that declares a whole-batch statistic (one line, exit 2)."""
    processes = processes if processes is not None else int(os.environ.get("WORLD_SIZE", "1"))
    accumulation = int(args.get("gradient_accumulation_steps") or 1)
    if method.normalization() != "whole-batch" or not args.get("average_tokens_across_devices", True):
        return
    if accumulation == 1 and processes == 1:
        return
    per_device = args["per_device_train_batch_size"]
    raise ConfigError(
        f"{method.name} with these method_args needs a statistic of the whole batch, which a split of the effective "
        f"batch ({per_device} per device × {accumulation} accumulation × {processes} processes) would change: use one "
        f"process with gradient_accumulation_steps=1, or trainer.args.average_tokens_across_devices=false to accept "
        "split-dependent results"
    )


class StepNormalizer:
    """Totals, backward scale and logged record of the optimizer steps of one training run."""

    def __init__(self, method: UnlearningMethod | None, args: dict[str, Any], accelerator: Any) -> None:
        self.method = method
        self.accelerator = accelerator
        self.processes = accelerator.num_processes
        self.mode: StepMode = step_mode(method, args)

    def totals(self, group: list[dict[str, Any]]) -> BatchTotals | None:
        """The counts of the step's micro-batches added over processes (None without effective normalisation)."""
        if self.mode != "effective":
            return None
        counts = add_counts([self._counts(batch) for batch in group])
        if self.processes > 1:
            counts = self._summed_over_processes(counts)
        return BatchTotals(counts)

    def _counts(self, batch: dict[str, Any]) -> dict[str, float]:
        return self.method.unit_counts(batch) if self.method is not None else standard_counts(batch)

    def _summed_over_processes(self, counts: dict[str, float]) -> dict[str, float]:
        keys = sorted(counts)  # every process counts the same parts, so the keys agree
        values = torch.tensor([counts[k] for k in keys], dtype=torch.float64, device=self.accelerator.device)
        summed = self.accelerator.reduce(values, reduction="sum")
        return dict(zip(keys, summed.tolist()))

    def backward_scale(self, micro_batches: int) -> float:
        """What a micro-batch's loss is multiplied by before backward."""
        return float(self.processes) if self.mode == "effective" else 1.0 / micro_batches

    def record(self, outputs: list[LossOutput], step: int, epoch: float, lr: float) -> dict[str, Any]:
        """The step's logged values: the effective batch's loss and terms (added shares, or averages of means) and
        the stats averaged, the same on every process."""
        add = self.mode == "effective"
        terms: dict[str, float] = {"loss": sum(float(o.loss.detach()) for o in outputs)}
        for out in outputs:
            for key, value in out.terms.items():
                terms[key] = terms.get(key, 0.0) + value
        if not add:
            terms = {k: v / len(outputs) for k, v in terms.items()}
        stats: dict[str, float] = {}
        for out in outputs:
            for key, value in out.stats.items():
                stats[key] = stats.get(key, 0.0) + value / len(outputs)
        terms = self._over_processes(terms, "sum" if add else "mean")
        stats = self._over_processes(stats, "mean")
        return {
            "step": step,
            "epoch": round(epoch, 4),
            "loss": terms.pop("loss"),
            "learning_rate": lr,
            **terms,
            **stats,
        }

    def _over_processes(self, values: dict[str, float], reduction: str) -> dict[str, float]:
        if self.processes == 1 or not values:
            return values
        keys = list(values)
        tensor = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=self.accelerator.device)
        return dict(zip(keys, self.accelerator.reduce(tensor, reduction=reduction).tolist()))
