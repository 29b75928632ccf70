"""End to end through the installed ``unlearn`` console script, on the embedded default with tiny settings.

One shared cache: the first command builds the embedded base/target/retain models, the next ones reuse them.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

TINY = [
    "data.embedded.n_authors=10",
    "data.embedded.questions_per_author=6",
    "data.embedded.base_epochs=3",
    "data.embedded.finetune_epochs=3",
    "trainer.args.num_train_epochs=2",
    "generation.max_new_tokens=8",
]
NPO_DIR = Path("saves/unlearn/tofu_NPO_forget10")
GA_DIR = Path("saves/unlearn/tofu_GradAscent_forget10")
EVAL_DIR = Path("saves/eval/tofu_eval_forget10")
EVAL_RUN_DIR = Path("saves/eval/from_run_dir")


def unlearn_script() -> str:
    return shutil.which("unlearn") or str(Path(sys.executable).parent / "unlearn")


@dataclass
class Ran:
    """One finished command."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def check(self) -> None:
        assert self.returncode == 0, f"{' '.join(self.args)} failed:\n{self.stdout}\n{self.stderr[-4000:]}"


@dataclass
class Workspace:
    root: Path
    cache: Path
    runs: dict[str, Ran]
    snapshots: dict[str, Any]

    def read_json(self, relative: Path | str) -> Any:
        return json.loads((self.root / relative).read_text())


