"""``--multirun`` and ``--show-config`` of run/train/eval: a sweep of runs, or the resolved configuration printed."""

from __future__ import annotations

import os
from typing import Any

import click

from unlearn_core.config import resolve_config
from unlearn_core.config.show import config_yaml, configs_yaml
from unlearn_core.errors import UnlearnError
from unlearn_core.pipeline.sweep import plan_sweep, run_sweep
from unlearn_core.pipeline.sweep_files import SWEEP_FILE, SWEEP_MARKDOWN, sweep_rows
from unlearn_core.table import render_table
from unlearn_core.training.settings import check_training_args

SWEEP_HELP = (
    "Sweeps: --multirun makes one run per combination of comma-separated values, e.g. "
    "--multirun trainer.args.learning_rate=1e-5,2e-5 trainer.method_args.beta=0.1,0.5 runs 4 combinations in "
    "saves/<mode>/<task_name>/<n>, listed with their summaries in sweep.json and sweep.md there; --resume continues "
    "an interrupted sweep. A YAML list [a,b] or mapping {a: 1} is one value, and so is a value in quotes, typed "
    "\"key='a,b'\" in a shell (the double quotes are for the shell, the single ones reach unlearn), or a comma "
    "escaped as a\\,b."
)
SHOW_CONFIG_HELP = (
    "Print the resolved configuration as YAML (presets and plugin defaults included; one document per combination "
    "with --multirun) and exit without loading a model."
)


def show_config(
    mode: str, plugins: Any, benchmark: str | None, method: str | None, overrides: list[str], multirun: bool
) -> None:
    """Print the configuration every run would use (checked as a run checks it), loading no model."""
    if multirun:
        sweep = plan_sweep(mode, plugins, benchmark=benchmark, method=method, overrides=overrides)
        documents = [(f"run {run.index}: {run.combination.label}", run.cfg.values) for run in sweep.runs]
        click.echo(configs_yaml(documents), nl=False)
        return
    cfg = resolve_config(mode, plugins, benchmark=benchmark, method=method, overrides=overrides)
    check_training_args(cfg.get("trainer.args"), mode)
    click.echo(config_yaml(cfg.values), nl=False)


def sweep_command(
    mode: str,
    plugins: Any,
    benchmark: str | None,
    method: str | None,
    overrides: list[str],
    *,
    overwrite: bool,
    resume: bool,
    command: list[str],
) -> None:
    """Plan and run a sweep, then print its table and where everything is; exit 1 when a run failed."""
    sweep = plan_sweep(mode, plugins, benchmark=benchmark, method=method, overrides=overrides)
    run_sweep(sweep, plugins, overwrite=overwrite, resume=resume, command=command)
    if int(os.environ.get("RANK", "0")) != 0:
        return  # process 0 reports for a multi-process sweep
    headers, rows = sweep_rows(sweep)
    click.echo("")
    click.echo(render_table(headers, rows))
    click.echo("")
    click.echo(f"Output: {sweep.directory} ({len(sweep.runs)} runs in {sweep.directory}/<n>)")
    click.echo(f"  sweep: {sweep.directory / SWEEP_FILE}")
    click.echo(f"  table: {sweep.directory / SWEEP_MARKDOWN}")
    click.echo(f"Compare: unlearn compare {sweep.directory} --plot {sweep.directory.name}.png")
    failed = [str(run.index) for run in sweep.runs if run.status != "finished"]
    if failed:
        raise UnlearnError(
            f"runs {', '.join(failed)} of {len(sweep.runs)} failed: see {sweep.directory / SWEEP_MARKDOWN}"
        )
