"""Which model a command starts from, and loading it with its tokenizer."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from unlearn_core.errors import ConfigError
from unlearn_core.gc_deferral import resume_collection
from unlearn_core.models.loading import check_model_dir, load_causal_lm, load_tokenizer, looks_like_path
from unlearn_core.models.lora import ADAPTER_CONFIG, adapter_base, is_adapter_dir, load_adapter_dir
from unlearn_core.training.zero3 import whole_model_loading


def resolve_model_dir(path: str) -> str:
    """Accept our run directories too: ``saves/unlearn/x`` holds the model (or a LoRA adapter) in
    ``saves/unlearn/x/model``."""
    p = Path(path).expanduser()
    if p.is_dir() and ((p / "model" / "config.json").exists() or (p / "model" / ADAPTER_CONFIG).exists()):
        return str(p / "model")
    return path


def check_quantization(model_args: dict[str, Any]) -> None:
    """``model.model_args.quantization_config`` (bitsandbytes 4- or 8-bit, for QLoRA) needs a CUDA device: refused
    in one line before anything loads on a machine without one."""
    import torch

    if model_args.get("quantization_config") is not None and not torch.cuda.is_available():
        raise ConfigError(
            "model.model_args.quantization_config (bitsandbytes 4/8-bit) needs a CUDA device, and this machine has "
            "none: remove it to load the model unquantised"
        )


def load_model_and_tokenizer(cfg: dict[str, Any], path: str, *, partitioned: bool = False) -> tuple[Any, Any]:
    """Load the causal LM at ``path`` and its tokenizer (``model.tokenizer_args`` may point elsewhere).

    A LoRA adapter directory (``adapter_config.json``) loads as its base model with the adapter merged in. Under
    DeepSpeed ZeRO-3 a model to train is loaded ``partitioned`` (each process reads only its slice); every other
    model is loaded whole.
    """
    path = resolve_model_dir(path)
    model_cfg = cfg["model"]
    check_quantization(model_cfg["model_args"])
    trust = bool(model_cfg.get("trust_remote_code", False))
    adapter = path if is_adapter_dir(path) else None
    weights = adapter_base(adapter) if adapter else path
    if looks_like_path(weights):
        check_model_dir(weights, trust)
    tok_path = model_cfg["tokenizer_args"].get("pretrained_model_name_or_path") or path
    tokenizer = load_tokenizer(resolve_model_dir(tok_path), trust)
    with contextlib.nullcontext() if partitioned and not adapter else whole_model_loading():
        model = load_causal_lm(weights, model_cfg["model_args"], trust)
    model = load_adapter_dir(adapter, model) if adapter else model
    resume_collection()  # start-up is over (see unlearn_core.gc_deferral)
    return model, tokenizer
