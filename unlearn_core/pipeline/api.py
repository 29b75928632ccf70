"""The Python API behind the CLI: ``run(mode, benchmark=..., method=..., overrides=[...])``."""

from __future__ import annotations

import time
from pathlib import Path

from unlearn_core.config import ExperimentConfig, resolve_config
from unlearn_core.distributed import barrier
from unlearn_core.errors import ConfigError
from unlearn_core.pipeline.commands import eval_command, train_command, unlearn_command
from unlearn_core.pipeline.distributed_checks import check_launch
from unlearn_core.pipeline.environment import provenance, quiet_libraries
from unlearn_core.pipeline.experiments import experiment_command
from unlearn_core.pipeline.outputs import begin_run, check_output_dir, check_resumable, is_main_process
from unlearn_core.pipeline.records import RunResult
from unlearn_core.pipeline.run_attacks import check_run_attacks, run_attacks
from unlearn_core.pipeline.run_table import RunTable, write_run_table
from unlearn_core.plugins import Plugins, load_plugins, plugin_versions
from unlearn_core.training.settings import check_training_args

__all__ = ["RunResult", "execute", "run"]


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
    quiet_libraries()
    check_output_dir(cfg.output_dir, overwrite=overwrite, resume=resume)
    check_launch(cfg, plugins)
    check_run_attacks(cfg, plugins)
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
        table = RunTable(result.rows, list(result.columns), dict(result.labels), dict(result.recovery))
        write_run_table(result.output_dir, table)
    return result


def _dispatch(cfg: ExperimentConfig, plugins: Plugins, shared_target: Path | None) -> RunResult:
    """The command of ``cfg.mode``."""
    if cfg.mode == "train":
        return train_command(cfg, plugins)
    if cfg.mode == "eval":
        return eval_command(cfg, plugins)
    if cfg.mode == "unlearn":
        steps = plugins.benchmarks.get(cfg.benchmark).experiment_steps(cfg.values)
        if steps:
            return experiment_command(cfg, plugins, steps, shared_target)
        result = unlearn_command(cfg, plugins, shared_target)
        return run_attacks(cfg, plugins, result) if cfg.get("attacks") else result
    raise ConfigError(f"unknown mode '{cfg.mode}'")
