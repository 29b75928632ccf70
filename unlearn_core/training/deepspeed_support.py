"""What the training loop must tell DeepSpeed (through Accelerate) that a plain DDP run does not need."""

from __future__ import annotations

from typing import Any

from unlearn_core.errors import ConfigError


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
    offload = config.get("zero_optimization", {}).get("offload_optimizer", {}).get("device", "none")
    if offload not in (None, "none"):
        if config.get("zero_force_ds_cpu_optimizer"):
            raise ConfigError(
                "zero_force_ds_cpu_optimizer would swap the run's optimizer for DeepSpeed's CPU Adam, leaving the "
                "learning-rate schedule behind: remove it from the DeepSpeed config (the run's own optimizer then "
                "steps the offloaded partitions on the CPU)"
            )
        # Accelerate would otherwise swap our optimizer (even SGD) for DeepSpeedCPUAdam, a compiled op, and the
        # schedule built on ours would no longer drive the learning rate
        config["zero_force_ds_cpu_optimizer"] = False


def sync_boundary(accelerator: Any, stepping: bool) -> None:
    """Tell Accelerate (and through it DeepSpeed) whether this micro-batch ends an optimizer step."""
    if is_deepspeed(accelerator):
        accelerator.gradient_state._set_sync_gradients(stepping)
