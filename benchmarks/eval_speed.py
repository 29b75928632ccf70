"""Wall time of the full default TOFU evaluation: fused engine vs the straightforward per-metric computation.

Both run in this process, on the same model, data and settings, alternately, after one warm-up run each; the
script prints every run, the medians and their ratio, and checks that both give the same aggregates.

    OMP_NUM_THREADS=1 python benchmarks/eval_speed.py             # the embedded TOFU target model (built once)
    OMP_NUM_THREADS=1 python benchmarks/eval_speed.py --quick     # a briefly trained tiny model instead
    OMP_NUM_THREADS=1 python benchmarks/eval_speed.py --repeats 5 forget_split=forget05

The embedded models come from ``$UNLEARN_CACHE_DIR`` (default ``~/.cache/unlearn``); when the cache does not hold
them yet they are built first (about 7 minutes on 2 CPU cores; ``--quick`` trains for a few epochs only).
Extra ``KEY=VALUE`` arguments are configuration overrides, as for ``unlearn eval``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

QUICK = ["data.embedded.base_epochs=2", "data.embedded.finetune_epochs=2"]
TESTS = Path(__file__).resolve().parents[1] / "tests"
"""The straightforward oracle lives with the tests (``tests/support/oracle.py``), not in the package."""


def _setting(overrides: list[str]) -> tuple[Any, Any, Any, Any]:
    """Configuration, evaluation plan, target model and tokenizer of the embedded TOFU setting."""
    from unlearn_core.config import resolve_config
    from unlearn_core.pipeline.environment import quiet_libraries
    from unlearn_core.pipeline.evaluation_plan import plan_evaluation
    from unlearn_core.pipeline.models import load_model_and_tokenizer
    from unlearn_core.plugins import load_plugins

    quiet_libraries()
    plugins = load_plugins()
    cfg = resolve_config("eval", plugins, benchmark="tofu", overrides=["task_name=eval_speed", *overrides])
    plan = plan_evaluation(cfg, plugins, "tofu")
    if plan.embedded is None:
        sys.exit("eval_speed.py measures the embedded TOFU setting: do not set a model path")
    model, tokenizer = load_model_and_tokenizer(cfg.values, str(plan.embedded.target))
    return cfg, plan, model.eval(), tokenizer


def _fused(plan: Any, model: Any, tokenizer: Any) -> tuple[float, dict[str, Any], Any]:
    start = time.perf_counter()
    evaluation = plan.evaluate(model, tokenizer, None, progress=False)
    return time.perf_counter() - start, evaluation.results, evaluation.engine


def _straightforward(cfg: Any, plan: Any, model: Any, tokenizer: Any) -> tuple[float, dict[str, Any], Any]:
    sys.path.insert(0, str(TESTS))
    from support.oracle import Straightforward

    from unlearn_core.pipeline.evaluate import selected_keys
    from unlearn_core.token_rules import PromptTemplate

    values = cfg.values
    start = time.perf_counter()
    baseline = Straightforward(
        model,
        tokenizer,
        PromptTemplate(tokenizer, values["model"]["template_args"], values["data"]["max_length"]),
        plan.suite,
        batch_size=values["trainer"]["args"]["per_device_eval_batch_size"],
        generation=values["generation"],
        retain_logs=plan.retain_logs,
    )
    results = baseline.run(selected_keys(values, plan.suite))
    return time.perf_counter() - start, results, baseline


def _largest_difference(fused: dict[str, Any], straightforward: dict[str, Any], keys: list[str]) -> float:
    worst = 0.0
    for key in keys:
        a, b = fused[key]["agg_value"], straightforward[key]["agg_value"]
        if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
            worst = max(worst, 0.0 if a == b else math.inf)
        else:
            worst = max(worst, abs(a - b) / max(abs(b), 1e-12))
    return worst


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each (after one warm-up each)")
    parser.add_argument("--quick", action="store_true", help="a briefly trained tiny model instead of the default")
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE configuration overrides")
    args = parser.parse_args(argv)
    cfg, plan, model, tokenizer = _setting((QUICK if args.quick else []) + args.overrides)
    from unlearn_core.pipeline.evaluate import selected_keys

    keys = selected_keys(cfg.values, plan.suite)
    print(f"TOFU {cfg.values['forget_split']}, metrics: {', '.join(keys)}", flush=True)
    _fused(plan, model, tokenizer)
    _straightforward(cfg, plan, model, tokenizer)
    fused_times, plain_times = [], []
    for _ in range(args.repeats):
        seconds, fused_results, engine = _fused(plan, model, tokenizer)
        fused_times.append(seconds)
        seconds, plain_results, baseline = _straightforward(cfg, plan, model, tokenizer)
        plain_times.append(seconds)
    fused, plain = statistics.median(fused_times), statistics.median(plain_times)
    print(f"fused engine     {fused:7.2f} s  (runs: {', '.join(f'{t:.2f}' for t in fused_times)})")
    print(f"straightforward  {plain:7.2f} s  (runs: {', '.join(f'{t:.2f}' for t in plain_times)})")
    print(f"ratio            {plain / fused:7.2f}x  (straightforward / fused, medians)")
    scoring, decoding = engine.scoring, engine.decoding
    print(
        f"fused work: {scoring.model_calls} scoring calls over {scoring.tokens} tokens; generation: "
        f"{decoding.draft_rows} rows settled by their draft, {decoding.decoded_rows} decoded "
        f"({decoding.model_calls} calls); straightforward: {baseline.generate_calls} generate() calls"
    )
    difference = _largest_difference(fused_results, plain_results, keys)
    print(f"largest relative difference between the aggregates: {difference:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
