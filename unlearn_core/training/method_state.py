"""A method's own state (``UnlearningMethod.state_dict``) in a checkpoint: tensors as safetensors, the rest as JSON
(never pickle), written by process 0 into the checkpoint's temporary directory like every other file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from unlearn_core.errors import TrainingError
from unlearn_core.training.diskio import write_json

STATE_JSON = "method_state.json"
STATE_TENSORS = "method_state.safetensors"


def save_method_state(state: dict[str, Any], directory: Path) -> None:
    """Write ``state`` (top-level tensors or JSON values) into a checkpoint directory; nothing when it is empty."""
    if not state:
        return
    tensors = {k: v.detach().cpu().clone().contiguous() for k, v in state.items() if isinstance(v, torch.Tensor)}
    values = {k: v for k, v in state.items() if not isinstance(v, torch.Tensor)}
    for key, value in values.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise TrainingError(
                f"the method's state_dict() value '{key}' ({type(value).__name__}) is neither a tensor nor a JSON "
                "value, so it cannot be checkpointed"
            ) from None
    if tensors:
        from safetensors.torch import save_file

        save_file(tensors, str(directory / STATE_TENSORS))
    write_json(directory / STATE_JSON, {"values": values, "tensors": sorted(tensors)})


def load_method_state(directory: Path) -> dict[str, Any] | None:
    """The state ``save_method_state`` wrote into a checkpoint directory, or None when it holds none."""
    if not (directory / STATE_JSON).is_file():
        return None
    try:
        saved = json.loads((directory / STATE_JSON).read_text())
        state = dict(saved["values"])
        if saved["tensors"]:
            from safetensors.torch import load_file

            tensors = load_file(str(directory / STATE_TENSORS))
            state.update({name: tensors[name] for name in saved["tensors"]})
    except Exception as exc:  # a truncated or foreign file: OSError, JSON, safetensors or key errors
        raise TrainingError(f"the method state in checkpoint {directory} cannot be read: {exc}") from None
    return state
