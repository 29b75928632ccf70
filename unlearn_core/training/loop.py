"""The training loop shared by finetuning and every unlearning method."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from unlearn_core.errors import TrainingError
from unlearn_core.losses import mean_token_nll, model_logits
from unlearn_core.methods import LossOutput, Reference, UnlearningMethod
from unlearn_core.training.batches import FinetuneBatches, ForgetRetainBatches
from unlearn_core.training.optim import build_optimizer, build_scheduler, warmup_steps

EvalCallback = Callable[[torch.nn.Module, int, float], dict[str, Any]]


@dataclass
class TrainResult:
    """What a training run did."""

    steps: int
    epochs: float
    last_loss: float
    seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)
    evaluations: list[dict[str, Any]] = field(default_factory=list)


def _to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: (_to_device(v, device) if isinstance(v, dict) else v.to(device)) for k, v in batch.items()}


def _finetune_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> LossOutput:
    loss = mean_token_nll(model_logits(model, batch), batch["labels"])
    return LossOutput(loss, {"loss": float(loss.detach())})


def train(
    model: torch.nn.Module,
    batches: FinetuneBatches | ForgetRetainBatches,
    args: dict[str, Any],
    *,
    accelerator: Any,
    method: UnlearningMethod | None = None,
    reference: Reference | None = None,
    log_path: Path | None = None,
    evaluate: EvalCallback | None = None,
    description: str = "train",
) -> TrainResult:
    """Run ``num_train_epochs`` (or ``max_steps``) optimizer steps; raise TrainingError on a non-finite loss."""
    from tqdm.auto import tqdm

    accum = args["gradient_accumulation_steps"]
    steps_per_epoch = max(1, math.ceil(len(batches) / accum))
    total = args["max_steps"] if args["max_steps"] > 0 else math.ceil(steps_per_epoch * args["num_train_epochs"])
    optimizer = build_optimizer(model, args)
    scheduler = build_scheduler(optimizer, args["lr_scheduler_type"], warmup_steps(args, steps_per_epoch), total)
    if args["gradient_checkpointing"] and hasattr(model, "gradient_checkpointing_enable"):
        model.gradient_checkpointing_enable()
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    model.train()
    result = TrainResult(0, 0.0, float("nan"), 0.0)
    skips_left = args["skip_nonfinite_steps"]
    log = log_path.open("w") if log_path is not None and accelerator.is_main_process else None
    interval = 0.5 if sys.stderr.isatty() else 30.0  # a log file gets a line every 30 s, not one per step
    bar = tqdm(
        total=total,
        desc=description,
        disable=not accelerator.is_local_main_process,
        dynamic_ncols=True,
        mininterval=interval,
    )
    start = time.perf_counter()
    step, epoch = 0, 0
    try:
        while step < total:
            micro = 0
            pending: list[LossOutput] = []
            for batch in batches.epoch(epoch):
                batch = _to_device(batch, accelerator.device)
                stepping = (micro + 1) % accum == 0 or micro + 1 == len(batches)
                with accelerator.autocast():
                    out = method.compute_loss(model, batch, reference) if method else _finetune_loss(model, batch)
                if not torch.isfinite(out.loss.detach()):
                    if skips_left > 0:
                        skips_left -= 1
                        optimizer.zero_grad(set_to_none=True)
                        micro, pending = 0, []
                        continue
                    terms = ", ".join(f"{k}={v:.4g}" for k, v in out.terms.items())
                    raise TrainingError(f"non-finite loss at step {step + 1} (epoch {epoch + 1}): {terms}")
                n_in_step = accum if micro // accum < len(batches) // accum else len(batches) % accum or accum
                if stepping:
                    accelerator.backward(out.loss / n_in_step)
                else:
                    with accelerator.no_sync(model):
                        accelerator.backward(out.loss / n_in_step)
                pending.append(out)
                micro += 1
                if not stepping:
                    continue
                if args["max_grad_norm"] and args["max_grad_norm"] > 0:
                    accelerator.clip_grad_norm_(model.parameters(), args["max_grad_norm"])
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                record = _record(pending, step, epoch + micro / len(batches), scheduler.get_last_lr()[0])
                pending = []
                result.history.append(record)
                result.last_loss = record["loss"]
                if log is not None and step % max(1, args["logging_steps"]) == 0:
                    log.write(json.dumps(record) + "\n")
                    log.flush()
                bar.set_postfix(loss=f"{record['loss']:.4f}", epoch=f"{record['epoch']:.2f}")
                bar.update(1)
                if evaluate and args["eval_strategy"] == "steps" and step % args["eval_steps"] == 0:
                    result.evaluations.append(evaluate(model, step, record["epoch"]))
                if step >= total:
                    break
            epoch += 1
            if evaluate and args["eval_strategy"] == "epoch":
                result.evaluations.append(evaluate(model, step, float(epoch)))
    finally:
        bar.close()
        if log is not None:
            log.close()
    result.steps, result.epochs = step, step / steps_per_epoch
    result.seconds = time.perf_counter() - start
    model.eval()
    return result


def _record(outputs: list[LossOutput], step: int, epoch: float, lr: float) -> dict[str, Any]:
    terms: dict[str, float] = {}
    for out in outputs:
        for key, value in out.terms.items():
            terms[key] = terms.get(key, 0.0) + value / len(outputs)
    loss = sum(float(o.loss.detach()) for o in outputs) / len(outputs)
    return {"step": step, "epoch": round(epoch, 4), "loss": loss, "learning_rate": lr, **terms}
