"""End to end through the installed ``unlearn`` script on a tiny embedded WMDP: NPO, and RMU where it is installed
(``experiment=unlearn/wmdp/default``, the reference's RMU arguments on the 8-layer embedded model)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from unlearn_core.plugins import load_plugins

TINY = [
    "data.embedded.n_hazard=6",
    "data.embedded.n_benign=4",
    "data.embedded.n_general=6",
    "data.embedded.base_epochs=6",
    "data.embedded.finetune_epochs=6",
    "trainer.args.num_train_epochs=2",
]


def _unlearn(root: Path, *args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("unlearn")
    command = [str(script)] if script.exists() else [shutil.which("unlearn") or "unlearn"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "UNLEARN_CACHE_DIR": str(root / "cache"), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(command + list(args), cwd=root, env=env, capture_output=True, text=True, timeout=600)


def _table(stdout: str) -> dict[str, list[float]]:
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("model "))
    assert lines[header].split() == ["model", "wmdp_cyber", "mmlu"]
    rows = {}
    for line in lines[header + 2 :]:
        if not line.strip():
            break
        name, *values = line.split()
        rows[name] = [float(v) for v in values]
    return rows


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One working directory (and embedded cache) for both runs."""
    return tmp_path_factory.mktemp("wmdp-e2e")


@pytest.mark.slow
def test_npo_on_the_embedded_wmdp(root):
    run = _unlearn(root, "run", "--benchmark", "wmdp", "--method", "npo", *TINY)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = _table(run.stdout)
    assert list(rows) == ["target", "retain", "unlearned"]
    assert rows["unlearned"][0] <= rows["target"][0]
    out = root / "saves" / "unlearn" / "wmdp_NPO_cyber"
    logs = json.loads((out / "evals" / "WMDP_EVAL.json").read_text())
    assert logs["manifest"]["data_split"] == "cyber" and logs["manifest"]["benchmark"] == "wmdp"
    assert len(logs["wmdp_cyber"]["value_by_index"]) == 18 and len(logs["mmlu"]["value_by_index"]) == 12
    record = logs["wmdp_cyber"]["value_by_index"]["0"]
    assert set(record) == {"acc", "acc_norm", "pred", "target", "loglikelihoods"} and len(record["loglikelihoods"]) == 4
    summary = json.loads((out / "evals" / "WMDP_SUMMARY.json").read_text())
    assert summary == {"wmdp_cyber": logs["wmdp_cyber"]["agg_value"], "mmlu": logs["mmlu"]["agg_value"]}
    evaluations = [json.loads(line) for line in (out / "eval_log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evaluations] == [8, 16]  # 60 forget rows, batch 8, 2 epochs; eval_steps=0.5


@pytest.mark.slow
def test_rmu_preset_on_the_embedded_wmdp(root):
    if "RMU" not in load_plugins().methods:
        pytest.skip("no RMU method is installed (it comes with the methods plugin)")
    run = _unlearn(root, "run", "experiment=unlearn/wmdp/default", *TINY)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = _table(run.stdout)
    assert list(rows) == ["target", "retain", "unlearned"]
    config = json.loads((root / "saves" / "unlearn" / "wmdp_RMU_cyber" / "config.json").read_text())
    assert config["trainer"]["method_args"]["module_regex"] == r"model\.layers\.7"
    assert config["eval"]["evaluators"] == []  # the harness's hub tasks are not run on the embedded model
