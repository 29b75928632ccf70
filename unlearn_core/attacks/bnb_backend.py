"""bitsandbytes quantization (CUDA only): the unlearned model reloaded with ``load_in_8bit`` or ``load_in_4bit``,
as the quantization attack's authors and open-unlearning's maintainers suggest ("toggle load_in_4bit")."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from unlearn_core.errors import ConfigError
from unlearn_core.models.loading import load_causal_lm

ALTERNATIVES = "use attack.method=rtn (any device) or attack.method=quanto (CPU)"


def check_bnb() -> None:
    """Refuse ``attack.method=bnb`` without CUDA or without bitsandbytes, in one line."""
    import torch  # the attack runs on a model anyway; needed to ask for CUDA

    if not torch.cuda.is_available():
        raise ConfigError(f"attack.method=bnb needs a CUDA device and this machine has none: {ALTERNATIVES}")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError("attack.method=bnb needs bitsandbytes, which is not installed: pip install bitsandbytes")


def load_bnb_model(model_dir: Path, bits: int, cfg: dict[str, Any], device: Any) -> Any:
    """The model of ``model_dir`` loaded with bitsandbytes ``bits``-bit weights on ``device`` (``model.model_args``
    as for any load; bitsandbytes leaves the output head in full precision)."""
    from transformers import BitsAndBytesConfig  # heavy: only for this backend

    quantization = BitsAndBytesConfig(load_in_8bit=bits == 8, load_in_4bit=bits == 4)
    args = {**cfg["model"]["model_args"], "quantization_config": quantization, "device_map": {"": device}}
    return load_causal_lm(str(model_dir), args, bool(cfg["model"].get("trust_remote_code", False)))