def run_unlearn(root: Path, cache: Path, *args: str) -> Ran:
    env = {k: v for k, v in os.environ.items() if k != "UNLEARN_DISABLE_PLUGINS"}
    env.update(UNLEARN_CACHE_DIR=str(cache), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    # One math thread: on a small shared machine, OpenMP threads competing with another process make each step of
    # the tiny model tens of times slower.
    env.setdefault("OMP_NUM_THREADS", "1")
    command = [unlearn_script(), *args]
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=900, check=False)
    return Ran(command, done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Run the four commands once, in order, in one directory with one cache; tests inspect what they left."""
    root = tmp_path_factory.mktemp("e2e")
    cache = root / "cache"
    runs: dict[str, Ran] = {}
    snapshots: dict[str, Any] = {}

    runs["npo"] = run_unlearn(root, cache, "run", "--benchmark", "tofu", "--method", "npo", *TINY)
    runs["npo"].check()

    runs["gradascent"] = run_unlearn(root, cache, "run", "--benchmark", "tofu", "--method", "gradascent", *TINY)
    if runs["gradascent"].returncode == 0:
        snapshots["gradascent_log"] = (root / GA_DIR / "train_log.jsonl").read_text().splitlines()

    # GradDiff with a KL retain term, written over the GradAscent run's directory (--overwrite).
    runs["graddiff"] = run_unlearn(
        root,
        cache,
        "run",
        "--benchmark",
        "tofu",
        "--overwrite",
        "trainer=GradDiff",
        "trainer.method_args.retain_loss_type=KL",
        f"paths.output_dir={GA_DIR}",
        *TINY,
    )

    # Metric subsets reuse the cached retain evaluation (it covers them); other data sets and the retain anchor.
    one_epoch = [o for o in TINY if not o.startswith("trainer.args.num_train_epochs")]
    one_epoch.append("trainer.args.num_train_epochs=1")
    subset = ["run", "--benchmark", "tofu", "--method", "npo", *one_epoch]
    runs["only_prob"] = run_unlearn(root, cache, *subset, "eval.metrics=[forget_Q_A_Prob]", "task_name=only_prob")
    runs["subset"] = run_unlearn(
        root,
        cache,
        *subset,
        "eval.metrics=[forget_Q_A_Prob,forget_quality,model_utility]",
        "data.forget=TOFU_QA_forget_para",
        "data.anchor=retain",
        "task_name=subset",
    )

    retain_evals = sorted(cache.glob("tofu/retain-eval-*/TOFU_EVAL.json"))
    snapshots["retain_evals"] = retain_evals
    reference = retain_evals[0] if retain_evals else root / "missing-retain-eval.json"
    evaluate = ["eval", "--benchmark", "tofu", f"retain_logs_path={reference}", "data.max_length=128", *TINY]
    runs["eval"] = run_unlearn(
        root, cache, *evaluate, f"model.model_args.pretrained_model_name_or_path={NPO_DIR / 'model'}"
    )
    # The run directory itself, as the user contract shows (saves/unlearn/x holds the model in x/model).
    runs["eval_run_dir"] = run_unlearn(
        root,
        cache,
        *evaluate,
        f"model.model_args.pretrained_model_name_or_path={NPO_DIR}",
        f"paths.output_dir={EVAL_RUN_DIR}",
    )
    return Workspace(root, cache, runs, snapshots)


# ---- unlearn run --benchmark tofu --method npo -----------------------------------------------------------------------


def table_rows(stdout: str) -> dict[str, list[str]]:
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("model "))
    rows = {}
    for line in lines[header + 2 :]:
        if not line.strip():
            break
        rows[line.split()[0]] = line.split()[1:]
    return rows


def test_npo_run_prints_the_summary_table(workspace):
    ran = workspace.runs["npo"]
    ran.check()
    header = next(line for line in ran.stdout.splitlines() if line.startswith("model "))
    assert "forget_quality" in header and "model_utility" in header
    rows = table_rows(ran.stdout)
    assert list(rows) == ["target", "retain", "unlearned"]
    assert all(len(values) == len(header.split()) - 1 for values in rows.values())
    assert f"Output: {NPO_DIR}" in ran.stdout


def test_progress_in_a_log_file_is_a_line_per_phase_without_carriage_returns(workspace):
    stderr = workspace.runs["npo"].stderr  # a pipe, not a terminal: the first run, building the embedded models
    assert "\r" not in stderr
    lines = stderr.splitlines()
    assert len(lines) <= 20, stderr
    for phase in ("tofu base model: done", "tofu target model: done", "unlearn tofu with NPO: done, "):
        assert sum(line.startswith(phase) for line in lines) == 1, phase
    assert any(line.startswith("evaluate tofu: done, ") and "entries" in line for line in lines)


def test_npo_run_writes_every_output(workspace):
    out = workspace.root / NPO_DIR
    for relative in (
        "config.json",
        "provenance.json",
        "train_log.jsonl",
        "model/model.safetensors",
        "model/config.json",
        "evals/TOFU_EVAL.json",
        "evals/TOFU_SUMMARY.json",
        "summary_table.json",
    ):
        assert (out / relative).is_file(), relative
    assert not list(out.glob("model/*.bin")), "weights are safetensors only"
    leftovers = [p for p in out.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".model")]
    assert leftovers == []


def test_npo_run_config_provenance_and_log(workspace):
    config = workspace.read_json(NPO_DIR / "config.json")
    assert config["mode"] == "unlearn"
    assert config["trainer"]["name"] == "NPO"
    assert config["task_name"] == "tofu_NPO_forget10"
    assert config["data"]["embedded"]["n_authors"] == 10
    assert config["generation"]["max_new_tokens"] == 8

    provenance = workspace.read_json(NPO_DIR / "provenance.json")
    assert {"npo", "tofu"} <= set(provenance["plugins"])
    assert provenance["seed"] == 0
    assert provenance["steps"] >= 1
    assert "torch" in provenance["packages"]

    records = [json.loads(line) for line in (workspace.root / NPO_DIR / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, provenance["steps"] + 1))
    for record in records:
        assert math.isfinite(record["loss"])
        assert {"forget_loss", "retain_loss", "learning_rate", "epoch"} <= set(record)


def test_npo_eval_json_has_the_reference_layout(workspace):
    results = workspace.read_json(NPO_DIR / "evals/TOFU_EVAL.json")
    manifest = results["manifest"]
    assert manifest["benchmark"] == "tofu"
    assert (manifest["forget_split"], manifest["holdout_split"]) == ("forget10", "holdout10")
    assert manifest["metric_definition_version"]

    assert isinstance(results["forget_truth_ratio"]["value_by_index"], dict)
    assert results["forget_truth_ratio"]["value_by_index"]
    assert 0.0 <= results["mia_min_k"]["auc"] <= 1.0
    assert {"forget", "holdout"} <= set(results["mia_min_k"])
    for key in ("forget_quality", "model_utility", "forget_Q_A_Prob", "forget_Q_A_ROUGE", "privleak"):
        assert "agg_value" in results[key], key
    assert 0.0 <= results["forget_quality"]["agg_value"] <= 1.0
    n_forget = 6  # one author of ten is forget10, six questions each
    assert len(results["forget_Q_A_Prob"]["value_by_index"]) == n_forget

    summary = workspace.read_json(NPO_DIR / "evals/TOFU_SUMMARY.json")
    assert summary["forget_quality"] == results["forget_quality"]["agg_value"]
    assert summary["model_utility"] == results["model_utility"]["agg_value"]


# ---- further commands on the same cache ------------------------------------------------------------------------------


def test_gradascent_run_reuses_the_cached_models(workspace):
    ran = workspace.runs["gradascent"]
    ran.check()
    assert list(table_rows(ran.stdout)) == ["target", "retain", "unlearned"]
    assert "building the embedded tiny model" in workspace.runs["npo"].stderr
    assert "building the embedded tiny model" not in ran.stderr
    records = [json.loads(line) for line in workspace.snapshots["gradascent_log"]]
    assert records and all("retain_loss" not in r for r in records)


def test_graddiff_with_kl_retain_loss(workspace):
    ran = workspace.runs["graddiff"]
    ran.check()
    assert list(table_rows(ran.stdout)) == ["target", "retain", "unlearned"]
    config = workspace.read_json(GA_DIR / "config.json")
    assert config["trainer"]["name"] == "GradDiff"
    assert config["trainer"]["method_args"]["retain_loss_type"] == "KL"
    assert (workspace.root / GA_DIR / "evals/TOFU_EVAL.json").is_file()


def test_overwritten_run_log_holds_only_the_new_run(workspace):
    workspace.runs["graddiff"].check()
    provenance = workspace.read_json(GA_DIR / "provenance.json")
    lines = (workspace.root / GA_DIR / "train_log.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["step"] for r in records] == list(range(1, provenance["steps"] + 1))
    assert all("retain_loss" in r for r in records)


def test_eval_of_the_unlearned_model_with_cached_retain_logs(workspace):
    assert workspace.snapshots["retain_evals"], "the embedded retain model's evaluation is cached"
    ran = workspace.runs["eval"]
    ran.check()
    assert list(table_rows(ran.stdout)) == ["evaluated"]
    results = workspace.read_json(EVAL_DIR / "TOFU_EVAL.json")
    assert results["manifest"]["model"] == str(NPO_DIR / "model")
    assert 0.0 <= results["forget_quality"]["agg_value"] <= 1.0
    assert (workspace.root / EVAL_DIR / "TOFU_SUMMARY.json").is_file()


def test_eval_reproduces_the_runs_final_evaluation(workspace):
    workspace.runs["eval"].check()
    again = workspace.read_json(EVAL_DIR / "TOFU_SUMMARY.json")
    final = workspace.read_json(NPO_DIR / "evals/TOFU_SUMMARY.json")
    for key in ("forget_Q_A_Prob", "forget_truth_ratio", "forget_quality", "model_utility"):
        assert again[key] == pytest.approx(final[key], rel=1e-4, abs=1e-6), key


def test_eval_accepts_a_run_directory_as_the_model_path(workspace):
    workspace.runs["eval_run_dir"].check()
    again = workspace.read_json(EVAL_RUN_DIR / "TOFU_SUMMARY.json")
    final = workspace.read_json(NPO_DIR / "evals/TOFU_SUMMARY.json")
    assert again["forget_Q_A_Prob"] == pytest.approx(final["forget_Q_A_Prob"], rel=1e-4, abs=1e-6)


# ---- metric subsets, named data sets, the retain anchor -------------------------------------------------------------


def test_a_metric_subset_runs_and_summarises_exactly_the_selection(workspace):
    ran = workspace.runs["only_prob"]
    ran.check()
    summary = workspace.read_json("saves/unlearn/only_prob/evals/TOFU_SUMMARY.json")
    assert list(summary) == ["forget_Q_A_Prob"]
    rows = table_rows(ran.stdout)
    assert list(rows) == ["target", "retain", "unlearned"] and rows["unlearned"][3] != "-"
    assert len(workspace.snapshots["retain_evals"]) == 1  # one cached retain evaluation served every run


def test_subset_with_derived_metrics_named_forget_set_and_retain_anchor(workspace):
    workspace.runs["subset"].check()
    results = workspace.read_json("saves/unlearn/subset/evals/TOFU_EVAL.json")
    summary = workspace.read_json("saves/unlearn/subset/evals/TOFU_SUMMARY.json")
    assert list(summary) == ["forget_Q_A_Prob", "forget_quality", "model_utility"]
    # what they build on is written as entries of their own, as in the reference's files
    assert {"forget_truth_ratio", "forget_Q_A_PARA_Prob", "forget_Q_A_PERT_Prob", "ra_Q_A_PERT_Prob"} <= set(results)
    config = workspace.read_json("saves/unlearn/subset/config.json")
    assert (config["data"]["forget"], config["data"]["anchor"]) == ("TOFU_QA_forget_para", "retain")
    provenance = workspace.read_json("saves/unlearn/subset/provenance.json")
    retain_rows = 54  # nine retain authors of six questions: one epoch of batch 8 iterates the retain set
    assert provenance["steps"] == math.ceil(retain_rows / 8)
