"""Start-up time of ``unlearn eval --benchmark tofu`` against importing torch and transformers, in one run.

Start-up is the wall time of the command on the embedded TOFU target minus the evaluation time it prints
(``Time: eval X.XXs``): process start, imports, plugin loading, configuration, loading the model and tokenizer,
writing the results and leaving. The command runs exactly as typed, each time in a new empty working directory (it
writes its results under ``saves/`` there). The yardstick is the wall time of
``python -c "import torch, transformers; from transformers import AutoModelForCausalLM"``. Both run alternately as
fresh processes (after one warm-up each, so the file cache is warm for both); the script prints every run and the
medians, and as its last line ``ratio: X.XX`` (start-up over the import; lower is better).

For reference it also times the least any program must do before evaluating: a plain script that imports torch and
transformers and loads the embedded target's tokenizer and model with ``AutoTokenizer`` and
``AutoModelForCausalLM``. Every process may write Python's bytecode cache, as on an installed system
(``PYTHONDONTWRITEBYTECODE`` is dropped: site-packages hold bytecode from the install, editable sources would not).

    OMP_NUM_THREADS=1 python benchmarks/startup.py
    OMP_NUM_THREADS=1 python benchmarks/startup.py --repeats 5 --importtime   # also the slowest imports of one run

The embedded models come from ``$UNLEARN_CACHE_DIR`` (built first when missing, by the warm-up run).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMPORT = "import torch, transformers; from transformers import AutoModelForCausalLM"
LOAD = (
    "import sys, torch, transformers; from transformers import AutoModelForCausalLM, AutoTokenizer; "
    "AutoTokenizer.from_pretrained(sys.argv[1]); AutoModelForCausalLM.from_pretrained(sys.argv[1])"
)
ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
if ENVIRONMENT.get("UNLEARN_CACHE_DIR"):  # the runs start elsewhere: a relative cache directory must stay the same
    ENVIRONMENT["UNLEARN_CACHE_DIR"] = str(Path(ENVIRONMENT["UNLEARN_CACHE_DIR"]).expanduser().resolve())
EVAL_TIME = re.compile(r"^Time: .*\beval ([0-9.]+)s", re.MULTILINE)


def _unlearn(*flags: str) -> list[str]:
    """``unlearn eval --benchmark tofu`` (the installed script, else ``python -m unlearn_core``), as a user types it."""
    script = shutil.which("unlearn") or str(Path(sys.executable).parent / "unlearn")
    head = [script] if Path(script).exists() else [sys.executable, "-m", "unlearn_core"]
    return [*head, "eval", "--benchmark", "tofu", *flags]


def _fresh_directory(parent: Path) -> Path:
    """A new empty working directory for one run (the command writes its results under ``saves/`` there)."""
    return Path(tempfile.mkdtemp(dir=parent))


def _timed(command: list[str], cwd: Path | None = None) -> tuple[float, str]:
    """Wall seconds and output (stdout and stderr) of ``command``; exits on failure."""
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=ENVIRONMENT, cwd=cwd)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return seconds, done.stdout + done.stderr


def _startup(parent: Path) -> tuple[float, float]:
    """Wall seconds of ``unlearn eval`` (in a fresh working directory) and the evaluation seconds it printed."""
    wall, output = _timed(_unlearn(), cwd=_fresh_directory(parent))
    found = EVAL_TIME.search(output)
    if found is None:
        sys.exit(f"no 'Time: eval ...' line in the output of unlearn eval:\n{output}")
    return wall, float(found.group(1))


def _slowest_imports(parent: Path, count: int = 15) -> None:
    """Print the ``count`` slowest top-level imports of one ``unlearn eval`` run (``python -X importtime``)."""
    command = [sys.executable, "-X", "importtime", "-m", "unlearn_core", "eval", "--benchmark", "tofu"]
    _, output = _timed(command, cwd=_fresh_directory(parent))
    rows = []
    for line in output.splitlines():
        parts = line.split("|")
        if (
            line.startswith("import time:")
            and len(parts) == 3
            and parts[1].strip().isdigit()
            and not parts[2].startswith("  ")
        ):
            rows.append((int(parts[1]), parts[2].strip()))
    print("slowest top-level imports (cumulative):")
    for micros, name in sorted(rows, reverse=True)[:count]:
        print(f"  {micros / 1e6:6.3f} s  {name}")


def _embedded_target() -> str:
    """The directory of the embedded TOFU target model (built by the warm-up run when missing)."""
    from unlearn_core.config import resolve_config
    from unlearn_core.pipeline.evaluation_plan import plan_evaluation
    from unlearn_core.plugins import load_plugins

    plugins = load_plugins()
    plan = plan_evaluation(resolve_config("eval", plugins, benchmark="tofu", overrides=[]), plugins, "tofu")
    assert plan.embedded is not None
    return str(plan.embedded.target)


def main(argv: list[str] | None = None) -> int:
    """Time both and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each (after one warm-up each)")
    parser.add_argument("--importtime", action="store_true", help="also list the slowest imports of one run")
    args = parser.parse_args(argv)
    imports, loads, startups, evaluations = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="unlearn-startup-") as tmp:
        out = Path(tmp)
        _startup(out)  # warm-up: builds the embedded models when missing
        target = _embedded_target()
        for repeat in range(args.repeats + 1):
            seconds, _ = _timed([sys.executable, "-c", IMPORT])
            loading, _ = _timed([sys.executable, "-c", LOAD, target])
            wall, evaluation = _startup(out)
            if repeat:
                imports.append(seconds)
                loads.append(loading)
                startups.append(wall - evaluation)
                evaluations.append(evaluation)
        if args.importtime:
            _slowest_imports(out)
    base, ours = statistics.median(imports), statistics.median(startups)
    print(f"import torch+transformers  {base:6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in imports)})")
    runs = ", ".join(f"{t:.2f}" for t in loads)
    print(f"plain script loading model {statistics.median(loads):6.2f} s  (runs: {runs}; for reference)")
    print(
        f"unlearn eval start-up      {ours:6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in startups)}; evaluation "
        f"{statistics.median(evaluations):.2f} s as printed)"
    )
    print(f"ratio: {ours / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
