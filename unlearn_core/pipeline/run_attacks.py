"""``unlearn run ... attacks=[relearn,quantize]``: the attacks run on the saved model once unlearning and its
evaluation are done, each exactly as ``unlearn attack`` would (results in ``<run>/attacks/<label>/``), and their rows
and recoveries join the run's summary table."""

from __future__ import annotations

from unlearn_core.attacks.arguments import attack_entries, build_attack, resolve_attacks
from unlearn_core.config import ExperimentConfig
from unlearn_core.distributed import world_size
from unlearn_core.errors import ConfigError
from unlearn_core.pipeline.attack import attack_run
from unlearn_core.pipeline.records import RunResult
from unlearn_core.plugins import Plugins


def check_run_attacks(cfg: ExperimentConfig, plugins: Plugins) -> None:
    """Check the ``attacks`` setting before anything is created, and write it out in full (every argument) into the
    configuration: ``[{name: {argument: value}}]``."""
    value = cfg.values.get("attacks") or []
    if not value:
        return
    if cfg.mode != "unlearn":
        raise ConfigError(
            "'attacks' run after unlearning (unlearn run); to attack a finished run: unlearn attack NAME RUN_DIR"
        )
    if plugins.benchmarks.get(cfg.benchmark).experiment_steps(cfg.values):
        raise ConfigError(
            "'attacks' attack one unlearning run, and this experiment has steps: attack each step's directory "
            "with unlearn attack NAME RUN_DIR/<step>"
        )
    if world_size() > 1:
        raise ConfigError("'attacks' run in one process: once the launch is done, run unlearn attack NAME RUN_DIR")
    resolved = resolve_attacks(value, plugins.attacks, cfg.values)
    cfg.values["attacks"] = [{entry["name"]: entry["args"]} for entry in resolved]


def run_attacks(cfg: ExperimentConfig, plugins: Plugins, result: RunResult) -> RunResult:
    """Attack the model the run saved, one attack after the other, and add their rows to ``result``."""
    for name, args in attack_entries(cfg.values.get("attacks")):
        attack = build_attack(plugins.attacks, name, args, cfg.values)
        attacked = attack_run(cfg.output_dir, attack, plugins, overwrite=True, known_rows=result.rows)
        label = attack.label()
        result.rows[label] = attacked.rows[label]
        result.recovery.update(attacked.recovery)
        result.files[f"attack {label}"] = attacked.output_dir
        result.seconds[f"attack {label}"] = sum(attacked.seconds.values())
    return result
