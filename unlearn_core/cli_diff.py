"""``unlearn diff A B``: what differs between two runs, and whether their numbers can be compared."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from unlearn_core.errors import UnlearnError
from unlearn_core.pipeline.diff import diff_runs, render_diff


@click.command("diff")
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON instead of tables.")
def diff_command(run_a: Path, run_b: Path, as_json: bool) -> None:
    """Compare two run directories: configuration, provenance and summary numbers side by side.

    Exit code 0 when the runs are comparable (same benchmark, data, splits, seed, effective batch size, world size
    and metric version), 1 when they are not, 2 when a directory holds no readable run.
    """
    try:
        diff = diff_runs(run_a, run_b)
    except UnlearnError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    click.echo(json.dumps(diff.as_dict(), indent=2, default=str) if as_json else render_diff(diff))
    sys.exit(0 if diff.comparable else 1)
