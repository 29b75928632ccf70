"""A sweep on two CPU processes: ``unlearn launch ddp run ... --multirun``; every run is a two-process run, process 0
writes the sweep files and reports once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from faultkit import TINY

pytestmark = pytest.mark.slow


def test_a_launched_sweep_runs_each_combination_on_every_process(tmp_path, embedded_cache):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "DS_ACCELERATOR")}
    env.update(OMP_NUM_THREADS="1", UNLEARN_CACHE_DIR=str(embedded_cache), HF_HUB_OFFLINE="1")
    command = [sys.executable, "-m", "unlearn_core", "launch", "--num-processes", "2", "ddp", "run", "-b", "tofu"]
    command += ["-m", "npo", *TINY, "trainer.args.num_train_epochs=1", "task_name=grid"]
    command += ["--multirun", "trainer.method_args.beta=0.1,0.5"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("Output: saves/unlearn/grid (2 runs") == 1  # process 0 alone reports
    assert done.stderr.count("[sweep grid 2/2: run 1] beta=0.5") == 1
    sweep = tmp_path / "saves/unlearn/grid"
    record = json.loads((sweep / "sweep.json").read_text())
    assert [run["status"] for run in record["runs"]] == ["finished", "finished"]
    assert record["command"].startswith("unlearn launch --num-processes=2 ddp run --benchmark tofu --method npo")
    for n in (0, 1):
        provenance = json.loads((sweep / f"{n}/provenance.json").read_text())
        assert provenance["world_size"] == 2 and provenance["status"] == "finished"
        assert record["runs"][n]["summary"]["unlearned"] == json.loads(
            (sweep / f"{n}/evals/TOFU_SUMMARY.json").read_text()
        )
    assert not [p for p in sweep.rglob("*") if ".tmp" in p.name]
