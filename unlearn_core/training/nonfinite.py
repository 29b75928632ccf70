"""A non-finite loss or gradient: the step is skipped while ``trainer.args.skip_nonfinite_steps`` allows, else training
stops with one line naming the step, the loss terms and the last good checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from unlearn_core.errors import TrainingError
from unlearn_core.training.checkpoint import TrainState


def _terms(terms: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in terms.items())


def skip_or_stop(
    state: TrainState,
    bad: dict[str, Any],
    record: dict[str, Any],
    skip_limit: int,
    last_checkpoint: Path | None,
    checkpointing: bool,
) -> None:
    """Skip the step about to be taken (counted in ``state.skipped``) while ``skip_limit`` allows, else raise
    TrainingError naming the step, the loss terms and the last good checkpoint."""
    step, epoch = state.step + 1, state.epoch + 1
    losses = {k: v for k, v in record.items() if k not in ("step", "epoch", "learning_rate", "grad_norm")}
    what = f"non-finite {bad['kind']} at step {step} (epoch {epoch})"
    detail = _terms(bad["terms"] if bad["kind"] == "loss" else {**bad["terms"], **losses})
    if state.skipped < skip_limit:
        state.skipped += 1
        print(
            f"warning: {what}: {detail}; step skipped ({state.skipped} of {skip_limit} allowed)",
            file=sys.stderr,
            flush=True,
        )
        return
    if last_checkpoint is not None:
        kept = f"the last good checkpoint is {last_checkpoint}"
    elif checkpointing:
        kept = "no checkpoint was written yet (trainer.args.save_strategy=steps|epoch writes them)"
    else:
        kept = "no checkpoint is written for this training"
    allowed = (
        f"{state.skipped} such steps were already skipped, the most trainer.args.skip_nonfinite_steps allows"
        if skip_limit
        else "trainer.args.skip_nonfinite_steps=N skips up to N such steps"
    )
    raise TrainingError(f"{what}: {detail}; {kept}; {allowed}")
