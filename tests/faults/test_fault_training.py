"""Faults inside the training loop on a tiny Llama: signals, NaN/inf, resumption, checkpoint files, best model."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
from faultkit import assert_nothing_half_written, snapshot, tiny_lm, tiny_samples

from unlearn_core.config.defaults import TRAINER_ARGS
from unlearn_core.errors import OutputDirError, TrainingError
from unlearn_core.losses import mean_token_nll, model_logits
from unlearn_core.methods import LossOutput, UnlearningMethod
from unlearn_core.pipeline.environment import get_accelerator, seed_everything
from unlearn_core.training.batches import FinetuneBatches
from unlearn_core.training.checkpoint import CheckpointManager, complete_checkpoints, latest_checkpoint
from unlearn_core.training.loop import TrainResult, train
from unlearn_core.training.signals import Aborted, TrainingInterrupted

# 12 samples, micro-batches of 2, two per step: 6 micro-batches and 3 optimizer steps per epoch, 9 steps in all.
TOTAL_STEPS = 9


class FaultyFinetune(UnlearningMethod):
    """Next-token loss on the batch, with a signal, a NaN loss or NaN gradients injected on chosen calls."""

    name = "faulty-finetune"

    def __init__(
        self, signals: dict[int, int] | None = None, nan_loss: tuple[int, ...] = (), nan_grad: tuple[int, ...] = ()
    ):
        super().__init__()
        self.signals, self.nan_loss, self.nan_grad = signals or {}, nan_loss, nan_grad
        self.calls = 0

    def compute_loss(self, model: torch.nn.Module, batch: Any, reference: Any) -> LossOutput:
        self.calls += 1
        if self.calls in self.signals:
            os.kill(os.getpid(), self.signals[self.calls])
        loss = mean_token_nll(model_logits(model, batch), batch["labels"])
        if self.calls in self.nan_loss:
            loss = loss * float("nan")
        if self.calls in self.nan_grad:  # adds 0 to the value, but d sqrt(x)/dx at 0 is inf, times 0: NaN gradients
            loss = loss + torch.sqrt(next(model.parameters()).sum() * 0.0)
        return LossOutput(loss, {"nll": float(loss.detach())})


def trainer_args(**changes: Any) -> dict[str, Any]:
    return {
        **TRAINER_ARGS,
        "per_device_train_batch_size": 2,
        "gradient_accumulation_steps": 2,
        "learning_rate": 1e-2,
        "num_train_epochs": 3,
        "warmup_epochs": 0.5,
        "seed": 0,
        "save_strategy": "steps",
        "save_steps": 2,
        "save_total_limit": 2,
        **changes,
    }


def run_training(
    out: Path,
    args: dict[str, Any],
    method: UnlearningMethod | None = None,
    *,
    resume: bool = False,
    evaluate: Any = None,
) -> tuple[torch.nn.Module, TrainResult]:
    model = tiny_lm(seed=0)
    batches = FinetuneBatches(tiny_samples(), args["per_device_train_batch_size"], 0, args["seed"])
    seed_everything(0)
    result = train(
        model,
        batches,
        args,
        accelerator=get_accelerator("no"),
        method=method or FaultyFinetune(),
        log_path=out / "train_log.jsonl",
        evaluate=evaluate,
        checkpoints=CheckpointManager(out, args),
        resume=resume,
    )
    return model, result


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module, TrainResult]:
    out = tmp_path_factory.mktemp("uninterrupted")
    model, result = run_training(out, trainer_args())
    return out, model, result


def test_checkpoints_are_complete_rotated_and_never_pickled(uninterrupted):
    out, _, result = uninterrupted
    assert result.steps == TOTAL_STEPS
    assert [step for step, _ in complete_checkpoints(out)] == [8, 9]  # every 2 steps and at the end, newest 2 kept
    for _, path in complete_checkpoints(out):
        names = {p.name for p in path.iterdir()}
        assert {".complete", "model.safetensors", "optimizer.pt", "scheduler.json", "trainer_state.json"} <= names
        assert "rng-0.json" in names
        torch.load(path / "optimizer.pt", weights_only=True)  # tensors and numbers only
    state = json.loads((out / "checkpoints" / "step-8" / "trainer_state.json").read_text())
    assert (state["step"], state["epoch"], state["micro"]) == (8, 2, 4)  # mid-epoch: 4 of 6 micro-batches done
    assert_nothing_half_written(out)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_checkpoints_and_resume_reaches_the_same_weights(tmp_path, uninterrupted, signum, code):
    _, reference_model, reference = uninterrupted
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    # Call 7 is the first micro-batch of step 4: the step is finished, then checkpointed, then the run stops.
    with pytest.raises(TrainingInterrupted) as stopped:
        run_training(tmp_path, trainer_args(), FaultyFinetune(signals={7: signum}))
    assert stopped.value.exit_code == code
    message = str(stopped.value)
    assert f"stopped by {signal.Signals(signum).name} after step 4 of {TOTAL_STEPS}" in message
    assert str(tmp_path / "checkpoints" / "step-4") in message and "--resume" in message
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "step-4"
    assert_nothing_half_written(tmp_path)
    assert signal.getsignal(signal.SIGTERM) is handlers[0] and signal.getsignal(signal.SIGINT) is handlers[1]

    model, result = run_training(tmp_path, trainer_args(), resume=True)
    assert result.resumed_from == 4 and result.steps == TOTAL_STEPS
    assert_same_weights(model, reference_model)
    assert result.last_loss == reference.last_loss
    uninterrupted_log = (uninterrupted[0] / "train_log.jsonl").read_text()
    assert (tmp_path / "train_log.jsonl").read_text() == uninterrupted_log
    assert_nothing_half_written(tmp_path)


def test_a_second_signal_stops_at_once_and_keeps_the_last_checkpoint(tmp_path):
    with pytest.raises(Aborted) as aborted:
        run_training(tmp_path, trainer_args(), FaultyFinetune(signals={7: signal.SIGTERM, 8: signal.SIGTERM}))
    assert aborted.value.exit_code == 143
    assert [step for step, _ in complete_checkpoints(tmp_path)] == [2]
    assert_nothing_half_written(tmp_path)


def test_nan_loss_stops_naming_step_and_terms_and_keeps_the_last_good_checkpoint(tmp_path):
    with pytest.raises(TrainingError) as failed:
        run_training(tmp_path, trainer_args(), FaultyFinetune(nan_loss=(7,)))
    message = str(failed.value)
    assert "non-finite loss at step 4 (epoch 2)" in message
    assert "loss=nan" in message and "nll=nan" in message
    assert f"the last good checkpoint is {tmp_path / 'checkpoints' / 'step-2'}" in message
    assert "skip_nonfinite_steps" in message
    assert [step for step, _ in complete_checkpoints(tmp_path)] == [2]
    records = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    assert_nothing_half_written(tmp_path)


def test_nan_gradients_with_a_finite_loss_stop_too(tmp_path):
    with pytest.raises(TrainingError) as failed:
        run_training(tmp_path, trainer_args(), FaultyFinetune(nan_grad=(8,)))
    message = str(failed.value)
    assert "non-finite gradients at step 4 (epoch 2)" in message
    assert "grad_norm=nan" in message and "nll=" in message and "nll=nan" not in message
    assert [step for step, _ in complete_checkpoints(tmp_path)] == [2]


def test_skip_nonfinite_steps_skips_up_to_n_steps(tmp_path):
    _, result = run_training(tmp_path, trainer_args(skip_nonfinite_steps=1), FaultyFinetune(nan_loss=(7,)))
    assert (result.steps, result.skipped) == (TOTAL_STEPS, 1)
    records = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, TOTAL_STEPS + 1))
    assert records[3]["skipped"] == "non-finite loss" and records[3]["loss"] is None
    assert_nothing_half_written(tmp_path)

    with pytest.raises(TrainingError) as failed:
        run_training(tmp_path / "again", trainer_args(skip_nonfinite_steps=1), FaultyFinetune(nan_loss=(7, 11)))
    assert "non-finite loss at step 6" in str(failed.value)
    assert "1 such steps were already skipped" in str(failed.value)


def test_a_skipped_step_changes_no_weight(tmp_path):
    args = trainer_args(skip_nonfinite_steps=1, max_steps=4, save_steps=3)
    model, _ = run_training(tmp_path, args, FaultyFinetune(nan_grad=(7,)))  # step 4 skipped: weights of step 3
    from unlearn_core.training.weights import load_weights

    at_step_3 = tiny_lm(seed=1)
    load_weights(tmp_path / "checkpoints" / "step-3" / "model.safetensors", at_step_3)
    assert_same_weights(model, at_step_3)


def test_failed_checkpoint_write_reports_disk_full_and_keeps_the_previous_one(tmp_path, monkeypatch):
    real_save = torch.save
    calls = {"n": 0}

    def full_disk(obj: Any, path: Any, *args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            Path(path).write_bytes(b"partial")
            raise RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed: os error 28")
        real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OutputDirError) as failed:
        run_training(tmp_path, trainer_args())
    assert str(failed.value) == f"cannot write {tmp_path / 'checkpoints' / 'step-4'}: no space left on device"
    assert [step for step, _ in complete_checkpoints(tmp_path)] == [2]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-2"]
    assert_nothing_half_written(tmp_path)


def test_leftovers_of_a_killed_save_are_ignored_and_cleaned(tmp_path):
    with pytest.raises(TrainingInterrupted):
        run_training(tmp_path, trainer_args(), FaultyFinetune(signals={7: signal.SIGTERM}))
    (tmp_path / "checkpoints" / ".step-6.tmp").mkdir()
    (tmp_path / "checkpoints" / ".step-6.tmp" / "model.safetensors").write_bytes(b"half")
    (tmp_path / "checkpoints" / "step-6").mkdir()  # no completion marker: never finished
    with open(tmp_path / "train_log.jsonl", "a") as log:
        log.write('{"step": 5, "epoch": 1.6')  # a line cut short by the kill
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "step-4"
    _, result = run_training(tmp_path, trainer_args(), resume=True)
    assert result.resumed_from == 4
    assert [step for step, _ in complete_checkpoints(tmp_path)] == [8, 9]
    assert_nothing_half_written(tmp_path)


def test_resume_refuses_a_run_of_another_shape(tmp_path):
    with pytest.raises(TrainingInterrupted):
        run_training(tmp_path, trainer_args(), FaultyFinetune(signals={7: signal.SIGTERM}))
    before = snapshot(tmp_path)
    with pytest.raises(TrainingError, match="another shape"):
        run_training(tmp_path, trainer_args(gradient_accumulation_steps=3), resume=True)
    assert snapshot(tmp_path)["checkpoints/step-4/model.safetensors"] == before["checkpoints/step-4/model.safetensors"]


def test_resume_without_checkpoint_is_an_error(tmp_path):
    with pytest.raises(TrainingError, match="nothing to resume: no complete checkpoint"):
        run_training(tmp_path, trainer_args(), resume=True)


class _Planted:
    """Unpickling this creates a file: proof that a pickle was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (Path.write_text, (self.marker, "executed"))


