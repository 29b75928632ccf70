"""``unlearn attack NAME RUN_DIR``: attack the unlearned model of a run directory and evaluate what comes back.

The run's own ``config.json`` says how to evaluate (benchmark, splits, metrics, reference logs), so the attacked
model is scored exactly as the unlearned one was. Results go to ``RUN_DIR/attacks/<label>/`` (``<BENCH>_EVAL.json``,
``<BENCH>_SUMMARY.json``, ``attack.json``: the attack's manifest, ``summary_table.json``), written in a temporary
directory and renamed when complete. The table compares the unlearned model with the attacked one (target and retain
rows when the run knows them) and adds the recovery of each forget metric (``attacks.recovery``).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path
from typing import Any

from unlearn_core.attacks.contract import Attack
from unlearn_core.attacks.recovery import recovery_columns, recovery_row
from unlearn_core.config import ExperimentConfig
from unlearn_core.errors import ConfigError, OutputDirError
from unlearn_core.pipeline.attack_context import RunAttackContext
from unlearn_core.pipeline.environment import command_line, get_accelerator
from unlearn_core.pipeline.records import RunResult
from unlearn_core.pipeline.run_table import REFERENCE_ROWS, RunTable, read_run_table, write_run_table
from unlearn_core.plugins import Plugins
from unlearn_core.training.diskio import replace_dir, write_json

ATTACKS_DIR = "attacks"
MANIFEST_FILE = "attack.json"
UNLEARNED = "unlearned"


def load_attacked_run(run_dir: Path) -> ExperimentConfig:
    """The configuration of the run in ``run_dir``; a directory without a run or without a model is refused."""
    if not (run_dir / "config.json").is_file():
        raise ConfigError(f"{run_dir} is not a run directory (no config.json): give the directory of an unlearn run")
    model = run_dir / "model"
    if not (model / "config.json").is_file() or not any(model.glob("*.safetensors*")):
        raise ConfigError(f"run directory {run_dir} has no model ({model} with safetensors weights): nothing to attack")
    try:
        values = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {run_dir / 'config.json'}: {exc}") from None
    if not isinstance(values, dict) or not values.get("benchmark"):
        raise ConfigError(f"{run_dir / 'config.json'} holds no run configuration (no benchmark)")
    return ExperimentConfig(values)


def attack_dir(run_dir: Path, attack: Attack) -> Path:
    """Where ``attack``'s results on the run go."""
    return run_dir / ATTACKS_DIR / attack.label()


def check_attack_dir(out: Path, overwrite: bool) -> None:
    """Refuse earlier results of the same attack unless ``overwrite``."""
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputDirError(f"{out} holds results of this attack already: pass --overwrite to replace them")


def attack_run(
    run_dir: Path,
    attack: Attack,
    plugins: Plugins,
    *,
    overwrite: bool = False,
    known_rows: dict[str, dict[str, Any]] | None = None,
) -> RunResult:
    """Attack the model of ``run_dir``, evaluate it and compare with the run's rows (``known_rows``, or the run's
    ``summary_table.json``; the unlearned model is evaluated first when neither has its row)."""
    from unlearn_core.pipeline.evaluation_plan import plan_evaluation  # heavy (torch): loaded on first use

    cfg = load_attacked_run(run_dir)
    plugins.benchmarks.get(cfg.benchmark)
    out = attack_dir(run_dir, attack)
    check_attack_dir(out, overwrite)
    attack.check(cfg.values)
    plan = plan_evaluation(cfg, plugins, cfg.benchmark)
    rows = _run_rows(run_dir, known_rows)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        result = _attack_and_evaluate(run_dir, cfg, attack, plugins, plan, rows, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    replace_dir(tmp, out)
    result.output_dir = out
    result.files = {name: out / path.name for name, path in result.files.items()}
    return result


def _run_rows(run_dir: Path, known: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """The target, retain and unlearned rows the run printed (those it has)."""
    table = read_run_table(run_dir)
    rows = dict(known) if known is not None else dict(table.rows if table else {})
    return {name: rows[name] for name in (*REFERENCE_ROWS, UNLEARNED) if rows.get(name)}


def _attack_and_evaluate(
    run_dir: Path, cfg: ExperimentConfig, attack: Attack, plugins: Plugins, plan: Any, rows: dict[str, Any], out: Path
) -> RunResult:
    """Load the run's model, attack it, evaluate it into ``out`` and write the manifest and the table there."""
    from unlearn_core.pipeline.models import load_model_and_tokenizer  # heavy (torch): loaded on first use

    model_dir = run_dir / "model"
    model, tokenizer = load_model_and_tokenizer(cfg.values, str(model_dir))
    device = get_accelerator("no").device
    model.to(device)
    seconds: dict[str, float] = {}
    if UNLEARNED not in rows:
        rows[UNLEARNED] = plan.evaluate(model, tokenizer, None).summary
    context = RunAttackContext(
        cfg.values, plugins, model_dir, out / "work", tokenizer, device, out / "train_log.jsonl", _start(run_dir)
    )
    context.work_dir.mkdir()
    start = time.perf_counter()
    output = attack.apply(model, context)
    seconds["attack"] = time.perf_counter() - start
    shutil.rmtree(context.work_dir, ignore_errors=True)
    described = {"name": attack.name, "label": attack.label(), "arguments": attack.args}
    evaluation = dataclasses.replace(plan, manifest={**plan.manifest, "attack": described}).evaluate(
        output.model, tokenizer, out
    )
    seconds["eval"] = evaluation.seconds
    rows[attack.label()] = evaluation.summary
    columns = plan.bench.table_columns
    keys = recovery_columns(plan.bench)
    recovery = {attack.label(): recovery_row(keys, rows.get("target"), rows[UNLEARNED], evaluation.summary)}
    table = RunTable(rows, list(columns), plan.labels, recovery)
    write_run_table(out, table)
    manifest = _manifest(run_dir, cfg, described, output.facts, recovery, rows, seconds, device)

    write_json(out / MANIFEST_FILE, manifest)
    files = {**evaluation.files, "manifest": out / MANIFEST_FILE}
    return RunResult(out, rows, list(columns), plan.labels, files, seconds, recovery)


def _start(run_dir: Path) -> Path | None:
    """The model directory the run started from, as its ``provenance.json`` records it, if it still holds weights."""
    try:
        start = json.loads((run_dir / "provenance.json").read_text()).get("start_model")
    except (OSError, ValueError, AttributeError):
        return None
    path = Path(start) if isinstance(start, str) else None
    if path is not None and not path.is_absolute():
        path = run_dir / path if (run_dir / path).is_dir() else path
    return path if path is not None and any(path.glob("*.safetensors")) else None


def _manifest(
    run_dir: Path,
    cfg: ExperimentConfig,
    attack: dict[str, Any],
    facts: dict[str, Any],
    recovery: dict[str, Any],
    rows: dict[str, Any],
    seconds: dict[str, float],
    device: Any,
) -> dict[str, Any]:
    """What ``attack.json`` records: the attack, the model attacked, what the attack did and what it brought back."""
    from unlearn_core.pipeline.evaluate import installed_versions  # heavy (torch): loaded on first use

    return {
        **attack,
        "run_dir": str(run_dir.resolve()),
        "model_dir": str((run_dir / "model").resolve()),
        "benchmark": cfg.benchmark,
        "method": cfg.get("trainer.name"),
        "facts": facts,
        "recovery": recovery[attack["label"]],
        "rows": rows,
        "seconds": seconds,
        "device": str(device),
        "command": command_line(),
        "versions": installed_versions(),
        "finished": time.time(),
    }
