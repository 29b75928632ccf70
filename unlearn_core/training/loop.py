"""The training loop shared by finetuning and every unlearning method."""

from __future__ import annotations

import contextlib
import functools
import math
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from unlearn_core.errors import TrainingError
from unlearn_core.losses import mean_token_nll, model_output
from unlearn_core.methods import LossOutput, Reference, UnlearningMethod
from unlearn_core.normalization import TOTALS_KEY
from unlearn_core.progress import Progress
from unlearn_core.shared_forward import FORWARD_KEY, ForwardSettings
from unlearn_core.training.batches import FinetuneBatches, ForgetRetainBatches, to_device
from unlearn_core.training.checkpoint import CheckpointManager, Layout, TrainState
from unlearn_core.training.deepspeed_support import configure_deepspeed, is_deepspeed, sync_boundary
from unlearn_core.training.method_hooks import (
    EpochAverages,
    FrozenParameters,
    average_gradients,
    averages_gradients_itself,
    step_terms,
)
from unlearn_core.training.method_state import load_method_state
from unlearn_core.training.nonfinite import skip_or_stop
from unlearn_core.training.normalizing import StepNormalizer
from unlearn_core.training.optim import build_optimizer, build_scheduler, warmup_steps
from unlearn_core.training.runlog import JsonlLog
from unlearn_core.training.settings import BestTracker, eval_interval
from unlearn_core.training.signals import StopRequest, TrainingInterrupted
from unlearn_core.training.tracking import RunTracker

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
    checkpoint: Path | None = None
    """The newest checkpoint written (or resumed from)."""
    resumed_from: int | None = None
    best: dict[str, Any] | None = None
    skipped: int = 0
    model: Any = None
    """The model as prepared by Accelerate (a DDP wrapper or DeepSpeed engine): what ``get_state_dict`` needs."""
    trainable_parameters: int = 0
    """Elements of the parameters that trained (``UnlearningMethod.trainable_parameters()`` may freeze some)."""
    loss_normalization: str = "effective"
    """``effective`` (losses of the effective batch, whatever its split) or ``micro-batch`` (means of means)."""


def _finetune_loss(model: torch.nn.Module, batch: dict[str, Any]) -> LossOutput:
    """Mean token cross-entropy over the effective batch's target tokens (the batch's own without totals)."""
    totals = batch.get(TOTALS_KEY)
    count = totals.tokens("batch") if totals is not None else None
    loss = mean_token_nll(model_output(model, batch), batch["labels"], count)
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
    checkpoints: CheckpointManager | None = None,
    resume: bool = False,
    tracker: RunTracker | None = None,
) -> TrainResult:
    """Run ``num_train_epochs`` (or ``max_steps``) optimizer steps with checkpoints, resumption and clean stops;
    ``tracker`` receives each logged step and evaluation (``trainer.args.report_to``).

    Raises TrainingError on a non-finite loss or gradient (beyond ``skip_nonfinite_steps``) and
    TrainingInterrupted after checkpointing when SIGINT/SIGTERM arrives.
    """
    loop = _Loop(model, batches, args, accelerator, method, reference, evaluate, checkpoints, tracker)
    return loop.run(log_path, description, resume)


