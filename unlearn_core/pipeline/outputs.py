"""Output directories: refuse to clobber, write atomically, record provenance."""

from __future__ import annotations

import shutil
from pathlib import Path

from unlearn_core.errors import OutputDirError


def prepare_output_dir(path: Path, *, overwrite: bool, resume: bool = False) -> None:
    """Create ``path``; a non-empty one is an error unless ``overwrite`` or ``resume`` is given."""
    if path.exists() and not path.is_dir():
        raise OutputDirError(f"output path {path} exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not (overwrite or resume):
        raise OutputDirError(
            f"output directory {path} is not empty: pass --overwrite to replace it, or set task_name=/paths.output_dir="
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise OutputDirError(f"cannot create output directory {path}: permission denied") from None
    except OSError as exc:
        raise OutputDirError(f"cannot create output directory {path}: {exc.strerror}") from None


def save_model_atomic(model: object, tokenizer: object, path: Path) -> None:
    """Save weights (safetensors) and tokenizer to a temporary sibling directory, then rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    old = path.with_name(f".{path.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, safe_serialization=True)  # type: ignore[attr-defined]
    tokenizer.save_pretrained(tmp)  # type: ignore[attr-defined]
    if path.exists():
        shutil.rmtree(old, ignore_errors=True)
        path.rename(old)
    tmp.rename(path)
    shutil.rmtree(old, ignore_errors=True)
