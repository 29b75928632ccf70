"""WMDP configuration: the published protocol, the embedded model's own, and the experiment presets."""

from __future__ import annotations

from typing import Any

PUBLISHED_UNLEARN_ARGS: dict[str, Any] = {
    "per_device_train_batch_size": 1,
    "gradient_accumulation_steps": 16,
    "learning_rate": 5e-5,
    "lr_scheduler_type": "constant",
    "max_steps": 80,
    "warmup_epochs": 0.0,
    "weight_decay": 0.0,
    "eval_strategy": "steps",
    "eval_steps": 0.5,
    "bf16": True,
}
"""The reference's WMDP protocol (``unlearn/wmdp/default``): batch 1 x 16, lr 5e-5, constant, 80 steps, evaluation
at half of training."""
RMU_ARGS: dict[str, Any] = {
    "gamma": 1.0,
    "steering_coeff": 2,
    "retain_loss_type": "EMBED_DIFF",
    "alpha": 1,
    "module_regex": r"model\.layers\.7",
    "trainable_params_regex": [r"model\.layers\.(5|6|7)\.mlp\.down_proj\.weight"],
}
"""RMU's arguments in the reference's WMDP experiment (layer 7, the down projections of layers 5-7)."""
HARNESS_TASKS = ["wmdp_${data_split}", "mmlu"]
"""The lm-evaluation-harness tasks of the reference's WMDP evaluation."""

EMBEDDED_FINETUNE_ARGS: dict[str, Any] = {
    "per_device_train_batch_size": 16,
    "gradient_accumulation_steps": 1,
    "learning_rate": 3e-3,
    "lr_scheduler_type": "linear",
    "warmup_epochs": 1.0,
    "num_train_epochs": 40,
    "max_steps": -1,
    "weight_decay": 0.0,
    "bf16": False,
    "optim": "adamw_torch",
}
EMBEDDED_BASE_ARGS: dict[str, Any] = {**EMBEDDED_FINETUNE_ARGS, "num_train_epochs": 40}
EMBEDDED_UNLEARN_ARGS: dict[str, Any] = {
    "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 1,
    "learning_rate": 1e-3,
    "lr_scheduler_type": "constant",
    "num_train_epochs": 5,
    "max_steps": -1,
    "warmup_epochs": 0.0,
    "weight_decay": 0.0,
    "bf16": False,
}
"""The tiny model learns nothing at 5e-5 in 80 steps of batch 16; these settings are its protocol."""
RECIPE_KEYS: dict[str, int] = {
    "base_epochs": EMBEDDED_BASE_ARGS["num_train_epochs"],
    "finetune_epochs": EMBEDDED_FINETUNE_ARGS["num_train_epochs"],
}
"""``data.embedded.*`` keys that size the embedded model's training (the others size the generated data)."""


def embedded_protocol() -> dict[str, dict[str, Any]]:
    """Dotted keys set for the embedded model where the user did not set them, by mode. The harness's WMDP and
    MMLU tasks read the hub, so the embedded default evaluates with the benchmark's own multiple-choice entries
    (the same numbers on the embedded questions) and runs no evaluator unless ``eval=`` asks for one."""
    by_mode = {"train": EMBEDDED_FINETUNE_ARGS, "unlearn": EMBEDDED_UNLEARN_ARGS, "eval": {}}
    return {
        mode: {**{f"trainer.args.{k}": v for k, v in args.items()}, "eval.evaluators": []}
        for mode, args in by_mode.items()
    }


def presets() -> dict[str, dict[str, Any]]:
    """``unlearn/wmdp/default`` (RMU with the reference's arguments, harness tasks ``wmdp_<split>`` and ``mmlu``),
    ``eval/wmdp/default`` and ``finetune/wmdp/default``."""
    harness = {"evaluators": ["lm_eval"], "lm_eval": {"tasks": list(HARNESS_TASKS)}}
    return {
        "unlearn/wmdp/default": {
            "trainer": {"name": "RMU", "method_args": dict(RMU_ARGS)},
            "data_split": "cyber",
            "data": {"anchor": "forget"},
            "eval": harness,
        },
        "eval/wmdp/default": {"data_split": "cyber", "eval": harness},
        "finetune/wmdp/default": {"data": {"train": "target"}},
    }
