"""Outputs of chosen modules (hidden states of decoder layers) from one forward pass, for methods such as RMU.

Modules are chosen by a regular expression that must fully match their names in the model itself, whatever wraps
it for training (a DDP wrapper or a DeepSpeed engine exposes the model as ``.module``). The forward runs through the
wrapper, so ZeRO-3 still gathers each layer's parameter partitions: a hooked layer's output is an ordinary full
activation on every process, so this works under every launch configuration, for the trained model and for a
partitioned frozen reference. A loss on a middle layer leaves the later layers without gradient; DDP cannot
synchronise such a step (it waits for a gradient of every parameter the forward's output reaches), so for methods
that declare ``hidden_state_modules()`` the runner averages the gradients itself (``method_hooks.average_gradients``)
and those layers stay as they were, as in one process. DeepSpeed gives them zero gradients instead: with weight
decay they then shrink, so a method that trains only what its loss reaches (``trainable_parameters()``) gets the
same weights everywhere. The hooks live only for the one forward (a gradient-checkpointing recomputation does not
fire them again).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from unlearn_core.errors import ConfigError


@dataclass
class ModuleOutputs:
    """Logits of one forward pass and the outputs of the matched modules, by module name (in forward order)."""

    logits: torch.Tensor
    outputs: dict[str, torch.Tensor]

    def one(self) -> torch.Tensor:
        """The output of the only matched module (an error when the pattern matched several)."""
        if len(self.outputs) != 1:
            raise ValueError(f"expected the output of one module, got {len(self.outputs)}: {', '.join(self.outputs)}")
        return next(iter(self.outputs.values()))


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside DDP wrappers and DeepSpeed engines (both keep it as ``.module``) and inside a PEFT model (the
    causal LM with the adapters in its layers: module names are the model's own, adapters active)."""
    while isinstance(getattr(model, "module", None), torch.nn.Module):
        model = model.module  # type: ignore[assignment]
    base = getattr(model, "get_base_model", None)
    return base() if callable(base) and hasattr(model, "peft_config") else model


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``re.compile(pattern)``, or a ConfigError naming the pattern and what is wrong with it."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"'{pattern}' is not a regular expression: {exc}") from None


def matching_modules(model: torch.nn.Module, pattern: str) -> dict[str, torch.nn.Module]:
    """Modules of the unwrapped ``model`` whose names fully match ``pattern``; a ConfigError naming the pattern and a
    few module names when none does."""
    inner = unwrap(model)
    compiled = compile_pattern(pattern)
    found = {name: module for name, module in inner.named_modules() if name and compiled.fullmatch(name)}
    if not found:
        raise ConfigError(f"no module of the model is named like '{pattern}' ({_module_summary(inner)})")
    return found


def _module_summary(model: torch.nn.Module) -> str:
    """A few module names and the ranges of the numbered ones (``model.layers.0 to model.layers.3``)."""
    names = [name for name, _ in model.named_modules() if name]
    examples = ", ".join(names[:3] + names[len(names) // 2 : len(names) // 2 + 2])
    lists = [
        f"{name}.0 to {name}.{len(module) - 1}"
        for name, module in model.named_modules()
        if name and isinstance(module, torch.nn.ModuleList) and len(module)
    ]
    return f"its modules: {examples}, ..." + (f"; module lists: {', '.join(lists)}" if lists else "")


def module_outputs(model: torch.nn.Module, batch: Mapping[str, torch.Tensor], pattern: str) -> ModuleOutputs:
    """Run ``model`` on ``batch`` (input_ids, attention_mask) and return its logits with the outputs of the modules
    named like ``pattern`` (the first element where a module returns a tuple). Gradients flow as in any forward."""
    captured: dict[str, torch.Tensor] = {}

    def keep(name: str) -> Any:
        def hook(module: torch.nn.Module, inputs: Any, output: Any) -> None:
            captured[name] = output[0] if isinstance(output, (tuple, list)) else output

        return hook

    handles = [module.register_forward_hook(keep(name)) for name, module in matching_modules(model, pattern).items()]
    try:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask")).logits
    finally:
        for handle in handles:
            handle.remove()
    return ModuleOutputs(logits, captured)
