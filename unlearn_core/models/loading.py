"""Load any HF causal LM and its tokenizer from a directory or a hub id, with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from unlearn_core.errors import DataError

DTYPES = ("float32", "bfloat16", "float16", "auto")


def looks_like_path(name: str) -> bool:
    """True for strings a user means as a local directory (``./x``, ``/x``, ``saves/...``, or an existing path)."""
    return name.startswith((".", "/", "~")) or Path(name).exists() or name.startswith("saves")


PICKLE_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")


def check_model_dir(path: str, trust_remote_code: bool = False) -> None:
    """Raise DataError unless ``path`` holds a readable model config and safetensors weights (and, unless trusted,
    no custom code)."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise DataError(f"model directory not found: {p}" if not p.exists() else f"model path {p} is not a directory")
    config = p / "config.json"
    if not config.is_file():
        raise DataError(f"{p} is not a model directory: config.json is missing")
    try:
        parsed = json.loads(config.read_text(encoding="utf-8"))
    except PermissionError:
        raise DataError(f"cannot read {config}: permission denied") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{config} is not valid JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(parsed, dict):
        raise DataError(f"{config} must hold a JSON object (a model configuration)")
    if not trust_remote_code:
        _refuse_custom_code(p, parsed)
    if list(p.glob("*.safetensors")) or list(p.glob("*.safetensors.index.json")):
        return
    pickled = sorted(q.name for pattern in PICKLE_WEIGHTS for q in p.glob(pattern))
    if pickled:
        raise DataError(
            f"{p} holds only pickle weights ({', '.join(pickled[:3])}), which can run code when loaded: unlearn reads "
            "safetensors only; convert them where you trust the file (save_pretrained(dir, safe_serialization=True))"
        )
    raise DataError(f"{p} holds no weights (*.safetensors)")


def _refuse_custom_code(p: Path, config: dict[str, Any]) -> None:
    tokenizer_config: Any = {}
    try:
        tokenizer_config = json.loads((p / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    for name, data in (("config.json", config), ("tokenizer_config.json", tokenizer_config)):
        if isinstance(data, dict) and data.get("auto_map"):
            raise DataError(
                f"{p / name} asks for the model's own Python code (auto_map), which unlearn runs only with "
                "model.trust_remote_code=true (read that code first)"
            )


def _load_failure(what: str, name_or_path: str, exc: Exception) -> str:
    """One line; custom code that was not trusted gets its own message."""
    text = str(exc).strip()
    if "custom code" in text or "trust_remote_code" in text:
        return (
            f"cannot load {what} '{name_or_path}': it needs its own Python code (auto_map in config.json), which "
            "unlearn runs only with model.trust_remote_code=true (read that code first)"
        )
    return f"cannot load {what} '{name_or_path}': {text.splitlines()[0] if text else type(exc).__name__}"


def load_tokenizer(name_or_path: str, trust_remote_code: bool = False) -> Any:
    """Load a tokenizer; give it a pad token (its EOS) when it has none."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    except Exception as exc:
        raise DataError(_load_failure("tokenizer", name_or_path, exc)) from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_causal_lm(name_or_path: str, model_args: dict[str, Any], trust_remote_code: bool = False) -> Any:
    """Load weights with ``AutoModelForCausalLM.from_pretrained`` (safetensors only)."""
    import torch
    from transformers import AutoModelForCausalLM

    if looks_like_path(name_or_path):
        check_model_dir(name_or_path, trust_remote_code)
    kwargs = {k: v for k, v in model_args.items() if k not in ("pretrained_model_name_or_path", "torch_dtype")}
    if isinstance(kwargs.get("quantization_config"), dict):  # QLoRA: bitsandbytes settings from the configuration
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(**kwargs["quantization_config"])
    dtype_name = model_args.get("torch_dtype", "float32") or "float32"
    if dtype_name not in DTYPES:
        raise DataError(f"unknown model.model_args.torch_dtype '{dtype_name}'; valid: {', '.join(DTYPES)}")
    dtype = dtype_name if dtype_name == "auto" else getattr(torch, dtype_name)
    try:
        return AutoModelForCausalLM.from_pretrained(
            name_or_path, dtype=dtype, use_safetensors=True, trust_remote_code=trust_remote_code, **kwargs
        )
    except Exception as exc:
        raise DataError(_load_failure("model", name_or_path, exc)) from None
