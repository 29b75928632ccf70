"""End to end through the installed ``unlearn`` script on a tiny embedded MUSE: a run, then a sustainability run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TINY = [
    "data.embedded.n_forget=8",
    "data.embedded.n_retain=4",
    "data.embedded.n_holdout=8",
    "data.embedded.n_background=4",
    "data.embedded.base_epochs=1",
    "data.embedded.finetune_epochs=3",
    "trainer.args.num_train_epochs=2",
]


def _unlearn(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("unlearn")
    command = [str(script)] if script.exists() else [shutil.which("unlearn") or "unlearn"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "UNLEARN_CACHE_DIR": str(tmp_path / "cache")}
    return subprocess.run(
        command + list(args), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _rows(stdout: str) -> dict[str, list[str]]:
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("model "))
    assert lines[header].split() == ["model", "verbmem_f", "knowmem_f", "knowmem_r", "privleak"]
    rows = {}
    for line in lines[header + 2 :]:
        if not line.strip():
            break
        name, *values = line.split()
        rows[name] = values
    return rows


@pytest.mark.slow
def test_muse_run_and_sustainability_experiment(tmp_path):
    run = _unlearn(tmp_path, "run", "--benchmark", "muse", "--method", "npo", *TINY)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = _rows(run.stdout)
    assert list(rows) == ["target", "retain", "unlearned"]
    assert rows["retain"][3] == "0.0000"  # the retain model is its own privleak reference
    out = tmp_path / "saves" / "unlearn" / "muse_NPO_News_forget"
    logs = json.loads((out / "evals" / "MUSE_EVAL.json").read_text())
    assert logs["manifest"]["data_split"] == "News" and logs["manifest"]["benchmark"] == "muse"
    keys = {"forget_verbmem_ROUGE", "forget_knowmem_ROUGE", "retain_knowmem_ROUGE", "privleak", "extraction_strength"}
    assert keys | {"mia_min_k"} <= set(logs)
    assert len(logs["forget_verbmem_ROUGE"]["value_by_index"]) == 8
    assert len(logs["forget_knowmem_ROUGE"]["value_by_index"]) == 8
    summary = json.loads((out / "evals" / "MUSE_SUMMARY.json").read_text())
    assert list(summary) == [
        "forget_knowmem_ROUGE",
        "retain_knowmem_ROUGE",
        "forget_verbmem_ROUGE",
        "privleak",
        "extraction_strength",
    ]

    sust = _unlearn(tmp_path, "run", "--benchmark", "muse", "--method", "npo",
                    "experiment=unlearn/muse/sustainability", *TINY)  # fmt: skip
    assert sust.returncode == 0, sust.stderr[-3000:]
    assert "building the embedded tiny model" not in sust.stderr  # the first run's models are reused
    assert list(_rows(sust.stdout)) == ["target", "retain", "forget_1", "forget_2", "forget_3", "forget_4"]
    top = tmp_path / "saves" / "unlearn" / "muse_NPO_News_sustainability"
    summary = json.loads((top / "experiment_summary.json").read_text())
    assert [s["name"] for s in summary["steps"]] == ["forget_1", "forget_2", "forget_3", "forget_4"]
    second = json.loads((top / "forget_2" / "provenance.json").read_text())
    assert tmp_path / second["start_model"] == top / "forget_1" / "model"  # each request starts from the last model
    for step in ("forget_1", "forget_4"):
        assert (top / step / "evals" / "MUSE_EVAL.json").is_file() and (top / step / "model").is_dir()
