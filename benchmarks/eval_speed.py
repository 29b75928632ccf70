"""Wall time of the full default TOFU and MUSE evaluations: fused engine vs the straightforward per-metric
computation, and of their generation entries alone (ROUGE).

Both run in this process, on the same model, data and settings, alternately, after one warm-up run each; the
script prints every run, the medians and their ratio, and checks that both give the same aggregates. The last line
is ``ratio: X.XX``, the smallest of the ratios (straightforward over fused).

    OMP_NUM_THREADS=1 python benchmarks/eval_speed.py                   # the embedded TOFU and MUSE target models
    OMP_NUM_THREADS=1 python benchmarks/eval_speed.py --benchmarks tofu --quick   # a briefly trained tiny model
    OMP_NUM_THREADS=1 python benchmarks/eval_speed.py --benchmarks tofu --repeats 5 forget_split=forget05
    python benchmarks/eval_speed.py --model llama-1b-shape --device cuda     # random weights of a 1B shape, bf16

The embedded models come from ``$UNLEARN_CACHE_DIR`` (default ``~/.cache/unlearn``); when the cache does not hold
them yet they are built first (about 7 minutes on 2 CPU cores; ``--quick`` trains for a few epochs only).
Extra ``KEY=VALUE`` arguments are configuration overrides, as for ``unlearn eval``.
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

QUICK = ["data.embedded.base_epochs=2", "data.embedded.finetune_epochs=2"]
TESTS = Path(__file__).resolve().parents[1] / "tests"
"""The straightforward oracle lives with the tests (``tests/support/oracle.py``), not in the package."""


def _setting(benchmark: str, overrides: list[str], model_name: str, device: str) -> tuple[Any, Any, Any, Any]:
    """Configuration, evaluation plan, model (on ``device``) and tokenizer of the embedded setting of ``benchmark``:
    its target model (``tiny``), or a random one of Llama-3.2-1B's shape in bfloat16 (``llama-1b-shape``, with the
    embedded tokenizer's vocabulary so that its generations decode)."""
    from unlearn_core.config import resolve_config
    from unlearn_core.pipeline.environment import quiet_libraries
    from unlearn_core.pipeline.evaluation_plan import plan_evaluation
    from unlearn_core.pipeline.models import load_model_and_tokenizer
    from unlearn_core.plugins import load_plugins

    quiet_libraries()
    plugins = load_plugins()
    cfg = resolve_config("eval", plugins, benchmark=benchmark, overrides=["task_name=eval_speed", *overrides])
    plan = plan_evaluation(cfg, plugins, benchmark)
    if plan.embedded is None:
        sys.exit("eval_speed.py measures the embedded settings: do not set a model path")
    model, tokenizer = load_model_and_tokenizer(cfg.values, str(plan.embedded.target))
    if model_name == "llama-1b-shape":
        import torch
        from train_speed import LLAMA_1B_SHAPE  # benchmarks/ is on the path when this script runs
        from transformers import AutoModelForCausalLM, LlamaConfig

        shape = {**LLAMA_1B_SHAPE, "vocab_size": len(tokenizer)}
        config = LlamaConfig(**shape, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    return cfg, plan, model.to(device).eval(), tokenizer


def _generation_keys(plan: Any) -> list[str]:
    """The entries that generate text (ROUGE and the like) among the selected ones and those they build on."""
    from unlearn_core.evaluation.needs import walk

    keys: list[str] = []

    def visit(key: str, entry: Any, metric: Any) -> None:
        if metric.generates(entry, plan.suite):
            keys.append(key)

    walk(plan.suite, plan.plugins.metrics, plan.keys, visit, set())
    return keys


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


def _compare(title: str, setting: tuple[Any, Any, Any, Any], repeats: int) -> float:
    """Time the fused engine and the straightforward evaluation alternately (after one warm-up each); print the
    figures and return the ratio of the medians."""
    cfg, plan, model, tokenizer = setting
    print(f"{title}: {', '.join(plan.keys)}", flush=True)
    _fused(plan, model, tokenizer)
    _straightforward(cfg, plan, model, tokenizer)
    fused_times, plain_times = [], []
    for _ in range(repeats):
        gc.collect()  # a pass of the collector inside a timed run cost one of them a quarter more
        seconds, fused_results, engine = _fused(plan, model, tokenizer)
        fused_times.append(seconds)
        gc.collect()
        seconds, plain_results, baseline = _straightforward(cfg, plan, model, tokenizer)
        plain_times.append(seconds)
    fused, plain = statistics.median(fused_times), statistics.median(plain_times)
    print(f"  fused engine     {fused:7.2f} s  (runs: {', '.join(f'{t:.2f}' for t in fused_times)})")
    print(f"  straightforward  {plain:7.2f} s  (runs: {', '.join(f'{t:.2f}' for t in plain_times)})")
    print(f"  ratio            {plain / fused:7.2f}x  (straightforward / fused, medians)")
    scoring, decoding = engine.scoring, engine.decoding
    print(
        f"  fused work: {scoring.model_calls} scoring calls over {scoring.tokens} tokens; generation: "
        f"{decoding.draft_rows} rows settled by their draft, {decoding.decoded_rows} decoded "
        f"({decoding.model_calls} calls, {decoding.guessed_tokens} tokens settled by guesses); "
        f"straightforward: {baseline.generate_calls} generate() calls"
    )
    difference = _largest_difference(fused_results, plain_results, plan.keys)
    print(f"  largest relative difference between the aggregates: {difference:.2e}", flush=True)
    return plain / fused


def main(argv: list[str] | None = None) -> int:
    """Run the comparisons and print the figures; the last line is the smallest ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmarks", default="tofu,muse", help="comma-separated: tofu, muse (default both)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each (after one warm-up each)")
    parser.add_argument("--quick", action="store_true", help="briefly trained tiny models instead of the defaults")
    parser.add_argument("--model", choices=("tiny", "llama-1b-shape"), default="tiny")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE configuration overrides (for every benchmark)")
    args = parser.parse_args(argv)
    ratios: dict[str, float] = {}
    for benchmark in args.benchmarks.split(","):
        overrides = (QUICK if args.quick else []) + args.overrides
        setting = _setting(benchmark, overrides, args.model, args.device)
        ratios[benchmark] = _compare(f"{benchmark.upper()} {_split(setting[0])}", setting, args.repeats)
        generation = _generation_keys(setting[1])
        if generation:
            metrics = f"eval.metrics=[{','.join(generation)}]"
            ratios[f"{benchmark} generation"] = _compare(
                f"{benchmark.upper()} generation alone",
                _setting(benchmark, [*overrides, metrics], args.model, args.device),
                args.repeats,
            )
    print("ratios: " + ", ".join(f"{name} {value:.2f}" for name, value in ratios.items()))
    print(f"ratio: {min(ratios.values()):.2f}")
    return 0


def _split(cfg: Any) -> str:
    """The setting's split (``forget_split`` of TOFU, ``data_split`` of MUSE)."""
    values = cfg.values
    return str(values.get("data_split") or values.get("forget_split") or "")


if __name__ == "__main__":
    sys.exit(main())