class _Loop:
    """One training run; its state after each optimizer step is what a checkpoint records."""

    def __init__(
        self,
        model: torch.nn.Module,
        batches: FinetuneBatches | ForgetRetainBatches,
        args: dict[str, Any],
        accelerator: Any,
        method: UnlearningMethod | None,
        reference: Reference | None,
        evaluate: EvalCallback | None,
        checkpoints: CheckpointManager | None,
        tracker: RunTracker | None = None,
    ) -> None:
        self.batches, self.args, self.accelerator = batches, args, accelerator
        self.method, self.reference, self.evaluate, self.checkpoints = method, reference, evaluate, checkpoints
        self.accum = args["gradient_accumulation_steps"]
        self.n_micro = len(batches)
        if self.n_micro == 0:
            raise TrainingError("nothing to train on: the training data is empty")
        steps_per_epoch = max(1, math.ceil(self.n_micro / self.accum))
        self.steps_per_epoch = steps_per_epoch
        epochs = args["num_train_epochs"]
        self.total = args["max_steps"] if args["max_steps"] > 0 else math.ceil(steps_per_epoch * epochs)
        self.layout = Layout(self.total, self.n_micro, self.accum, accelerator.num_processes)
        self.eval_every = eval_interval(args.get("eval_steps"), self.total)
        self.frozen = FrozenParameters(model, method)  # before the optimizer and Accelerate/DeepSpeed see them
        optimizer = build_optimizer(model, args)
        # The scheduler is stepped here once per optimizer step: Accelerate's wrapper would step it once per process.
        self.scheduler = build_scheduler(
            optimizer, args["lr_scheduler_type"], warmup_steps(args, steps_per_epoch), self.total
        )
        if args["gradient_checkpointing"]:  # transformers 5 renamed it activation checkpointing
            enable = getattr(model, "activation_checkpointing_enable", None)
            enable = enable or getattr(model, "gradient_checkpointing_enable", None)
            if enable is not None:
                enable()
        configure_deepspeed(accelerator, args)
        self.model, self.optimizer = accelerator.prepare(model, optimizer)
        self.local_gradients = averages_gradients_itself(self.model, method)
        """DDP does not synchronise: the loop averages the gradients before each optimizer step."""
        self.normalizer = StepNormalizer(method, args, accelerator)
        self.forward_settings = ForwardSettings.of(args)
        self.state = TrainState()
        self.best = BestTracker(args)
        self.skip_limit = int(args.get("skip_nonfinite_steps") or 0)
        self.saved_step: int | None = None
        self.last_checkpoint: Path | None = None
        self.stop = StopRequest(graceful=checkpoints is not None)
        self.stop_agreed = False
        self.log = JsonlLog(None)
        self.tracker = tracker or RunTracker()
        self.history: list[dict[str, Any]] = []

    # ---- the run ------------------------------------------------------------------------------------------------
    def run(self, log_path: Path | None, description: str, resume: bool) -> TrainResult:
        resumed_from = self._resume() if resume else None
        if self.checkpoints is not None and self.accelerator.is_main_process:
            self.checkpoints.clean_leftovers()
        main = self.accelerator.is_main_process
        self.log = JsonlLog(log_path if main else None, resume_after=resumed_from)
        self.history = list(self.log.kept)
        self.model.train()
        self.bar = Progress(
            self.total, description, initial=self.state.step, enabled=self.accelerator.is_local_main_process
        )
        start = time.perf_counter()
        state = self.state
        try:
            with self.stop:
                while state.step < self.total or state.micro > 0:
                    if state.step < self.total:
                        self._epoch()
                    state.epoch += 1
                    state.micro = 0
                    self._epoch_end()
                    if self.evaluate and self.args["eval_strategy"] == "epoch":
                        self._evaluate(float(state.epoch))
                    if self.checkpoints is not None and self.checkpoints.due_after_epoch():
                        self._save()
                    self._check_stop()
                if self.checkpoints is not None and self.checkpoints.periodic and self.saved_step != state.step:
                    self._save()
                self._check_stop()
            self._load_best()
        except BaseException:
            self.bar.close(stopped=True)
            raise
        finally:
            self.bar.close()
            self.log.close()
        self.frozen.release()
        self.model.eval()
        return TrainResult(
            state.step,
            state.step / self.steps_per_epoch,
            state.last_loss,
            time.perf_counter() - start,
            history=self.history,
            evaluations=state.evaluations,
            checkpoint=self.last_checkpoint,
            resumed_from=resumed_from,
            best=self.best.best,
            skipped=state.skipped,
            model=self.model,
            trainable_parameters=self.frozen.count,
            loss_normalization=self.normalizer.mode,
        )

    def _resume(self) -> int:
        latest = self.checkpoints.latest() if self.checkpoints is not None else None
        if latest is None:
            where = self.checkpoints.root if self.checkpoints is not None else "this run"
            raise TrainingError(f"nothing to resume: no complete checkpoint in {where}")
        self.state = self.checkpoints.load(  # type: ignore[union-attr]
            latest, self.model, self.optimizer, self.scheduler, self.accelerator, self.layout
        )
        self.saved_step, self.last_checkpoint = self.state.step, latest
        self.best.best = self.state.best
        method_state = load_method_state(latest) if self.method is not None else None
        if method_state is not None:
            self.method.load_state_dict(method_state)  # type: ignore[union-attr]
        if self.best.best is not None:
            self.checkpoints.protected = {self.best.best["step"]}  # type: ignore[union-attr]
        return self.state.step

    def _steps_of_epoch(self) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        """The micro-batches of each optimizer step left in this epoch, with the index just after the step's last."""
        group: list[dict[str, Any]] = []
        for index, batch in enumerate(self.batches.epoch(self.state.epoch)):
            if index < self.state.micro:
                continue  # consumed before the checkpoint this run resumed from
            group.append(batch)
            if (index + 1) % self.accum == 0 or index + 1 == self.n_micro:
                yield index + 1, group
                group = []

    def _epoch(self) -> None:
        for end, group in self._steps_of_epoch():
            totals = self.normalizer.totals(group)
            pending: list[LossOutput] = []
            bad: dict[str, Any] | None = None
            for position, batch in enumerate(group):
                out = self._micro_step(batch, totals, stepping=position == len(group) - 1, in_step=len(group))
                if bad is None and not torch.isfinite(out.loss.detach()):
                    bad = {"kind": "loss", "terms": {"loss": float(out.loss.detach()), **out.terms}}
                pending.append(out)
            self.state.micro = end
            self._step(pending, bad)
            if self.state.step >= self.total:
                return

    def _micro_step(self, batch: dict[str, Any], totals: Any, *, stepping: bool, in_step: int) -> LossOutput:
        """Forward and backward of one micro-batch; its loss is scaled to its share of the step's gradient."""
        batch = to_device(batch, self.accelerator.device)
        if totals is not None:
            batch[TOTALS_KEY] = totals
        if self.method is not None:
            batch[FORWARD_KEY] = self.forward_settings
        unsynced = self.accelerator.no_sync(self.model) if self.local_gradients else contextlib.nullcontext()
        with self.accelerator.autocast(), unsynced:
            if self.method is not None:
                out = self.method.compute_loss(self.model, batch, self.reference)
            else:
                out = _finetune_loss(self.model, batch)
        scaled = out.loss * self.normalizer.backward_scale(in_step)
        sync_boundary(self.accelerator, stepping)
        if stepping and not self.local_gradients:
            self.accelerator.backward(scaled)
        else:
            with self.accelerator.no_sync(self.model):
                self.accelerator.backward(scaled)
        return out

    # ---- one optimizer step -------------------------------------------------------------------------------------
    def _grad_norm(self) -> float | None:
        if self.accelerator.scaler is not None:
            return None  # fp16 loss scaling skips overflowing steps itself
        max_norm = self.args["max_grad_norm"]
        if is_deepspeed(self.accelerator):
            # the engine has already stepped (inside backward) and clipped by the config; it reports the norm it saw
            norm = self.accelerator.clip_grad_norm_(self.model.parameters(), max_norm or 0.0)
            return None if norm is None else float(norm)
        if max_norm and max_norm > 0:
            norm = self.accelerator.clip_grad_norm_(self.model.parameters(), max_norm)
            return None if norm is None else float(norm)
        grads = [p.grad.detach().float() for p in self.model.parameters() if p.grad is not None]
        if not grads:
            return 0.0
        return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))

    def _agree(self, bad: bool) -> tuple[bool, bool]:
        """Every process learns whether any saw a non-finite value or a stop signal, so all act alike."""
        stop = self.stop.requested
        if self.accelerator.num_processes > 1:
            flags = torch.tensor([float(bad), float(stop)], device=self.accelerator.device)
            flags = self.accelerator.gather(flags).view(-1, 2).amax(dim=0)
            bad, stop = bool(flags[0]), bool(flags[1])
        self.stop_agreed = stop
        return bad, stop

    def _step(self, pending: list[LossOutput], bad: dict[str, Any] | None) -> None:
        state = self.state
        if self.local_gradients:
            average_gradients(self.model)
        grad_norm = self._grad_norm()
        if bad is None and grad_norm is not None and not math.isfinite(grad_norm):
            bad = {"kind": "gradients", "terms": {"grad_norm": grad_norm}}
        any_bad, _ = self._agree(bad is not None)
        if any_bad and bad is None:
            bad = {"kind": "loss or gradients on another process", "terms": {}}
        epoch = state.epoch + state.micro / self.n_micro
        record = self.normalizer.record(pending, state.step + 1, epoch, self.scheduler.get_last_lr()[0])
        if grad_norm is not None:
            record["grad_norm"] = grad_norm
        if bad is not None:
            skip_or_stop(self.state, bad, record, self.skip_limit, self.last_checkpoint, self.checkpoints is not None)
            self.optimizer.zero_grad(set_to_none=True)
            record["skipped"] = f"non-finite {bad['kind']}"
        else:
            self.optimizer.step()
            if not getattr(self.optimizer, "step_was_skipped", False):
                self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            record["learning_rate"] = self.scheduler.get_last_lr()[0]
            state.last_loss = record["loss"]
        state.step += 1
        if bad is None and self.method is not None:
            self.method.on_step_end(state.step, step_terms(record))
        self.history.append(record)
        if state.step % max(1, self.args["logging_steps"]) == 0:
            self.log.write(record)
            self.tracker.log_train(record)
        self.bar.note(loss=f"{record['loss']:.4f}", epoch=f"{record['epoch']:.2f}")
        self.bar.update(1)
        if self.evaluate and self.args["eval_strategy"] == "steps" and state.step % self.eval_every == 0:
            self._evaluate(record["epoch"])
        if self.checkpoints is not None and self.checkpoints.due_after_step(state.step):
            self._save()
        self._check_stop()

    # ---- evaluation, checkpoints, stopping ----------------------------------------------------------------------
    def _epoch_end(self) -> None:
        """The method's end-of-epoch hook, with averages over the batches of the epoch just finished."""
        if self.method is None:
            return
        done = self.state.epoch
        batches = functools.partial(self.batches.epoch, done - 1)
        self.method.on_epoch_end(
            EpochAverages(done, self.state.step, self.model, batches, self.accelerator, self.reference)
        )

    def _evaluate(self, epoch: float) -> None:
        assert self.evaluate is not None
        with self.frozen.thawed():
            record = self.evaluate(self.model, self.state.step, epoch)
        self.state.evaluations.append(record)
        self.tracker.log_eval(record, self.state.step)
        if self.best.update(record, self.state.step):
            self.state.best = self.best.best
            if self.checkpoints is not None:
                self.checkpoints.protected = {self.state.step}
                if self.best.load_at_end and self.saved_step != self.state.step:
                    self._save()

    def _save(self) -> Path:
        assert self.checkpoints is not None
        state_of = getattr(self.reference, "state", None)
        logprobs = state_of() if callable(state_of) else None
        own = self.method.state_dict() if self.method is not None else None
        path = self.checkpoints.save(
            self.state, self.layout, self.model, self.optimizer, self.scheduler, self.accelerator, logprobs, own
        )
        self.saved_step, self.last_checkpoint = self.state.step, path
        return path

    def _check_stop(self) -> None:
        requested = self.stop_agreed if self.accelerator.num_processes > 1 else self.stop.requested
        if not requested:
            return
        path = self._save() if self.saved_step != self.state.step else self.last_checkpoint
        raise TrainingInterrupted(self.stop.signum or signal.SIGTERM, self.state.step, self.total, path)

    def _load_best(self) -> None:
        best = self.best.best
        if not self.best.load_at_end or self.checkpoints is None:
            return
        if best is None:
            print(f"warning: no evaluation gave a finite {self.best.metric}; keeping the final model", file=sys.stderr)
            return
        if best["step"] != self.state.step:
            self.checkpoints.load_weights(best["step"], self.accelerator.unwrap_model(self.model))
