"""Checkpoints in ``<output_dir>/checkpoints/step-N``: weights, optimizer, scheduler, RNG, data position, and what the
method needs to go on alike (cached reference log-probs, the method's own state).

Under DeepSpeed the weights are the consolidated model and each process adds its optimizer partition
(``training.zero_checkpoint``).

Each one is written into a hidden temporary directory, flushed, marked complete, then renamed into place, so a
killed process never leaves a checkpoint that looks finished. Nothing is read back with pickle: tensors are
safetensors, the optimizer state is loaded with ``torch.load(weights_only=True)``, everything else is JSON.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from unlearn_core.distributed import is_partitioned
from unlearn_core.errors import TrainingError, UnlearnError
from unlearn_core.training.diskio import fsync_tree, replace_dir, write_failure, write_json
from unlearn_core.training.rng import capture_rng, restore_rng

FORMAT_VERSION = 1
COMPLETE_MARKER = ".complete"
CHECKPOINTS_DIR = "checkpoints"
_STEP_DIR = re.compile(r"^step-(\d+)$")


@dataclass
class TrainState:
    """Where training stands after an optimizer step: everything but tensors that resuming needs."""

    step: int = 0
    epoch: int = 0
    micro: int = 0
    """Micro-batches of ``epoch`` already consumed."""
    skipped: int = 0
    """Optimizer steps skipped for a non-finite loss or gradient so far."""
    last_loss: float = math.nan
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    """``{"metric", "value", "step"}`` of the best evaluation so far (metric_for_best_model)."""


@dataclass(frozen=True)
class Layout:
    """The shape of the run a checkpoint belongs to; resuming with another shape cannot give the same result."""

    total_steps: int
    micro_batches_per_epoch: int
    accumulation: int
    world_size: int


def complete_checkpoints(output_dir: Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of every complete checkpoint of a run, oldest first."""
    root = output_dir / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        match = _STEP_DIR.match(path.name)
        if match and (path / COMPLETE_MARKER).is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run, if any."""
    found = complete_checkpoints(output_dir)
    return found[-1][1] if found else None


class CheckpointManager:
    """Saves checkpoints on the ``save_strategy`` schedule, keeps the newest ``save_total_limit`` (and the best)."""

    def __init__(self, output_dir: Path, args: dict[str, Any]) -> None:
        self.output_dir = output_dir
        self.root = output_dir / CHECKPOINTS_DIR
        self.strategy: str = args.get("save_strategy", "no")
        self.every = int(args.get("save_steps") or 0)
        self.limit = int(args.get("save_total_limit") or 0)
        self.protected: set[int] = set()

    def due_after_step(self, step: int) -> bool:
        """True when ``save_strategy=steps`` asks for a checkpoint after ``step``."""
        return self.strategy == "steps" and self.every > 0 and step % self.every == 0

    def due_after_epoch(self) -> bool:
        """True when ``save_strategy=epoch``."""
        return self.strategy == "epoch"

    @property
    def periodic(self) -> bool:
        """True when checkpoints are asked for (and so one is written at the end too)."""
        return self.strategy != "no"

    def latest(self) -> Path | None:
        """The newest complete checkpoint."""
        return latest_checkpoint(self.output_dir)

    def path_of(self, step: int) -> Path:
        """Where the checkpoint of ``step`` lives."""
        return self.root / f"step-{step}"

    def clean_leftovers(self) -> None:
        """Remove temporary and incomplete checkpoint directories that a killed process left behind."""
        if not self.root.is_dir():
            return
        for path in self.root.iterdir():
            if path.name.startswith(".") or (_STEP_DIR.match(path.name) and not (path / COMPLETE_MARKER).exists()):
                shutil.rmtree(path, ignore_errors=True)

    def save(
        self,
        state: TrainState,
        layout: Layout,
        model: Any,
        optimizer: Any,
        scheduler: Any,
        accelerator: Any,
        reference_logprobs: dict[str, dict[int, float]] | None = None,
        method_state: dict[str, Any] | None = None,
    ) -> Path:
        """Write the checkpoint of ``state.step`` atomically (every process adds its RNG state), then rotate; with
        the cached reference log-probs and the method's own state when there are any."""
        import torch

        from unlearn_core.training.method_state import save_method_state  # heavy (torch): loaded on first use
        from unlearn_core.training.weights import save_logprobs, save_weights  # heavy (torch): loaded on first use
        from unlearn_core.training.zero_checkpoint import (  # heavy (torch): loaded on first use
            optimizer_file,
            save_zero_optimizer,
            zero_optimizer,
        )

        final = self.path_of(state.step)
        tmp = self.root / f".step-{state.step}.tmp"
        main = accelerator.is_main_process
        try:
            if main:
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.mkdir(parents=True)
            accelerator.wait_for_everyone()
            weights = accelerator.get_state_dict(model)  # every process takes part (ZeRO-3 gathers)
            zero = zero_optimizer(model)
            if zero is not None:  # DeepSpeed: each process writes its own partition
                save_zero_optimizer(zero, optimizer_file(tmp, accelerator.process_index))
            if main:
                save_weights(weights, tmp / "model.safetensors")
                if zero is None:
                    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
                write_json(tmp / "scheduler.json", scheduler.state_dict())
                write_json(tmp / "trainer_state.json", {"format": FORMAT_VERSION, **asdict(state), **asdict(layout)})
                if reference_logprobs:
                    save_logprobs(reference_logprobs, tmp / "reference_logprobs.safetensors")
                save_method_state(method_state or {}, tmp)
            write_json(tmp / f"rng-{accelerator.process_index}.json", capture_rng())
            accelerator.wait_for_everyone()
            if main:
                fsync_tree(tmp)
                (tmp / COMPLETE_MARKER).write_text("ok\n")
                fsync_tree(tmp)
                replace_dir(tmp, final)
                self._rotate()
        except BaseException as exc:
            if main:
                shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, Exception) and not isinstance(exc, UnlearnError):
                raise write_failure(final, exc) from None
            raise
        return final

    def _rotate(self) -> None:
        if self.limit <= 0:
            return
        found = complete_checkpoints(self.output_dir)
        keep = {step for step, _ in found[-self.limit :]} | self.protected
        for step, path in found:
            if step not in keep:
                shutil.rmtree(path, ignore_errors=True)

    def load(
        self, path: Path, model: Any, optimizer: Any, scheduler: Any, accelerator: Any, layout: Layout
    ) -> TrainState:
        """Restore weights, optimizer, scheduler and this process's RNG from ``path``; return the train state."""
        import torch

        from unlearn_core.training.weights import load_weights  # heavy (torch): loaded on first use
        from unlearn_core.training.zero_checkpoint import (  # heavy (torch): loaded on first use
            load_zero_optimizer,
            optimizer_file,
            zero_optimizer,
        )

        saved = _read_json(path / "trainer_state.json")
        expected = asdict(layout)
        changed = [f"{k} {saved.get(k)} -> {v}" for k, v in expected.items() if saved.get(k) != v]
        if changed:
            raise TrainingError(
                f"checkpoint {path} belongs to a run of another shape ({'; '.join(changed)}): resume with the same "
                "settings and number of processes"
            )
        rng_file = path / f"rng-{accelerator.process_index}.json"
        if not rng_file.is_file():
            raise TrainingError(f"checkpoint {path} has no RNG state for process {accelerator.process_index}")
        zero = zero_optimizer(model)
        module = accelerator.unwrap_model(model)
        if zero is None or not is_partitioned(module):
            load_weights(path / "model.safetensors", module)
        if zero is not None:  # its fp32 master weights also restore a partitioned model's parameters
            load_zero_optimizer(zero, optimizer_file(path, accelerator.process_index), accelerator.num_processes)
        else:
            try:
                optimizer_state = torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True)
            except Exception as exc:
                raise TrainingError(f"cannot read {path / 'optimizer.pt'}: {str(exc).splitlines()[0]}") from None
            optimizer.load_state_dict(optimizer_state)
        scheduler.load_state_dict(_read_json(path / "scheduler.json"))
        restore_rng(_read_json(rng_file))
        fields = {k: saved[k] for k in TrainState.__dataclass_fields__ if k in saved}
        state = TrainState(**fields)
        state.last_loss = math.nan if state.last_loss is None else state.last_loss
        return state

    def load_weights(self, step: int, model: Any) -> None:
        """Load only the weights of the checkpoint of ``step`` (the best model at the end)."""
        from unlearn_core.training.weights import load_weights  # heavy (torch): loaded on first use

        load_weights(self.path_of(step) / "model.safetensors", model)


def reference_logprobs_of(path: Path | None) -> dict[str, dict[int, float]] | None:
    """The cached reference log-probs (by field, then sample index) stored with a checkpoint, if it has them."""
    from unlearn_core.training.weights import load_logprobs  # heavy (torch): loaded on first use

    if path is None or not (path / "reference_logprobs.safetensors").is_file():
        return None
    return load_logprobs(path / "reference_logprobs.safetensors")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise TrainingError(f"checkpoint file {path} cannot be read: {exc}") from None
