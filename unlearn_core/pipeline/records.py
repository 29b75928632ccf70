"""What a command leaves behind: its ``RunResult`` (rows of the final table, files) and ``provenance.json``."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unlearn_core.config import ExperimentConfig
from unlearn_core.pipeline.environment import provenance
from unlearn_core.pipeline.outputs import current_run, is_main_process
from unlearn_core.plugins import Plugins, plugin_versions
from unlearn_core.training.diskio import write_json


@dataclass
class RunResult:
    """What a command produced: its directory, a summary row per model, the files written and timings."""

    output_dir: Path
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    """How the table names a column, where not by its key."""
    files: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    recovery: dict[str, dict[str, float | None]] = field(default_factory=dict)
    """Per attacked row: the recovery of each forget metric (``attacks.recovery``)."""


def record_provenance(
    cfg: ExperimentConfig, plugins: Plugins, accelerator: Any, extra: dict[str, Any], status: str = "finished"
) -> None:
    """Write ``provenance.json`` in the output directory (and close the run directory's set-up phase)."""
    current_run(cfg.output_dir).commit()
    if not is_main_process():
        return
    previous = _previous_provenance(cfg.output_dir)
    data = {**provenance(cfg.values, plugin_versions(plugins), accelerator), **extra, "status": status}
    data["started"] = previous.get("started")
    data["finished"] = time.time() if status == "finished" else None
    resumes = list(previous.get("resumed_from") or [])
    if extra.get("resumed_from") is not None and extra["resumed_from"] not in resumes:
        resumes.append(extra["resumed_from"])
    data["resumed_from"] = resumes
    write_json(cfg.output_dir / "provenance.json", data)


def _previous_provenance(output_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((output_dir / "provenance.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
