"""Sweeps (``--multirun``): one run per combination of swept values, in ``<directory>/<n>``, listed in sweep files.

Every combination is resolved and checked before the first run starts, so a bad value anywhere stops the sweep with
nothing written. The runs share the target and retain models: the embedded ones come from the cache; with a real
target model the first run's evaluation of it is kept in ``<directory>/target_evaluations`` and reused by the others.
``sweep.json`` and ``sweep.md`` are rewritten (atomically) as each run starts and ends. ``resume`` skips finished
runs, continues an interrupted one from its last checkpoint (or starts it again when it has none) and runs the rest.
Under ``unlearn launch`` every process walks the same list; process 0 writes the sweep files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from unlearn_core.config import ExperimentConfig, resolve_config
from unlearn_core.config.sweep import Combination, expand_sweep
from unlearn_core.distributed import barrier
from unlearn_core.errors import ConfigError, OutputDirError, TrainingError
from unlearn_core.pipeline.environment import command_line, record_command
from unlearn_core.pipeline.outputs import is_main_process
from unlearn_core.pipeline.run_attacks import check_run_attacks
from unlearn_core.pipeline.run_table import TABLE_FILE, RunTable, read_run_table
from unlearn_core.pipeline.sweep_files import SWEEP_FILE, Sweep, SweepRun, save_sweep
from unlearn_core.plugins import Plugins
from unlearn_core.training.checkpoint import latest_checkpoint
from unlearn_core.training.settings import check_training_args
from unlearn_core.training.signals import TrainingInterrupted

SHARED_TARGET_DIR = "target_evaluations"


def _resolve(mode: str, plugins: Plugins, benchmark: str | None, method: str | None, combo: Combination) -> Any:
    """One combination's configuration, checked as a run would check it before loading anything."""
    from unlearn_core.pipeline.distributed_checks import check_launch  # heavy (torch): loaded on first use

    try:
        cfg = resolve_config(mode, plugins, benchmark=benchmark, method=method, overrides=list(combo.overrides))
        check_training_args(cfg.get("trainer.args"), mode)
        check_launch(cfg, plugins)
        check_run_attacks(cfg, plugins)
    except ConfigError as exc:
        raise type(exc)(f"run {combo.index} ({combo.label}): {exc}") from None
    return cfg


def _check_metric_names(configs: list[ExperimentConfig], plugins: Plugins) -> None:
    """``eval.metrics`` of every combination (once per distinct selection) against its benchmark's suite."""
    from unlearn_core.pipeline.evaluate import selected_keys  # heavy (torch): loaded on first use

    seen: set[str] = set()
    for index, cfg in enumerate(configs):
        metrics = cfg.get("eval.metrics")
        key = json.dumps([cfg.get("eval.benchmark"), metrics], default=str)
        if cfg.mode == "train" or metrics is None or key in seen:
            continue
        seen.add(key)
        try:
            selected_keys(cfg.values, plugins.benchmarks.get(cfg.get("eval.benchmark")).eval_suite(cfg.values))
        except ConfigError as exc:
            raise type(exc)(f"run {index}: {exc}") from None


def plan_sweep(
    mode: str, plugins: Plugins, *, benchmark: str | None, method: str | None, overrides: list[str]
) -> Sweep:
    """Expand ``overrides`` and resolve every combination (errors name the run and stop before anything runs)."""
    combos = expand_sweep(overrides)
    configs = [_resolve(mode, plugins, benchmark, method, combo) for combo in combos]
    directories = sorted({str(cfg.output_dir) for cfg in configs})
    if len(directories) > 1:
        shown = ", ".join(directories[:3]) + (", ..." if len(directories) > 3 else "")
        raise ConfigError(
            f"the combinations would be written to different directories ({shown}): the default task name follows "
            "a swept key; name the sweep with task_name=NAME"
        )
    directory = Path(directories[0])
    _check_metric_names(configs, plugins)
    runs = []
    for combo, cfg in zip(combos, configs):
        task, where = f"{cfg.get('task_name')}/{combo.index}", str(directory / str(combo.index))
        runs.append(SweepRun(combo, cfg.derive(task_name=task, paths__output_dir=where)))
    method_name = configs[0].get("trainer.name")
    return Sweep(mode, configs[0].benchmark, method_name, list(overrides), directory, runs, command_line())


