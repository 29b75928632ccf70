"""The Python API behind the CLI: ``run(mode, benchmark=..., method=..., overrides=[...])``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unlearn_core.config import ExperimentConfig, resolve_config
from unlearn_core.errors import ConfigError
from unlearn_core.evaluation.results import write_json_atomic
from unlearn_core.plugins import Plugins, load_plugins, plugin_versions


@dataclass
class RunResult:
    """What a command produced: its directory, a summary row per model, the files written and timings."""

    output_dir: Path
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def run(
    mode: str,
    *,
    benchmark: str | None = None,
    method: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    overwrite: bool = False,
    plugins: Plugins | None = None,
) -> RunResult:
    """Resolve the configuration, then train (``train``), unlearn (``unlearn``) or evaluate (``eval``)."""
    plugins = plugins or load_plugins()
    cfg = resolve_config(mode, plugins, benchmark=benchmark, method=method, overrides=list(overrides))
    return execute(cfg, plugins, overwrite=overwrite)


def execute(cfg: ExperimentConfig, plugins: Plugins, *, overwrite: bool = False) -> RunResult:
    """Run an already resolved configuration."""
    from unlearn_core.pipeline.environment import quiet_libraries
    from unlearn_core.pipeline.outputs import prepare_output_dir

    quiet_libraries()
    prepare_output_dir(cfg.output_dir, overwrite=overwrite)
    write_json_atomic(cfg.output_dir / "config.json", cfg.values)
    if cfg.mode == "train":
        from unlearn_core.pipeline.commands import train_command

        return train_command(cfg, plugins)
    if cfg.mode == "eval":
        from unlearn_core.pipeline.commands import eval_command

        return eval_command(cfg, plugins)
    if cfg.mode == "unlearn":
        from unlearn_core.pipeline.commands import unlearn_command

        return unlearn_command(cfg, plugins)
    raise ConfigError(f"unknown mode '{cfg.mode}'")


def record_provenance(cfg: ExperimentConfig, plugins: Plugins, accelerator: Any, extra: dict[str, Any]) -> None:
    """Write ``provenance.json`` in the output directory."""
    from unlearn_core.pipeline.environment import provenance

    data = {**provenance(cfg.values, plugin_versions(plugins), accelerator), **extra, "finished": time.time()}
    write_json_atomic(cfg.output_dir / "provenance.json", data)
