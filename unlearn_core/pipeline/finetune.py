"""Finetuning: the base/target/retain models of the embedded default and ``unlearn train``."""

from __future__ import annotations

from typing import Any

from unlearn_core.data import Tokenized
from unlearn_core.distributed import is_partitioned
from unlearn_core.pipeline.environment import get_accelerator, mixed_precision_for, seed_everything
from unlearn_core.training.batches import FinetuneBatches
from unlearn_core.training.checkpoint import CheckpointManager
from unlearn_core.training.loop import TrainResult, train


def finetune_in_memory(
    model: Any,
    tokenizer: Any,
    rows: list[Tokenized],
    cfg: dict[str, Any],
    arg_overrides: dict[str, Any],
    description: str,
    log_path: Any = None,
    *,
    checkpoints: CheckpointManager | None = None,
    resume: bool = False,
    accelerator: Any = None,
    tracker: Any = None,
) -> TrainResult:
    """Train ``model`` on ``rows`` with cross-entropy on the targets; ``arg_overrides`` patch ``trainer.args``.

    Without ``checkpoints`` (the embedded models, built into a cache) a stop signal aborts at once.
    """
    args = {**cfg["trainer"]["args"], **arg_overrides}
    seed_everything(args["seed"], bool(args.get("full_determinism")))
    accelerator = accelerator or get_accelerator(mixed_precision_for(args))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    batches = FinetuneBatches(
        rows,
        args["per_device_train_batch_size"],
        pad,
        args["seed"],
        rank=accelerator.process_index,
        world_size=accelerator.num_processes,
    )
    if not is_partitioned(model):  # DeepSpeed placed the slices of a partitioned model itself
        model.to(accelerator.device)
    result = train(
        model,
        batches,
        args,
        accelerator=accelerator,
        log_path=log_path,
        description=description,
        checkpoints=checkpoints,
        resume=resume,
        tracker=tracker,
    )
    if hasattr(accelerator, "free_memory"):
        accelerator.free_memory()
    return result
