"""``unlearn compare RUN_OR_SWEEP ...``: runs side by side as a table, a trade-off plot and an HTML page."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from unlearn_core.compare.page import render_html
from unlearn_core.compare.plot import plottable_axes, render_png
from unlearn_core.compare.runs import collect, incomparable
from unlearn_core.errors import UnlearnError
from unlearn_core.plugins import load_plugins
from unlearn_core.table import render_table
from unlearn_core.training.diskio import write_bytes, write_text

if TYPE_CHECKING:
    from unlearn_core.benchmarks import TradeoffAxes
    from unlearn_core.compare.runs import Comparison


@click.command("compare")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--plot", "plot_file", type=click.Path(dir_okay=False, path_type=Path), help="Write the plot (PNG).")
@click.option(
    "--html", "html_file", type=click.Path(dir_okay=False, path_type=Path), help="Write a self-contained HTML page."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON instead of the table.")
@click.option("--force", is_flag=True, help="Compare runs that 'unlearn diff' calls not comparable.")
def compare_command(paths: tuple[Path, ...], plot_file: Path | None, html_file: Path | None, **flags: bool) -> None:
    """Compare runs and sweeps: a table of their summaries with the target and retain rows, a trade-off plot.

    Each PATH is a run directory (saves/unlearn/NAME) or a sweep (saves/unlearn/NAME holding sweep.json: its
    finished runs). The plot draws the benchmark's trade-offs, one labelled point per run (TOFU: forget quality,
    log scale, against model utility; MUSE: knowmem_f against knowmem_r, and privleak), with the evaluations
    during training as curves when the runs have eval_log.jsonl. Runs that 'unlearn diff' finds not comparable
    (benchmark, data, splits, seed, effective batch size, world size, metric version) are refused unless --force.
    --plot and --html need matplotlib (pip install -e ".[plots]").

    \b
    Example:
      unlearn compare saves/unlearn/npo_sweep --plot tradeoff.png --html report.html
    """
    try:
        _compare(list(paths), plot_file, html_file, flags["as_json"], flags["force"])
    except UnlearnError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)


def _compare(paths: list[Path], plot_file: Path | None, html_file: Path | None, as_json: bool, force: bool) -> None:
    comparison = collect(paths)
    problems = incomparable(comparison)
    if problems and not force:
        raise UnlearnError(f"runs not comparable: {problems[0]} (pass --force to compare them anyway)")
    notes = [f"not comparable, compared with --force: {p}" for p in problems]
    notes += [f"left out (not finished): {', '.join(comparison.skipped)}"] if comparison.skipped else []
    title = f"unlearn compare: {comparison.benchmark or 'runs'}, {len(comparison.runs)} runs"
    png = _plot(comparison, title) if plot_file or html_file else None
    if plot_file and png is not None:
        write_bytes(plot_file, png)
    if html_file:
        write_text(html_file, render_html(comparison, title, png, notes))
    if as_json:
        click.echo(json.dumps({**comparison.as_dict(), "not_comparable": problems}, indent=2, default=str))
        return
    click.echo(render_table(*comparison.table()))
    for note in notes:
        click.echo(f"note: {note}", err=True)
    for name, path in (("Plot", plot_file), ("HTML", html_file)):
        if path:
            click.echo(f"{name}: {path}")


def _plot(comparison: Comparison, title: str) -> bytes:
    """The PNG of the benchmark's trade-off panels (declared by its plugin; the first two columns otherwise)."""
    declared: tuple[TradeoffAxes, ...] = ()
    plugins = load_plugins()
    if comparison.benchmark and comparison.benchmark in plugins.benchmarks:
        declared = plugins.benchmarks.get(comparison.benchmark).tradeoff_plots
    return render_png(comparison, plottable_axes(comparison, declared), title)
