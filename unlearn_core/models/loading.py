"""Load any HF causal LM and its tokenizer from a directory or a hub id, with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unlearn_core.errors import DataError

DTYPES = ("float32", "bfloat16", "float16", "auto")


def looks_like_path(name: str) -> bool:
    """True for strings a user means as a local directory (``./x``, ``/x``, ``saves/...``, or an existing path)."""
    return name.startswith((".", "/", "~")) or Path(name).exists() or name.startswith("saves")


def check_model_dir(path: str) -> None:
    """Raise DataError unless ``path`` is a directory holding a model config and weights."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise DataError(f"model directory not found: {p}")
    if not (p / "config.json").is_file():
        raise DataError(f"{p} is not a model directory: config.json is missing")
    weights = list(p.glob("*.safetensors")) + list(p.glob("*.safetensors.index.json")) + list(p.glob("*.bin"))
    if not weights:
        raise DataError(f"{p} holds no weights (*.safetensors)")


def load_tokenizer(name_or_path: str, trust_remote_code: bool = False) -> Any:
    """Load a tokenizer; give it a pad token (its EOS) when it has none."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    except Exception as exc:
        raise DataError(f"cannot load tokenizer '{name_or_path}': {str(exc).splitlines()[0]}") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_causal_lm(name_or_path: str, model_args: dict[str, Any], trust_remote_code: bool = False) -> Any:
    """Load weights with ``AutoModelForCausalLM.from_pretrained`` (safetensors only)."""
    import torch
    from transformers import AutoModelForCausalLM

    if looks_like_path(name_or_path):
        check_model_dir(name_or_path)
    kwargs = {k: v for k, v in model_args.items() if k not in ("pretrained_model_name_or_path", "torch_dtype")}
    dtype_name = model_args.get("torch_dtype", "float32") or "float32"
    if dtype_name not in DTYPES:
        raise DataError(f"unknown model.model_args.torch_dtype '{dtype_name}'; valid: {', '.join(DTYPES)}")
    dtype = dtype_name if dtype_name == "auto" else getattr(torch, dtype_name)
    try:
        return AutoModelForCausalLM.from_pretrained(
            name_or_path, dtype=dtype, use_safetensors=True, trust_remote_code=trust_remote_code, **kwargs
        )
    except Exception as exc:
        raise DataError(f"cannot load model '{name_or_path}': {str(exc).splitlines()[0]}") from None
