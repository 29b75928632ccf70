"""The method leaderboard: every installed unlearning method on the embedded TOFU (forget10) and MUSE (News), each
with its defaults and the embedded protocol, against the target and retain models.

    OMP_NUM_THREADS=1 python benchmarks/methods.py                         # every method, both benchmarks
    OMP_NUM_THREADS=1 python benchmarks/methods.py --methods NPO,RMU --benchmarks tofu
    OMP_NUM_THREADS=1 python benchmarks/methods.py --quick --out /tmp/board  # tiny settings: a smoke test

It writes ``benchmarks/results/methods.md`` (the table), ``methods.json`` (every summary) and ``methods.png`` (forget
quality against model utility on TOFU, one point per method, and MUSE's forget against retain knowledge). Each run's
directory stays under ``--runs`` (default ``saves/leaderboard``), so a rerun after an interruption skips the runs
that finished. The embedded models come from ``$UNLEARN_CACHE_DIR`` (built first when missing).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SETTINGS = {"tofu": ["forget_split=forget10"], "muse": ["data_split=News"]}
"""The setting of each benchmark the leaderboard runs."""
COLUMNS = {
    "tofu": ["forget_quality", "model_utility", "forget_Q_A_Prob"],
    "muse": ["forget_knowmem_ROUGE", "forget_verbmem_ROUGE", "retain_knowmem_ROUGE", "privleak"],
}
QUICK = [
    "data.embedded.n_authors=20",
    "data.embedded.questions_per_author=5",
    "data.embedded.base_epochs=2",
    "data.embedded.finetune_epochs=2",
    "trainer.args.num_train_epochs=2",
]
QUICK_MUSE = ["data.embedded.base_epochs=2", "data.embedded.finetune_epochs=2", "trainer.args.num_train_epochs=2"]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", help="comma-separated method names (default: every installed method)")
    parser.add_argument("--benchmarks", default="tofu,muse", help="comma-separated: tofu, muse (default both)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where methods.md/.json/.png go")
    parser.add_argument("--runs", type=Path, default=Path("saves/leaderboard"), help="run directories")
    parser.add_argument("--quick", action="store_true", help="tiny embedded settings and two epochs (smoke test)")
    return parser.parse_args()


def _finished(run_dir: Path) -> dict[str, Any] | None:
    """The rows of a finished run directory (``summary_table.json``), or None."""
    try:
        provenance = json.loads((run_dir / "provenance.json").read_text())
        table = json.loads((run_dir / "summary_table.json").read_text())
    except (OSError, ValueError):
        return None
    return table if provenance.get("status") == "finished" else None


def _run_one(benchmark: str, method: str, run_dir: Path, quick: bool) -> dict[str, Any]:
    """Run (or reuse) one method on one benchmark; its table (rows target, retain, unlearned) and wall time."""
    from unlearn_core.errors import ConfigError
    from unlearn_core.pipeline.api import run

    done = _finished(run_dir)
    if done is not None:
        return {"rows": done["rows"], "seconds": None}
    overrides = [*SETTINGS[benchmark], f"paths.output_dir={run_dir}"]
    if quick:
        overrides += QUICK if benchmark == "tofu" else QUICK_MUSE
    start = time.perf_counter()
    try:
        result = run("unlearn", benchmark=benchmark, method=method, overrides=overrides, overwrite=True)
    except ConfigError as refused:  # a method that does not apply to the benchmark (no alternate answers on MUSE)
        return {"rows": {}, "seconds": None, "refused": str(refused)}
    return {"rows": result.rows, "seconds": time.perf_counter() - start}


def _number(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "–"
    return f"{value:.3g}" if abs(value) < 1e-2 and value != 0 else f"{value:.4f}"


def _table(benchmark: str, results: dict[str, dict[str, Any]]) -> list[str]:
    """One markdown table: the target and retain rows, then a row per method."""
    columns = COLUMNS[benchmark]
    lines = [f"| {benchmark.upper()} | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    first = next((r for r in results.values() if r["rows"]), None)
    for label in ("target", "retain"):
        row = (first or {}).get("rows", {}).get(label, {})
        lines.append(f"| *{label}* | " + " | ".join(_number(row.get(c)) for c in columns) + " |")
    for method, result in results.items():
        if "refused" in result:
            lines.append(f"| {method} | refused: {result['refused']} |" + " |" * (len(columns) - 1))
            continue
        row = result["rows"].get("unlearned", {})
        lines.append(f"| {method} | " + " | ".join(_number(row.get(c)) for c in columns) + " |")
    return lines


def _plot(path: Path, results: dict[str, dict[str, dict[str, Any]]]) -> None:
    """TOFU: forget quality (log) against model utility; MUSE: forget against retain knowledge; one point per method,
    the target and retain models marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("tofu", "model_utility", "forget_quality", True),
        ("muse", "retain_knowmem_ROUGE", "forget_knowmem_ROUGE", False),
    ]
    panels = [p for p in panels if results.get(p[0])]
    figure, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 5), squeeze=False)
    for ax, (benchmark, x, y, log_y) in zip(axes[0], panels):
        runs = results[benchmark]
        first = next((r["rows"] for r in runs.values() if r["rows"]), {})
        for label, marker in (("target", "s"), ("retain", "*")):
            row = first.get(label, {})
            if isinstance(row.get(x), (int, float)) and isinstance(row.get(y), (int, float)):
                ax.scatter(row[x], row[y], marker=marker, s=140, color="black", zorder=3)
                ax.annotate(label, (row[x], row[y]), textcoords="offset points", xytext=(6, 6), fontsize=9)
        for method, result in runs.items():
            row = result["rows"].get("unlearned", {})
            if isinstance(row.get(x), (int, float)) and isinstance(row.get(y), (int, float)):
                ax.scatter(row[x], row[y], s=50, zorder=2)
                ax.annotate(method, (row[x], row[y]), textcoords="offset points", xytext=(5, -10), fontsize=9)
        if log_y:
            ax.set_yscale("log")
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(f"{benchmark.upper()} ({SETTINGS[benchmark][0]}), embedded default")
        ax.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    args = _arguments()
    from unlearn_core.pipeline.environment import quiet_libraries
    from unlearn_core.plugins import load_plugins

    quiet_libraries()
    plugins = load_plugins()
    methods = args.methods.split(",") if args.methods else plugins.methods.names()
    methods = [plugins.methods.get(m).name for m in methods]
    benchmarks = [b.strip() for b in args.benchmarks.split(",") if b.strip()]
    unknown = [b for b in benchmarks if b not in SETTINGS]
    if unknown:
        sys.exit(f"unknown benchmark {unknown[0]}; valid: {', '.join(SETTINGS)}")
    results: dict[str, dict[str, dict[str, Any]]] = {b: {} for b in benchmarks}
    for benchmark in benchmarks:
        for method in methods:
            print(f"[{benchmark}] {method} ...", file=sys.stderr, flush=True)
            results[benchmark][method] = _run_one(benchmark, method, args.runs / benchmark / method, args.quick)
    args.out.mkdir(parents=True, exist_ok=True)
    lines = ["# Methods on the embedded benchmarks", ""]
    lines += [
        f"Every method with its defaults and the embedded protocol ({'quick' if args.quick else 'full'} settings).",
        "",
    ]
    for benchmark in benchmarks:
        lines += [*_table(benchmark, results[benchmark]), ""]
    (args.out / "methods.md").write_text("\n".join(lines))
    (args.out / "methods.json").write_text(json.dumps(results, indent=2, default=str))
    _plot(args.out / "methods.png", results)
    print("\n".join(lines))
    print(f"Wrote {args.out / 'methods.md'}, methods.json and methods.png", file=sys.stderr)


if __name__ == "__main__":
    main()
