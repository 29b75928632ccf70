"""The base configuration every mode starts from; benchmarks and presets change it, overrides refine it."""

from __future__ import annotations

import copy
from typing import Any

from unlearn_core.models.presets import TEMPLATE_DEFAULTS

MODES = ("train", "unlearn", "eval")
GIBBERISH_CLASSIFIER = "madhurjindal/autonlp-Gibberish-Detector-492513457"
"""The sequence classifier of the ``*_gibberish`` entries (the reference's; any local directory works)."""

TRAINER_ARGS: dict[str, Any] = {
    "per_device_train_batch_size": 8,
    "per_device_eval_batch_size": 16,
    "gradient_accumulation_steps": 4,
    "learning_rate": 1e-5,
    "num_train_epochs": 10,
    "max_steps": -1,
    "optim": "adamw_torch",
    "weight_decay": 0.01,
    "adam_beta1": 0.9,
    "adam_beta2": 0.999,
    "adam_epsilon": 1e-8,
    "max_grad_norm": 1.0,
    "warmup_epochs": 1.0,
    "warmup_steps": 0,
    "lr_scheduler_type": "linear",
    "bf16": False,
    "fp16": False,
    "gradient_checkpointing": False,
    "forward_mode": "separate",
    "target_logits_only": False,
    "seed": None,
    "logging_steps": 1,
    "eval_strategy": "no",
    "eval_steps": None,
    "save_strategy": "no",
    "save_steps": None,
    "save_total_limit": 2,
    "skip_nonfinite_steps": 0,
    "average_tokens_across_devices": True,
    "full_determinism": False,
    "metric_for_best_model": None,
    "greater_is_better": None,
    "load_best_model_at_end": False,
    "report_to": [],
    "logging_dir": None,
}

CHOICES: dict[str, tuple[Any, ...]] = {
    "mode": MODES,
    "trainer.args.optim": ("adamw_torch", "adamw", "adamw_torch_fused", "paged_adamw_32bit", "sgd"),
    "trainer.args.lr_scheduler_type": ("linear", "constant", "constant_with_warmup", "cosine"),
    "trainer.args.eval_strategy": ("no", "steps", "epoch"),
    "trainer.args.save_strategy": ("no", "steps", "epoch"),
    "data.anchor": ("forget", "retain"),
    "trainer.args.forward_mode": ("separate", "joint", "grouped", "packed"),
    "generation.cache": ("dynamic", "static"),
}

NONE_DEFAULT_TYPES: dict[str, Any] = {
    "task_name": "",
    "experiment": "",
    "retain_logs_path": "",
    "data.forget": "",
    "data.retain": "",
    "data.train": "",
    "paths.output_dir": "",
    "paths.cache_dir": "",
    "model.template_args.system_prompt": "",
    "model.template_args.system_prompt_with_special_tokens": "",
    "model.template_args.date_string": "",
    "trainer.args.seed": 0,
    "trainer.args.eval_steps": 0.0,
    "trainer.args.save_steps": 0,
    "trainer.args.logging_dir": "",
    "eval.metrics": [],
    "eval.mia_reference": "",
}
"""The type of keys whose default is None (an example value of that type), so overrides are checked too."""

OPEN_SECTIONS = ("model.model_args", "model.tokenizer_args", "data.embedded", "experiment_args")
"""Sections whose keys are passed through to a library call (from_pretrained) or a plugin, so any key is accepted."""


def base_config() -> dict[str, Any]:
    """A fresh copy of the base configuration (plain dicts)."""
    return copy.deepcopy(
        {
            "mode": "unlearn",
            "benchmark": None,
            "experiment": None,
            "task_name": None,
            "seed": 0,
            "model": {
                "name": "tiny-llama",
                "model_args": {"pretrained_model_name_or_path": None, "torch_dtype": "float32"},
                "tokenizer_args": {"pretrained_model_name_or_path": None},
                "template_args": dict(TEMPLATE_DEFAULTS),
                "trust_remote_code": False,
            },
            "trainer": {"name": None, "args": dict(TRAINER_ARGS), "method_args": {}},
            "data": {
                "source": "embedded",
                "train": None,
                "forget": None,
                "retain": None,
                "anchor": "forget",
                "max_length": 512,
                "embedded": {},
            },
            "eval": {
                "benchmark": None,
                "metrics": None,
                "include_target": True,
                "mia_reference": None,
                "classifier_model": GIBBERISH_CLASSIFIER,
                "evaluators": [],
            },
            "generation": {"max_new_tokens": 200, "batch_size": 32, "cache": "dynamic"},
            "peft": {"name": "none"},
            "retain_logs_path": None,
            "paths": {"output_dir": None, "cache_dir": None},
            "experiment_args": {},
            "attacks": [],
        }
    )
