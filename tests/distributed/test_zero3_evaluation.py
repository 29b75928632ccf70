"""Two CPU processes (gloo) under DeepSpeed ZeRO-3: sharded evaluation of a partitioned model gives the single-process
results of the same weights sample by sample, each process doing only its share, its forwards kept in lockstep.

The worker (``zero3_eval_worker.py``) partitions a tiny random Llama so that every forward is a collective, and the
suite has one entry that decodes longer, so the two shares need different numbers of forwards: without the lockstep
the processes' collectives fall out of step and the run fails.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
ZERO3 = HERE.parents[1] / "unlearn_core" / "configs" / "accelerate" / "zero3.yaml"
TIMEOUT_S = 300


def _launch(out: Path) -> subprocess.Popen[str]:
    accelerate = shutil.which("accelerate") or str(Path(sys.executable).parent / "accelerate")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DS_ACCELERATOR": "cpu"}
    env.pop("RANK", None)
    env.pop("WORLD_SIZE", None)
    cmd = [accelerate, "launch", "--config_file", str(ZERO3), "--main_process_port", "0"]
    cmd += [str(HERE / "zero3_eval_worker.py"), str(out)]
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def _single_process() -> tuple[dict[str, Any], dict[str, Any]]:
    """The same weights and suite evaluated here, in one process: per-sample results and work counts."""

    if str(HERE) not in sys.path:  # the worker module sits next to this file
        sys.path.insert(0, str(HERE))
    import zero3_eval_worker as worker

    model, tokenizer, suite = worker.setting()
    reference = worker.reference_for(model)
    forwards = worker.count_forwards(model)
    engine = worker.engine_for(model, tokenizer, suite, reference)
    results = engine.run(worker.evaluated_keys(engine))
    counts = {
        "forwards": forwards[0],
        # scored tokens, not counting the packing check (run once a process)
        "tokens": engine.scoring.tokens - engine.scoring.tokens_by_kind.get("check", 0),
        "decoded_rows": engine.decoding.decoded_rows,
    }
    return worker.per_sample(engine, results), counts


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pytest.importorskip("deepspeed")
    pytest.importorskip("unlearn_tofu")
    out = tmp_path_factory.mktemp("zero3-eval")
    start = time.perf_counter()
    process = _launch(out)
    try:
        single, single_counts = _single_process()  # meanwhile, in this process
        stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)  # the launcher and the two processes it started
        process.communicate()
        raise
    wall = time.perf_counter() - start
    print(f"ZeRO-3 evaluation, 2 processes (+ the 1-process one alongside): {wall:.1f} s", file=sys.stderr)
    assert process.returncode == 0, stderr[-3000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    return {
        "single": single,
        "single_counts": single_counts,
        "sharded": json.loads((out / "results.json").read_text()),
        "ranks": ranks,
        "output": stdout + stderr,
    }


def _assert_same(ours: Any, theirs: Any, where: tuple[Any, ...]) -> None:
    """Floats within 1e-5 relative or 2e-6 absolute (the shares are batched and packed differently; a reference-based
    MIA score is the difference of two float32 losses, so its error is their rounding), everything else identical."""
    if isinstance(theirs, float):
        assert isinstance(ours, (float, int)), where
        if math.isnan(theirs):
            assert math.isnan(ours), where
        else:
            tolerance = max(1e-5 * max(abs(ours), abs(theirs)), 2e-6)
            assert abs(ours - theirs) <= tolerance, (where, ours, theirs)
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and ours.keys() == theirs.keys(), where
        for key in theirs:
            _assert_same(ours[key], theirs[key], (*where, key))
    elif isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _assert_same(a, b, (*where, i))
    else:
        assert ours == theirs, (where, ours, theirs)


def test_sharded_results_equal_one_process_sample_by_sample(evaluated: dict[str, Any]) -> None:
    single, sharded = evaluated["single"], evaluated["sharded"]
    assert single["generations"] == sharded["generations"]  # identical greedy outputs, in input order
    assert len(single["generations"]) == 5 and "retain_Q_A_ROUGE_long" in single["results"]
    _assert_same(sharded["results"], single["results"], ())


def test_each_process_did_only_its_share(evaluated: dict[str, Any]) -> None:
    ranks, single = evaluated["ranks"], evaluated["single_counts"]
    for rank in ranks:
        assert rank["world_size"] == 2
        assert rank["shares"], "the engine did not shard under ZeRO-3"
        for items, share in rank["shares"]:
            assert share == math.ceil(items / 2) < items  # every map, decoding included, was split
        real = rank["forwards"] - rank["lockstep"]["dummy_forwards"]
        assert real < single["forwards"]
        assert rank["tokens"] < single["tokens"] and rank["decoded_rows"] < single["decoded_rows"]
        assert 0 < rank["reference_forwards"]  # mia_reference's local replica was scored (sharded too)


def test_partitioned_forwards_ran_in_lockstep_and_the_reference_did_not(evaluated: dict[str, Any]) -> None:
    first, second = evaluated["ranks"]
    assert first["forwards"] == second["forwards"]  # one forward per round in every process
    real = [r["forwards"] - r["lockstep"]["dummy_forwards"] for r in (first, second)]
    assert real[0] != real[1]  # the shares really needed different numbers of forwards
    assert max(r["lockstep"]["dummy_forwards"] for r in (first, second)) == abs(real[0] - real[1])
    for rank in (first, second):
        counters = rank["lockstep"]
        # each forward of the partitioned model voted once, plus the final round of each session; the reference
        # model's forwards (a full local replica) did not vote
        assert counters["rounds"] == rank["forwards"] + counters["sessions"]


def test_gradnorm_is_refused_on_the_partitioned_model(evaluated: dict[str, Any]) -> None:
    for rank in evaluated["ranks"]:
        message = rank["gradnorm_error"]
        assert message and "\n" not in message
        assert "mia_gradnorm" in message and "unlearn eval" in message and "ZeRO-3" in message


def test_no_deepspeed_noise(evaluated: dict[str, Any]) -> None:
    """Scoring, packed, cached-decoding and dummy forwards all visit the modules in one order, so DeepSpeed's
    prefetch trace is never invalidated (the worker turns those warnings on) and nothing else is printed."""
    noisy = [
        line for line in evaluated["output"].splitlines() if "Invalidate trace cache" in line or "[WARNING]" in line
    ]
    assert not noisy, noisy[:5]


def test_an_interrupted_evaluation_resumes_in_every_process_alike(evaluated: dict[str, Any]) -> None:
    """Process 0 reads the partial file and tells the others, so all reuse the same entries and compute the rest
    together (the store's key combines every process's fingerprint of its ZeRO-3 slice)."""
    first, second = (rank["resume"] for rank in evaluated["ranks"])
    assert first["finished_first"] and set(first["finished_first"]) <= set(first["reused"])  # with what they used
    assert set(first["keys"]) - set(first["reused"])  # the rest was computed after resuming
    assert second["reused"] == first["reused"]
    for resumed in (first, second):  # equal to the uninterrupted evaluation (fields fused differently: 1e-5)
        _assert_same(resumed["results"], evaluated["sharded"]["results"], ("resumed",))