def _check_directory(sweep: Sweep, *, overwrite: bool, resume: bool) -> None:
    """Refuse a directory holding one run, or another sweep (without --overwrite/--resume), or nothing to resume."""
    path = sweep.directory
    if overwrite and resume:
        raise ConfigError("--resume continues the sweep in its directory, --overwrite replaces its runs: give one")
    if path.exists() and not path.is_dir():
        raise OutputDirError(f"sweep directory {path} exists and is not a directory")
    if (path / "config.json").exists():
        raise OutputDirError(f"{path} holds a single run, not a sweep: name the sweep with task_name=NAME")
    if resume:
        _check_same_sweep(sweep)
    elif path.is_dir() and any(path.iterdir()) and not overwrite:
        raise OutputDirError(
            f"sweep directory {path} is not empty: pass --overwrite to replace its runs, --resume to continue it, "
            "or set task_name=NAME"
        )


def _check_same_sweep(sweep: Sweep) -> None:
    """``--resume`` continues the sweep recorded in ``sweep.json`` with the same combinations."""
    try:
        previous = json.loads((sweep.directory / SWEEP_FILE).read_text())
    except (OSError, ValueError):
        raise OutputDirError(f"nothing to resume in {sweep.directory}: no readable {SWEEP_FILE}") from None
    before = [list(run.get("overrides", [])) for run in previous.get("runs", [])]
    if before != [list(run.combination.overrides) for run in sweep.runs] or previous.get("mode") != sweep.mode:
        raise ConfigError(
            f"cannot resume {sweep.directory}: its sweep had other combinations; resume with the same options and "
            "overrides (or pass --overwrite to replace it)"
        )


def run_state(run: SweepRun, mode: str) -> str:
    """``new``, ``finished``, ``checkpoint`` (continues from it), ``partial`` (started again) or, for an
    evaluation, ``resumable`` (finished entries are reused)."""
    path = run.directory
    if not path.is_dir() or not any(path.iterdir()):
        return "new"
    try:
        status = json.loads((path / "provenance.json").read_text()).get("status")
    except (OSError, ValueError, AttributeError):
        status = None
    if status == "finished" and (path / TABLE_FILE).is_file():
        return "finished"
    if not (path / "config.json").is_file():
        return "partial"
    if mode == "eval":
        return "resumable"
    return "checkpoint" if latest_checkpoint(path) is not None else "partial"


def run_sweep(
    sweep: Sweep,
    plugins: Plugins,
    *,
    overwrite: bool = False,
    resume: bool = False,
    command: list[str] | None = None,
) -> Sweep:
    """Run every combination not finished yet; ``command`` (the CLI's words before the overrides) is recorded, with
    each run's overrides, as that run's command. A run stopped by a non-finite loss is marked failed and the sweep
    goes on; any other error or a stop signal marks the run and ends the sweep."""
    _check_directory(sweep, overwrite=overwrite, resume=resume)
    states = {run.index: run_state(run, sweep.mode) for run in sweep.runs} if resume else {}
    barrier()  # every process has read the directory before process 0 writes into it
    for run in sweep.runs:
        if states.get(run.index) == "finished":
            run.status, run.table = "finished", read_run_table(run.directory)
    save_sweep(sweep)
    for run in sweep.runs:
        if run.status != "finished":
            _run_one(sweep, run, plugins, states.get(run.index, "new"), overwrite, command)
    return sweep


def _run_one(
    sweep: Sweep, run: SweepRun, plugins: Plugins, state: str, overwrite: bool, command: list[str] | None
) -> None:
    """Run one combination (``state``: see ``run_state``) and record how it went in the sweep files."""
    from unlearn_core.pipeline.api import execute  # heavy (torch): loaded on first use

    if command is not None:
        where = [f"task_name={run.cfg.get('task_name')}", f"paths.output_dir={run.directory}"]
        record_command([*command, *run.combination.overrides, *where])
    run.status, run.error = "running", None
    save_sweep(sweep)
    if is_main_process():
        how = {"checkpoint": ", continuing from its checkpoint", "partial": ", started again"}.get(state, "")
        where = f"{sweep.directory.name} {run.index + 1}/{len(sweep.runs)}: run {run.index}"
        print(f"[sweep {where}] {run.combination.label}{how}", file=sys.stderr, flush=True)
    try:
        result = execute(
            run.cfg,
            plugins,
            overwrite=overwrite or state == "partial",
            resume=state in ("checkpoint", "resumable"),
            shared_target=sweep.directory / SHARED_TARGET_DIR,
        )
    except TrainingError as exc:
        run.status, run.error = ("interrupted" if isinstance(exc, TrainingInterrupted) else "failed"), str(exc)
        save_sweep(sweep)
        if isinstance(exc, TrainingInterrupted):
            raise
        print(f"warning: run {run.index} ({run.combination.label}) failed: {exc}", file=sys.stderr, flush=True)
        return
    except BaseException as exc:
        run.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        run.error = str(exc) or type(exc).__name__
        save_sweep(sweep)
        raise
    run.status, run.table = (
        "finished",
        RunTable(result.rows, list(result.columns), dict(result.labels), dict(result.recovery)),
    )
    save_sweep(sweep)