def test_a_pickled_object_in_a_checkpoint_is_never_executed(tmp_path):
    with pytest.raises(TrainingInterrupted):
        run_training(tmp_path, trainer_args(), FaultyFinetune(signals={7: signal.SIGTERM}))
    marker = tmp_path / "EXECUTED"
    torch.save({"state": _Planted(marker)}, tmp_path / "checkpoints" / "step-4" / "optimizer.pt")
    with pytest.raises(TrainingError, match="cannot read .*optimizer.pt"):
        run_training(tmp_path, trainer_args(), resume=True)
    assert not marker.exists()


def test_best_checkpoint_survives_rotation_and_is_loaded_at_end(tmp_path):
    scores = {2: 0.1, 4: 0.9, 6: 0.3, 8: 0.2}
    args = trainer_args(
        eval_strategy="steps",
        eval_steps=2,
        save_total_limit=1,
        metric_for_best_model="score",
        load_best_model_at_end=True,
    )

    def evaluate(model: Any, step: int, epoch: float) -> dict[str, Any]:
        return {"step": step, "score": scores[step]}

    model, result = run_training(tmp_path, args, evaluate=evaluate)
    assert result.best == {"metric": "score", "value": 0.9, "step": 4}
    assert [step for step, _ in complete_checkpoints(tmp_path)] == [4, 9]
    from unlearn_core.training.weights import load_weights

    best = tiny_lm(seed=1)
    load_weights(tmp_path / "checkpoints" / "step-4" / "model.safetensors", best)
    assert_same_weights(model, best)


