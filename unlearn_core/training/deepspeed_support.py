"""What the training loop must tell DeepSpeed (through Accelerate) that a plain DDP run does not need."""

from __future__ import annotations

from typing import Any


def is_deepspeed(accelerator: Any) -> bool:
    """True when Accelerate drives a DeepSpeed engine."""
    return str(getattr(accelerator, "distributed_type", "")).endswith("DEEPSPEED")


def zero_stage(accelerator: Any) -> int:
    """The ZeRO stage DeepSpeed runs with (0 without DeepSpeed)."""
    if not is_deepspeed(accelerator):
        return 0
    return int(getattr(accelerator.state.deepspeed_plugin, "zero_stage", 0) or 0)


def configure_deepspeed(accelerator: Any, args: dict[str, Any]) -> None:
    """Fill the DeepSpeed config before ``prepare``: micro-batch size, clipping, and accumulation kept by our loop.

    The loop accumulates gradients itself (dividing each micro-batch loss by the micro-batches of its step), so
    DeepSpeed is told 1 and is shown the step boundaries with ``sync_boundary``; it must not rescale the loss again.
    """
    if not is_deepspeed(accelerator):
        return
    config = accelerator.state.deepspeed_plugin.deepspeed_config
    config["train_micro_batch_size_per_gpu"] = args["per_device_train_batch_size"]
    config["gradient_accumulation_steps"] = 1
    config["train_batch_size"] = args["per_device_train_batch_size"] * accelerator.num_processes
    config["gradient_clipping"] = float(args["max_grad_norm"] or 0.0)
    config.pop("optimizer", None)
    config.pop("scheduler", None)


def sync_boundary(accelerator: Any, stepping: bool) -> None:
    """Tell Accelerate (and through it DeepSpeed) whether this micro-batch ends an optimizer step."""
    if is_deepspeed(accelerator):
        accelerator.gradient_state._set_sync_gradients(stepping)
