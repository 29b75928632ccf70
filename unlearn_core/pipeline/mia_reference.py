"""Where ``mia_reference`` finds its reference model without extra configuration: the retain model.

In order: ``eval.mia_reference`` when the configuration has that key; the model recorded in the reference
(retain) logs' manifest when it is a local directory; the embedded retain model when the embedded default is used.
The model is loaded only when an entry needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from unlearn_core.errors import RetainLogsError


def mia_reference_path(cfg: dict[str, Any], logs: dict[str, Any] | None, embedded_retain: Path | None = None) -> str:
    """The directory (or hub id) of the reference model, or a RetainLogsError saying how to give one;
    ``embedded_retain`` is the embedded retain model when the embedded default is used."""
    configured = (cfg.get("eval") or {}).get("mia_reference")
    if configured:
        return str(configured)
    manifest = (logs or {}).get("manifest") or {}
    recorded = manifest.get("model")
    if isinstance(recorded, str) and Path(recorded).expanduser().is_dir():
        return str(Path(recorded).expanduser())
    if embedded_retain is not None:
        return str(embedded_retain)
    raise RetainLogsError(
        "mia_reference needs a reference model: evaluate with retain logs whose manifest names a local model "
        "directory (retain_logs_path=...), or use the embedded default"
    )


def mia_reference_loader(
    cfg: dict[str, Any], logs: dict[str, Any] | None, device: Any, embedded_retain: Path | None = None
) -> Callable[[], Any]:
    """A function that finds and loads the reference model on first call (in eval mode, on ``device``)."""

    def load() -> Any:
        from unlearn_core.pipeline.models import load_model_and_tokenizer  # heavy (torch): loaded on first use

        path = mia_reference_path(cfg, logs, embedded_retain)
        model_cfg = {
            **cfg["model"],
            "model_args": {**cfg["model"]["model_args"], "pretrained_model_name_or_path": path},
        }
        model_cfg["tokenizer_args"] = {"pretrained_model_name_or_path": None}
        model, _ = load_model_and_tokenizer({**cfg, "model": model_cfg}, path)
        return model.to(device).eval()

    return load
