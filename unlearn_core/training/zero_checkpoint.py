"""The optimizer state of a DeepSpeed ZeRO run in checkpoints: one file per process (each holds its partition),
written with ``torch.save`` and read back with ``weights_only=True`` (tensors and plain values, never pickled
objects). DeepSpeed's own objects in that state (loss scaler, stage enum, parameter-slice maps) are not stored: they
are rebuilt from the running optimizer, which has the same layout because a resumed run has the same shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from unlearn_core.errors import TrainingError

LOSS_SCALER = "loss_scaler"
SCALER_SETTINGS = "loss_scaler_settings"


def zero_optimizer(model: Any) -> Any | None:
    """The optimizer of a model prepared as a DeepSpeed engine (it holds this process's partition), else None."""
    try:
        from deepspeed import DeepSpeedEngine
    except ImportError:
        return None
    return model.optimizer if isinstance(model, DeepSpeedEngine) else None


def optimizer_file(path: Path, process_index: int) -> Path:
    """Where process ``process_index`` keeps its optimizer partition in checkpoint ``path``."""
    return path / f"optimizer-{process_index}.pt"


def _plain(value: Any) -> bool:
    """Whether ``value`` is made of tensors and plain Python values only (what ``weights_only`` loading accepts)."""
    if isinstance(value, torch.Tensor) or type(value) in (bool, int, float, str, type(None)):
        return True
    if type(value) in (list, tuple):
        return all(_plain(v) for v in value)
    if type(value) is dict:
        return all(type(k) in (str, int) and _plain(v) for k, v in value.items())
    return False  # an object (enum, dataclass, OrderedDict): rebuilt from the running optimizer


def save_zero_optimizer(optimizer: Any, path: Path) -> None:
    """Write this process's ZeRO optimizer partition: base optimizer state, fp32 master weights, settings."""
    state = optimizer.state_dict()
    portable: dict[str, Any] = {}
    for key, value in state.items():
        if key == LOSS_SCALER:
            settings = vars(value) if hasattr(value, "__dict__") else {}
            portable[SCALER_SETTINGS] = {k: v for k, v in settings.items() if type(v) in (bool, int, float)}
        elif _plain(value):
            portable[key] = value
    torch.save(portable, path)


def load_zero_optimizer(optimizer: Any, path: Path, world_size: int) -> None:
    """Restore this process's partition written by ``save_zero_optimizer`` (fp32 master weights included, so the
    weights continue exactly; under ZeRO-3 they also give the model its parameters back)."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise TrainingError(
            f"checkpoint {path.parent} has no optimizer partition {path.name} for this process"
        ) from None
    except Exception as exc:
        raise TrainingError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    current = optimizer.state_dict()
    merged = {**current, **{k: v for k, v in saved.items() if k != SCALER_SETTINGS}}
    scaler = current.get(LOSS_SCALER)
    for key, value in saved.get(SCALER_SETTINGS, {}).items():
        if scaler is not None and hasattr(scaler, key):
            setattr(scaler, key, value)
    if hasattr(optimizer, "checkpoint_event_prologue"):
        optimizer.checkpoint_event_prologue()  # ZeRO-3: every parameter back to its partition first
    # DeepSpeed picks this process's entry out of the per-process list by its data-parallel rank
    optimizer.load_state_dict([merged] * world_size, load_optimizer_states=True, load_from_fp32_weights=True)
    if hasattr(optimizer, "checkpoint_event_epilogue"):
        optimizer.checkpoint_event_epilogue()
