"""LoRA adapters through ``peft``: wrapping a loaded model, its reference with the adapters off, saving, reloading.

With ``peft=lora`` only the adapters train. A method's frozen reference is the same model with its adapters disabled
(``adapters_off``), so no second copy is loaded. A run saves the adapter (``adapter_config.json`` and
``adapter_model.safetensors`` beside the tokenizer), or with ``peft.merge_on_save=true`` the model with the adapters
merged in. A directory that holds ``adapter_config.json`` loads as its base model plus the adapter, merged
(``load_adapter_dir``): the numbers a run reports for its adapter are those of that merged model.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from unlearn_core.config.peft import build_lora_config
from unlearn_core.errors import ConfigError, DataError

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"


def is_adapter_dir(path: str | Path) -> bool:
    """Whether ``path`` is a saved adapter (it holds ``adapter_config.json``)."""
    return (Path(path).expanduser() / ADAPTER_CONFIG).is_file()


def is_peft_model(model: Any) -> bool:
    """Whether ``model`` (inside DDP/DeepSpeed wrappers) is a PEFT model."""
    while isinstance(getattr(model, "module", None), torch.nn.Module):
        model = model.module
    return hasattr(model, "peft_config") and hasattr(model, "disable_adapter")


def peft_model_of(model: Any) -> Any:
    """The PEFT model inside DDP/DeepSpeed wrappers."""
    while isinstance(getattr(model, "module", None), torch.nn.Module):
        model = model.module
    return model


def wrappable_names(model: torch.nn.Module) -> list[str]:
    """The distinct last parts of the names of the modules LoRA can wrap (linear, embedding and convolution layers)."""
    kinds = (torch.nn.Linear, torch.nn.Embedding, torch.nn.Conv1d, torch.nn.Conv2d)
    names = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if name and isinstance(module, kinds)}
    names |= {
        name.rsplit(".", 1)[-1] for name, module in model.named_modules() if type(module).__name__ == "Conv1D" and name
    }
    return sorted(names)


def check_target_modules(model: torch.nn.Module, target_modules: Any) -> None:
    """Every name of ``peft.target_modules`` (a list: names matched at the end of module names, as peft does; a
    string: a regular expression on whole names) must match a module; a ConfigError names the model's modules."""
    if target_modules is None or target_modules == "all-linear":
        return
    names = [name for name, _ in model.named_modules() if name]
    if isinstance(target_modules, str):
        try:
            found = any(re.fullmatch(target_modules, name) for name in names)
        except re.error as exc:
            raise ConfigError(f"peft.target_modules '{target_modules}' is not a regular expression: {exc}") from None
        missing = [] if found else [target_modules]
    else:
        missing = [t for t in target_modules if not any(n == t or n.endswith(f".{t}") for n in names)]
    if missing:
        raise ConfigError(
            f"peft.target_modules names no module of this model: {', '.join(map(str, missing))} "
            f"(its module names: {', '.join(wrappable_names(model))})"
        )


def with_adapters(model: torch.nn.Module, values: dict[str, Any]) -> Any:
    """``model`` wrapped with fresh LoRA adapters (``values``: the ``peft`` group); only the adapters train."""
    from peft import get_peft_model  # optional extra: imported only with peft=lora

    check_target_modules(model, values.get("target_modules"))
    try:
        return get_peft_model(model, build_lora_config(values))
    except ValueError as exc:
        reason = str(exc).strip().splitlines()[0]
        raise ConfigError(
            f"peft cannot add adapters to this model: {reason} (its module names: "
            f"{', '.join(wrappable_names(model))}); set peft.target_modules=[...]"
        ) from None


@contextlib.contextmanager
def adapters_off(model: Any) -> Iterator[None]:
    """Inside, ``model`` (a PEFT model, possibly wrapped) is its base model: adapters disabled, in eval mode."""
    peft_model = peft_model_of(model)
    was_training = peft_model.training
    peft_model.eval()
    try:
        with peft_model.disable_adapter():
            yield
    finally:
        peft_model.train(was_training)


def adapter_base(path: str | Path) -> str:
    """The base model an adapter directory was trained on (``base_model_name_or_path`` of its config)."""
    config_file = Path(path).expanduser() / ADAPTER_CONFIG
    try:
        base = json.loads(config_file.read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {config_file}: {exc}") from None
    if not base:
        raise DataError(f"{config_file} names no base model (base_model_name_or_path)")
    if not (Path(path).expanduser() / ADAPTER_WEIGHTS).is_file():
        raise DataError(f"{path} holds no adapter weights ({ADAPTER_WEIGHTS})")
    return str(base)


def load_adapter_dir(path: str | Path, base_model: torch.nn.Module) -> torch.nn.Module:
    """``base_model`` with the adapter of ``path`` merged in (a plain model)."""
    try:
        from peft import PeftModel  # optional extra: needed only to read an adapter directory
    except ImportError:
        raise DataError(f"{path} is a LoRA adapter; reading it needs peft: pip install 'unlearn-core[peft]'") from None
    return PeftModel.from_pretrained(base_model, str(path)).merge_and_unload()


def merged(model: Any) -> torch.nn.Module:
    """The PEFT model inside ``model`` with its adapters merged into the base weights (in place)."""
    return peft_model_of(model).merge_and_unload()
