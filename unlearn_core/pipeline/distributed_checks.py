"""Combinations a multi-process launch cannot run, refused with one clear line before any model is loaded."""

from __future__ import annotations

from typing import Any

from unlearn_core.config import ExperimentConfig
from unlearn_core.config.peft import uses_lora
from unlearn_core.default_plugins.models import uses_embedded_model
from unlearn_core.distributed import launch_zero_stage, using_deepspeed, world_size, zero3_gathers_weights
from unlearn_core.errors import ConfigError
from unlearn_core.methods import UnlearningMethod
from unlearn_core.pipeline.embedded import EmbeddedBuilder
from unlearn_core.pipeline.evaluate import selected_keys
from unlearn_core.plugins import Plugins

SINGLE_PROCESS_EVAL = "evaluate the saved model in one process with `unlearn eval`, or launch with the ddp/zero2 config"


def check_launch(cfg: ExperimentConfig, plugins: Plugins) -> None:
    """``check_distributed_support`` for a command about to run: its method, evaluation metrics and trainer args
    (nothing to check, and nothing built, in a plain single-process run)."""
    if world_size() == 1 and not using_deepspeed():
        return
    method = None
    metric_names: set[str] = set()
    args = dict(cfg.get("trainer.args") or {})
    if cfg.mode == "unlearn":
        method = plugins.methods.get(cfg.get("trainer.name"))(**cfg.get("trainer.method_args"))
    if cfg.mode in ("unlearn", "eval"):
        benchmark = cfg.values["eval"]["benchmark"] if cfg.mode == "eval" else cfg.benchmark
        suite = plugins.benchmarks.get(benchmark).eval_suite(cfg.values)
        metric_names = {suite.entries[k].metric for k in selected_keys(cfg.values, suite)}
    if cfg.mode == "train" and uses_embedded_model(cfg.values):
        args.update(EmbeddedBuilder(plugins.benchmarks.get(cfg.benchmark), cfg.values, plugins).recipe.finetune_args)
    check_distributed_support(cfg, method, metric_names, args=args)


def check_distributed_support(
    cfg: ExperimentConfig,
    method: UnlearningMethod | None = None,
    metric_names: set[str] | None = None,
    *,
    args: dict[str, Any] | None = None,
) -> None:
    """Raise ConfigError when this launch (world size, DeepSpeed ZeRO stage) cannot run ``method`` or the
    configuration; ``metric_names`` are the evaluation metrics the run computes, ``args`` the trainer arguments
    (``trainer.args`` unless given)."""
    stage = launch_zero_stage()
    deepspeed = using_deepspeed()
    args = args if args is not None else (cfg.get("trainer.args") or {})
    if stage == 3 and not zero3_gathers_weights():
        raise ConfigError(
            "this ZeRO-3 configuration cannot save a whole model: set zero3_save_16bit_model: true in the accelerate "
            "config (stage3_gather_16bit_weights_on_model_save in a DeepSpeed JSON), as the shipped zero3 configs do"
        )
    if world_size() > 1 and (cfg.get("model.model_args") or {}).get("device_map") not in (None, "", "none"):
        raise ConfigError(
            "model.model_args.device_map splits one model over this process's devices; it cannot be combined with a "
            f"{world_size()}-process launch: drop device_map, or run a single process"
        )
    if method is not None and stage == 3 and method.reads_parameters():
        raise ConfigError(
            f"method '{method.name}' reads parameter tensors in its loss, which ZeRO-3 keeps partitioned across "
            "processes: launch with the ddp or zero2 config instead"
        )
    if stage == 3 and uses_lora(cfg.values):
        raise ConfigError(
            "peft=lora is not supported under ZeRO-3 (the adapter-disabled reference would run partitioned layers "
            "outside the engine): launch with the ddp or zero2 config, which keep whole base weights"
        )
    if deepspeed and int(args.get("skip_nonfinite_steps") or 0) > 0:
        raise ConfigError(
            "trainer.args.skip_nonfinite_steps cannot work under DeepSpeed, which applies each update inside its "
            "backward pass before a non-finite gradient can be seen: set it to 0, or launch with the ddp config"
        )
    if stage == 3 and metric_names and "mia_gradnorm" in metric_names:
        raise ConfigError(
            "metric mia_gradnorm needs whole per-sample gradients, which ZeRO-3 partitions: drop it from "
            f"eval.metrics, or {SINGLE_PROCESS_EVAL}"
        )
