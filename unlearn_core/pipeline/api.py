"""The Python API behind the CLI: ``run(mode, benchmark=..., method=..., overrides=[...])``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unlearn_core.config import ExperimentConfig, resolve_config
from unlearn_core.errors import ConfigError
from unlearn_core.plugins import Plugins, load_plugins, plugin_versions
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


def run(
    mode: str,
    *,
    benchmark: str | None = None,
    method: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    overwrite: bool = False,
    resume: bool = False,
    plugins: Plugins | None = None,
) -> RunResult:
    """Resolve the configuration, then train (``train``), unlearn (``unlearn``) or evaluate (``eval``)."""
    plugins = plugins or load_plugins()
    cfg = resolve_config(mode, plugins, benchmark=benchmark, method=method, overrides=list(overrides))
    return execute(cfg, plugins, overwrite=overwrite, resume=resume)


def execute(
    cfg: ExperimentConfig,
    plugins: Plugins,
    *,
    overwrite: bool = False,
    resume: bool = False,
    shared_target: Path | None = None,
) -> RunResult:
    """Run an already resolved configuration; ``resume`` continues the run in its directory from its last checkpoint.

    Nothing is created when the output directory or the checkpoint settings are wrong, and a command whose inputs
    then fail validation removes what it created (see ``pipeline.outputs``). The printed table is kept as
    ``summary_table.json``. ``shared_target``: a directory where unlearning runs from one target model (a sweep's)
    share its evaluation.
    """
    from unlearn_core.distributed import barrier
    from unlearn_core.pipeline.distributed_checks import check_launch
    from unlearn_core.pipeline.environment import provenance, quiet_libraries
    from unlearn_core.pipeline.outputs import begin_run, check_output_dir, check_resumable, is_main_process
    from unlearn_core.pipeline.run_table import RunTable, write_run_table
    from unlearn_core.training.settings import check_training_args

    quiet_libraries()
    check_output_dir(cfg.output_dir, overwrite=overwrite, resume=resume)
    check_launch(cfg, plugins)
    barrier()  # every process has checked the directory before process 0 writes into it
    check_training_args(cfg.get("trainer.args"), cfg.mode)
    if resume:
        check_resumable(cfg.output_dir, cfg.mode, cfg.values)
    started = {"status": "running", "started": time.time()}
    begin_run(
        cfg.output_dir,
        cfg.values,
        overwrite=overwrite,
        resume=resume,
        provenance={**provenance(cfg.values, plugin_versions(plugins), None), **started},
    )
    barrier()
    result = _dispatch(cfg, plugins, shared_target)
    if is_main_process():
        write_run_table(result.output_dir, RunTable(result.rows, list(result.columns), dict(result.labels)))
    return result


def _dispatch(cfg: ExperimentConfig, plugins: Plugins, shared_target: Path | None) -> RunResult:
    """The command of ``cfg.mode``."""
    from unlearn_core.pipeline import commands

    if cfg.mode == "train":
        return commands.train_command(cfg, plugins)
    if cfg.mode == "eval":
        return commands.eval_command(cfg, plugins)
    if cfg.mode == "unlearn":
        steps = plugins.benchmarks.get(cfg.benchmark).experiment_steps(cfg.values)
        if steps:
            from unlearn_core.pipeline.experiments import experiment_command

            return experiment_command(cfg, plugins, steps, shared_target)
        return commands.unlearn_command(cfg, plugins, shared_target)
    raise ConfigError(f"unknown mode '{cfg.mode}'")


def record_provenance(
    cfg: ExperimentConfig, plugins: Plugins, accelerator: Any, extra: dict[str, Any], status: str = "finished"
) -> None:
    """Write ``provenance.json`` in the output directory (and close the run directory's set-up phase)."""
    from unlearn_core.pipeline.environment import provenance
    from unlearn_core.pipeline.outputs import current_run, is_main_process

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
    import json

    try:
        data = json.loads((output_dir / "provenance.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
