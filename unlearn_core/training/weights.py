"""Model weights and cached reference log-probs as safetensors files (never pickle)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from unlearn_core.distributed import is_partitioned
from unlearn_core.errors import TrainingError
from unlearn_core.methods import FORGET_FIELD
from unlearn_core.training.zero3 import load_into_partitioned


def save_weights(state_dict: dict[str, torch.Tensor], path: Path) -> None:
    """Write a state dict; tied weights (one tensor under two names) are stored once and recorded as aliases."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    first_of: dict[tuple[int, tuple[int, ...], tuple[int, ...]], str] = {}
    storages: set[int] = set()
    for name, tensor in state_dict.items():
        key = (tensor.data_ptr(), tuple(tensor.shape), tuple(tensor.stride()))
        if key in first_of:
            aliases[name] = first_of[key]
            continue
        first_of[key] = name
        storage = tensor.untyped_storage().data_ptr()
        value = tensor.detach().cpu()
        # safetensors refuses tensors that share memory: copy views of a storage already written.
        tensors[name] = value.clone().contiguous() if storage in storages else value.contiguous()
        storages.add(storage)
    save_file(tensors, str(path), metadata={"format": "pt", "aliases": json.dumps(aliases)})


def load_weights(path: Path, model: torch.nn.Module) -> None:
    """Load weights written by ``save_weights`` into ``model``; any missing or extra name is an error."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
    tensors = load_file(str(path))
    for alias, target in json.loads(metadata.get("aliases", "{}")).items():
        tensors[alias] = tensors[target]

    if is_partitioned(model):
        expected = set(model.state_dict())
        missing, unexpected = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
        if not (missing or unexpected):
            load_into_partitioned(model, tensors)
    else:
        missing, unexpected = model.load_state_dict(tensors, strict=False)
    if missing or unexpected:
        detail = "; ".join(
            part
            for part in (
                f"missing {', '.join(missing[:5])}" if missing else "",
                f"unexpected {', '.join(unexpected[:5])}" if unexpected else "",
            )
            if part
        )
        raise TrainingError(f"checkpoint weights {path} do not fit this model ({detail})")


def save_logprobs(values: dict[str, dict[int, float]], path: Path) -> None:
    """Cached reference log-probs by field, then sample index (float64, so the values round-trip exactly). The forget
    answers' are ``index``/``logprob`` (the layout of checkpoints written before other fields existed); another
    field's are ``<field>.index``/``<field>.logprob``."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    for name, by_index in values.items():
        prefix = "" if name == FORGET_FIELD else f"{name}."
        keys = sorted(by_index)
        tensors[f"{prefix}index"] = torch.tensor(keys, dtype=torch.int64)
        tensors[f"{prefix}logprob"] = torch.tensor([by_index[k] for k in keys], dtype=torch.float64)
    save_file(tensors, str(path))


def load_logprobs(path: Path) -> dict[str, dict[int, float]]:
    """Read what ``save_logprobs`` wrote."""
    from safetensors.torch import load_file

    data: dict[str, Any] = load_file(str(path))
    values: dict[str, dict[int, float]] = {}
    for key in data:
        if key == "index" or key.endswith(".index"):
            prefix = key.removesuffix("index")
            name = prefix.removesuffix(".") or FORGET_FIELD
            values[name] = dict(zip(data[key].tolist(), data[f"{prefix}logprob"].tolist()))
    return values
