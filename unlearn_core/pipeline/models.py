"""Which model a command starts from, and loading it with its tokenizer."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from unlearn_core.models.loading import check_model_dir, load_causal_lm, load_tokenizer, looks_like_path


def resolve_model_dir(path: str) -> str:
    """Accept our run directories too: ``saves/unlearn/x`` holds the model in ``saves/unlearn/x/model``."""
    p = Path(path).expanduser()
    if p.is_dir() and (p / "model" / "config.json").exists():
        return str(p / "model")
    return path


def load_model_and_tokenizer(cfg: dict[str, Any], path: str, *, partitioned: bool = False) -> tuple[Any, Any]:
    """Load the causal LM at ``path`` and its tokenizer (``model.tokenizer_args`` may point elsewhere).

    Under DeepSpeed ZeRO-3 a model to train is loaded ``partitioned`` (each process reads only its slice); every
    other model is loaded whole.
    """
    from unlearn_core.training.zero3 import whole_model_loading

    path = resolve_model_dir(path)
    model_cfg = cfg["model"]
    trust = bool(model_cfg.get("trust_remote_code", False))
    if looks_like_path(path):
        check_model_dir(path, trust)
    tok_path = model_cfg["tokenizer_args"].get("pretrained_model_name_or_path") or path
    tokenizer = load_tokenizer(resolve_model_dir(tok_path), trust)
    with contextlib.nullcontext() if partitioned else whole_model_loading():
        model = load_causal_lm(path, model_cfg["model_args"], trust)
    return model, tokenizer
