"""One process of the two-process ZeRO-3 evaluation in ``test_zero3_evaluation.py``, and the set-up that test's
single-process evaluation shares with it.

Run as ``accelerate launch --config_file zero3.yaml zero3_eval_worker.py OUT_DIR``: the tiny model is partitioned
with ``deepspeed.initialize`` (stage 3, no optimizer, every parameter gathered per forward) and evaluated with a
sharded engine; process 0 writes the gathered per-sample results and every process writes its own work counts.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the helpers of ``support``

ROWS_PER_SET = 5  # odd: the shares of two processes are padded by wrapping around
GENERATION = {"max_new_tokens": 6, "batch_size": 1}
LONG_GENERATION = 12  # one entry decodes longer: its 5 pooled rows split 3/2, so the shares take unequal steps
BATCH_SIZE = 3
DS_CONFIG = {  # no optimizer; threshold 0: no parameter stays whole, so every forward gathers (a collective)
    "train_micro_batch_size_per_gpu": 1,
    "zero_optimization": {
        "stage": 3,
        "stage3_param_persistence_threshold": 0,
        "log_trace_cache_warnings": True,  # the test checks that forwards of different shapes keep DeepSpeed's trace
    },
}


def setting() -> tuple[Any, Any, Any]:
    """The tiny random Llama, its tokenizer and a TOFU-shaped suite with one longer-decoding entry (fixed seed:
    every process builds the same)."""
    from support.tiny_setup import texts_of, tiny_model_and_tokenizer, tofu_like_rows
    from unlearn_tofu.suite import tofu_suite

    from unlearn_core import entries

    data = tofu_like_rows(ROWS_PER_SET)
    model, tokenizer = tiny_model_and_tokenizer(texts_of(data))
    suite = tofu_suite(data)
    args = {"target": "answer", "rouge_type": "rougeL_recall", "max_new_tokens": LONG_GENERATION}
    suite.entries["retain_Q_A_ROUGE_long"] = entries.rouge("retain_Q_A_ROUGE_long", "retain", **args)
    return model, tokenizer, suite


def reference_for(model: Any) -> Any:
    """A full local replica of ``model`` with its weights scaled by 0.9 (the same in every process): a reference
    that differs, so that mia_reference's scores are real differences, not float rounding of equal losses."""

    import torch

    reference = copy.deepcopy(model)
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.mul_(0.9)
    return reference


def engine_for(model: Any, tokenizer: Any, suite: Any, reference: Any, partial: Any = None) -> Any:
    """A sharding engine over every entry that needs no retain logs (``mia_reference`` scores ``reference``);
    ``partial`` saves finished entries and offers those of an interrupted evaluation."""
    from support.tiny_setup import TINY_TEMPLATE

    from unlearn_core.evaluation.engine import EvaluationEngine
    from unlearn_core.plugins import load_plugins
    from unlearn_core.token_rules import PromptTemplate

    metrics = load_plugins(entry_points=False).metrics
    template = PromptTemplate(tokenizer, TINY_TEMPLATE, 96)
    options = {"batch_size": BATCH_SIZE, "generation": GENERATION, "mia_reference": reference, "progress": False}
    options["partial"] = partial
    return EvaluationEngine(model, tokenizer, template, suite, metrics, shard=True, **options)


def evaluated_keys(engine: Any) -> list[str]:
    """Entries computed in both evaluations (those needing retain logs, ``mia_gradnorm`` and the classifier's
    are left out)."""
    return [
        k
        for k, e in engine.suite.entries.items()
        if e.metric not in ("mia_gradnorm", "classifier_prob") and not engine.metrics.get(e.metric).needs_retain_logs(e)
    ]


def per_sample(engine: Any, results: dict[str, Any]) -> dict[str, Any]:
    """What the two evaluations must agree on: every entry's values, and every generation."""
    generations = {json.dumps(list(key)): texts for key, texts in engine._generations.items()}
    return {"results": results, "generations": generations}