def test_reference_logprobs_are_saved_with_checkpoints_and_reused(tmp_path):
    from unlearn_core.training.checkpoint import reference_logprobs_of
    from unlearn_core.training.reference import FrozenReference

    model = tiny_lm()
    forget = tiny_samples(6)
    device = torch.device("cpu")
    built = FrozenReference.build(model, forget, fields=("forget",), keep=None, batch_size=4, pad_id=0, device=device)

    class WithReference(FaultyFinetune):
        pass

    args = trainer_args(max_steps=2)
    batches = FinetuneBatches(tiny_samples(), 2, 0, 0)
    train(
        tiny_lm(),
        batches,
        args,
        accelerator=get_accelerator("no"),
        method=WithReference(),
        reference=built,
        checkpoints=CheckpointManager(tmp_path, args),
    )
    cached = reference_logprobs_of(latest_checkpoint(tmp_path))
    assert cached == built.state()

    class NoForward(torch.nn.Module):
        def forward(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("cached log-probs must not be recomputed")

    again = FrozenReference.build(
        NoForward(),
        forget,
        fields=("forget",),
        keep=None,
        batch_size=4,
        pad_id=0,
        device=device,
        cached_logprobs=cached,
    )
    assert again.state() == built.state()


def test_without_checkpoints_a_signal_aborts_at_once(tmp_path):
    args = trainer_args(save_strategy="no")
    model = tiny_lm(seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batches = FinetuneBatches(tiny_samples(), 2, 0, 0)
    with pytest.raises(Aborted) as aborted:  # e.g. the embedded models, built into a cache: nothing to save
        train(
            model, batches, args, accelerator=get_accelerator("no"), method=FaultyFinetune(signals={1: signal.SIGINT})
        )
    assert aborted.value.exit_code == 130
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # not even step 1 was finished
