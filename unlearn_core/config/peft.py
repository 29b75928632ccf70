"""The ``peft`` group: ``peft=lora`` trains LoRA adapters instead of every weight, ``peft.*`` sets them.

The keys are those of ``peft.LoraConfig`` (``r``, ``lora_alpha``, ``lora_dropout``, ``target_modules``, ``bias``,
``use_rslora``, ...), plus ``merge_on_save`` (save the model with the adapters merged in, instead of the adapter).
They are checked here, before any model loads, against the installed ``peft``: an unknown key or a value LoraConfig
refuses is one line naming the key and the valid ones (exit code 2). ``target_modules`` is checked against the
model's module names once it is loaded (``models.lora``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from unlearn_core.config.validate import coerce
from unlearn_core.errors import ConfigError
from unlearn_core.suggest import did_you_mean

PEFT_CHOICES = ("none", "lora")
"""What ``peft=`` selects."""

LORA_DEFAULTS: dict[str, Any] = {
    "r": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.05,
    "target_modules": None,
    "bias": "none",
    "merge_on_save": False,
}
"""``peft=lora`` without other keys (``target_modules`` None: peft's default for the model type, q_proj and v_proj for
Llama)."""

OWN_KEYS = ("merge_on_save",)
"""Keys of the group that are not LoraConfig's."""

SET_BY_RUNNER = ("task_type", "peft_type", "base_model_name_or_path", "revision", "inference_mode", "auto_mapping")
"""LoraConfig fields the runner sets itself."""

INSTALL_HINT = "pip install 'unlearn-core[peft]' (or pip install peft)"


def lora_config_class() -> Any:
    """``peft.LoraConfig``, or a ConfigError saying how to install peft."""
    try:
        from peft import LoraConfig  # optional extra: imported only when peft=lora is asked for
    except ImportError:
        raise ConfigError(f"peft=lora needs the peft package, which is not installed: {INSTALL_HINT}") from None
    return LoraConfig


def lora_keys() -> list[str]:
    """Every key ``peft.*`` accepts with ``peft=lora``."""
    fields = [f.name for f in dataclasses.fields(lora_config_class()) if f.name not in SET_BY_RUNNER]
    return sorted({*fields, *OWN_KEYS})


def apply_peft(cfg: dict[str, Any], selected: str | None, overrides: list[tuple[str, Any]]) -> None:
    """Set ``cfg["peft"]`` from ``peft=NAME`` and the ``peft.KEY=VALUE`` overrides (in order), checking both."""
    name = selected or cfg["peft"].get("name") or "none"
    if name not in PEFT_CHOICES:
        raise ConfigError(f"invalid value '{name}' for 'peft'{did_you_mean(name, PEFT_CHOICES)}; valid: none, lora")
    if name == "none":
        if overrides:
            key = overrides[0][0]
            raise ConfigError(f"'peft.{key}' needs peft=lora (LoRA adapters); without it every weight trains")
        cfg["peft"] = {"name": "none"}
        return
    if cfg["mode"] == "eval":
        raise ConfigError(
            "peft=lora trains adapters (train, unlearn); eval reads an adapter directory (adapter_config.json) as it is"
        )
    values = {**LORA_DEFAULTS, **{k: v for k, v in cfg["peft"].items() if k != "name"}}
    valid = lora_keys()
    for key, value in overrides:
        if key not in valid:
            raise ConfigError(
                f"unknown key 'peft.{key}'{did_you_mean(key, valid)}; valid keys (peft.LoraConfig's): "
                + ", ".join(valid)
            )
        if LORA_DEFAULTS.get(key) is not None:
            value = coerce(f"peft.{key}", LORA_DEFAULTS[key], value)
        values[key] = [value] if key == "target_modules" and isinstance(value, str) else value
    build_lora_config(values)
    cfg["peft"] = {"name": "lora", **values}


def build_lora_config(values: dict[str, Any]) -> Any:
    """The ``peft.LoraConfig`` of the group's values (a causal-LM task); a value it refuses is a ConfigError."""
    config_class = lora_config_class()
    kwargs = {k: v for k, v in values.items() if k not in ("name", *OWN_KEYS)}
    try:
        return config_class(task_type="CAUSAL_LM", **kwargs)
    except (TypeError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"invalid peft settings ({', '.join(f'peft.{k}' for k in kwargs)}): {reason}") from None


def uses_lora(cfg: dict[str, Any]) -> bool:
    """Whether the configuration trains LoRA adapters."""
    return (cfg.get("peft") or {}).get("name") == "lora"