def count_forwards(model: torch.nn.Module) -> list[int]:
    """A one-item list counting the calls of ``model``'s forward from now on."""
    calls = [0]

    def count(module: torch.nn.Module, args: Any, kwargs: Any) -> None:
        calls[0] += 1

    model.register_forward_pre_hook(count, with_kwargs=True)
    return calls


def record_shares(shares: list[list[int]]) -> None:
    """Record (items, this process's share) of every sharded map of the engine."""
    from unlearn_core.evaluation import sharding

    original = sharding.map_sharded

    def spied(fn: Any, items: Any, synced: Any = None) -> Any:
        def share(part: list[Any]) -> Any:
            shares.append([len(items), len(part)])
            return fn(part)

        return original(share, items, synced)

    sharding.map_sharded = spied


def main(out_dir: Path) -> None:
    """Partition the model, evaluate it sharded, write the results (process 0) and this process's work counts."""
    start = time.perf_counter()
    import deepspeed
    import torch.distributed as dist

    from unlearn_core.distributed import is_partitioned
    from unlearn_core.errors import ConfigError
    from unlearn_core.pipeline.environment import get_accelerator, quiet_libraries

    quiet_libraries()
    model, tokenizer, suite = setting()
    reference = reference_for(model)  # a full local replica, as mia_reference's model is
    accelerator = get_accelerator("no")
    deepspeed.initialize(model=model, config=DS_CONFIG)
    assert is_partitioned(model) and not is_partitioned(reference)
    model.eval()
    forwards, reference_forwards = count_forwards(model), count_forwards(reference)
    shares: list[list[int]] = []
    record_shares(shares)
    engine = engine_for(model, tokenizer, suite, reference)
    results = engine.run(evaluated_keys(engine))
    try:
        engine.result("mia_gradnorm")
        gradnorm_error = None
    except ConfigError as exc:
        gradnorm_error = str(exc)
    rank = dist.get_rank()
    counts = {
        "world_size": dist.get_world_size(),
        "forwards": forwards[0],
        "reference_forwards": reference_forwards[0],
        "real_forwards": engine.scoring.model_calls + engine.decoding.model_calls,
        # scored tokens, not counting the packing check (run once a process)
        "tokens": engine.scoring.tokens - engine.scoring.tokens_by_kind.get("check", 0),
        "decoded_rows": engine.decoding.decoded_rows,
        "lockstep": vars(engine.lockstep),
        "shares": shares,
        "gradnorm_error": gradnorm_error,
        "seconds": time.perf_counter() - start,
    }
    counts["resume"] = resume_after_interruption(model, tokenizer, suite, reference, out_dir)
    (out_dir / f"rank{rank}.json").write_text(json.dumps(counts))
    if rank == 0:
        (out_dir / "results.json").write_text(json.dumps(per_sample(engine, results)))
    accelerator.wait_for_everyone()


def resume_after_interruption(model: Any, tokenizer: Any, suite: Any, reference: Any, out_dir: Path) -> dict[str, Any]:
    """An evaluation with a partial store stopped after half its entries, then a new one in the same directory:
    what the second reused and its results."""
    from unlearn_core.evaluation.partial import PartialResults
    from unlearn_core.training.diskio import json_ready

    manifest = {"benchmark": "tofu", "model": "tiny"}
    store_dir = out_dir / "resumable"
    store_dir.mkdir(exist_ok=True)
    interrupted = engine_for(
        model, tokenizer, suite, reference, PartialResults.in_dir(store_dir, "tofu", manifest, model, None, shared=True)
    )
    keys = evaluated_keys(interrupted)
    interrupted.run(keys[: len(keys) // 2])  # then the run stops, as if killed
    resumed = engine_for(
        model, tokenizer, suite, reference, PartialResults.in_dir(store_dir, "tofu", manifest, model, None, shared=True)
    )
    again = resumed.run(keys)
    return {
        "finished_first": keys[: len(keys) // 2],
        "keys": keys,
        "reused": sorted(resumed.reused),
        "results": json_ready(again),
    }


if __name__ == "__main__":
    main(Path(sys.argv[1]))
