"""``unlearn report <dir or EVAL.json>``: recompute every aggregate from the saved per-sample values."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from unlearn_core.config import resolve_config
from unlearn_core.errors import UnlearnError
from unlearn_core.evaluation.recompute import recompute_file
from unlearn_core.evaluation.results import load_retain_logs
from unlearn_core.plugins import load_plugins
from unlearn_core.table import render_table


def _eval_files(path: Path) -> list[Path]:
    """``path`` itself, or the ``*_EVAL.json`` files of a run directory (or of its ``evals/``)."""
    if path.is_file():
        return [path]
    for folder in (path, path / "evals"):
        found = sorted(folder.glob("*_EVAL.json")) if folder.is_dir() else []
        if found:
            return found
    raise UnlearnError(f"no <BENCH>_EVAL.json in {path} (nor in {path / 'evals'})")


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UnlearnError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise UnlearnError(f"{path} does not hold a JSON object of metric entries")
    return data


def _with_definitions(file: Path, results: dict[str, Any], plugins: Any) -> dict[str, Any]:
    """``results`` with the benchmark's own definition on every entry that has none (logs written by another tool,
    such as the reference project's, which keep no definitions): the benchmark is the file name's prefix."""
    bare = [k for k, v in results.items() if isinstance(v, dict) and k != "manifest" and "definition" not in v]
    name = file.name.removesuffix("_EVAL.json").lower()
    if not bare or name not in plugins.benchmarks:
        return results

    suite = plugins.benchmarks.get(name).eval_suite(resolve_config("eval", plugins, benchmark=name).values)
    filled = dict(results)
    for key in bare:
        entry = suite.entries.get(suite.canonical(key))
        if entry is not None:
            filled[key] = {**results[key], "definition": entry.definition()}
    return filled


def report_rows(path: Path, retain_logs: Path | None) -> list[dict[str, Any]]:
    """Checks of every entry of every EVAL file under ``path`` (as dicts with a ``file`` key)."""
    plugins = load_plugins()
    rows = []
    for file in _eval_files(path):
        results = _with_definitions(file, _load(file), plugins)
        retain = None
        if retain_logs is not None:
            retain = load_retain_logs(retain_logs, results.get("manifest") or {}, [])
        for check in recompute_file(results, retain, plugins.metrics):
            rows.append({"file": str(file), **check.as_dict()})
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    """The table and a closing line that names the entries whose stored aggregate disagrees."""
    out = []
    for file in dict.fromkeys(r["file"] for r in rows):
        mine = [r for r in rows if r["file"] == file]
        table = []
        for r in mine:
            status = r["status"]
            if r["per_sample_differences"]:
                status += f" ({r['per_sample_differences']} per-sample values)"
            table.append([r["key"], r["stored"], r["recomputed"], status, r["note"]])
        out += [file, render_table(["entry", "stored", "recomputed", "status", "note"], table), ""]
    differ = [r["key"] for r in rows if r["status"] == "differs"]
    checked = sum(r["status"] != "skipped" for r in rows)
    if differ:
        out.append(
            f"{len(differ)} of {checked} recomputed entries disagree with the stored values: {', '.join(differ)}"
        )
    else:
        out.append(f"all {checked} recomputed entries agree with the stored values")
    return "\n".join(out)


@click.command("report")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--retain-logs",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The retain model's EVAL.json (forget_quality and privleak are recomputed against it).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON instead of a table.")
def report(path: Path, retain_logs: Path | None, as_json: bool) -> None:
    """Recompute every aggregate of a saved <BENCH>_EVAL.json (or a run directory) from its per-sample values.

    No model is loaded. Prints stored and recomputed values side by side and says which stored aggregates
    disagree. Exit code 0 when all agree, 1 when some disagree, 2 when nothing could be read.
    """
    try:
        rows = report_rows(path, retain_logs)
    except UnlearnError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    click.echo(json.dumps(rows, indent=2) if as_json else render(rows))
    sys.exit(1 if any(r["status"] == "differs" for r in rows) else 0)
