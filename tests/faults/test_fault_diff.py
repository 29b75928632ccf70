"""``unlearn diff``: runs that differ in ways that make their numbers incomparable are flagged (exit 1)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from unlearn_core.cli import main

CONFIG: dict[str, Any] = {
    "mode": "unlearn",
    "benchmark": "tofu",
    "seed": 0,
    "forget_split": "forget10",
    "retain_split": "retain90",
    "holdout_split": "holdout10",
    "data": {"source": "embedded", "embedded": {"n_authors": 10}},
    "eval": {"benchmark": "tofu"},
    "trainer": {
        "name": "NPO",
        "args": {"seed": 0, "learning_rate": 1e-3, "per_device_train_batch_size": 8, "gradient_accumulation_steps": 1},
    },
}
PROVENANCE: dict[str, Any] = {
    "seed": 0,
    "world_size": 1,
    "effective_batch_size": 8,
    "metric_definition_version": "1",
    "git_commit": "abc",
    "finished": 1.0,
}


def make_run(root: Path, name: str, config: dict[str, Any], provenance: dict[str, Any], summary: Any = None) -> Path:
    path = root / name
    (path / "evals").mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(config))
    (path / "provenance.json").write_text(json.dumps(provenance))
    (path / "evals" / "TOFU_SUMMARY.json").write_text(json.dumps(summary or {"forget_quality": 0.5}))
    return path


def changed(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    node = out
    *parents, last = dotted.split(".")
    for part in parents:
        node = node[part]
    node[last] = value
    return out


def diff(a: Path, b: Path, *flags: str) -> Result:
    return CliRunner().invoke(main, ["diff", str(a), str(b), *flags])


def test_runs_of_two_methods_are_comparable(tmp_path):
    a = make_run(tmp_path, "a", CONFIG, PROVENANCE, {"forget_quality": 0.25, "model_utility": 0.5})
    other = changed(changed(CONFIG, "trainer.name", "GradAscent"), "trainer.args.learning_rate", 2e-3)
    b = make_run(tmp_path, "b", other, {**PROVENANCE, "finished": 2.0}, {"forget_quality": 0.75, "model_utility": 0.5})
    result = diff(a, b)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "trainer.name" in out and "GradAscent" in out and "trainer.args.learning_rate" in out
    assert "provenance: identical" in out  # 'finished' always differs and is not shown
    assert "forget_quality" in out and "0.5000" in out  # B - A
    assert out.strip().splitlines()[-1].startswith("comparable")


@pytest.mark.parametrize(
    ("config_change", "provenance_change", "flagged"),
    [
        (("seed", 1), None, "seed"),
        (("trainer.args.seed", 3), None, "trainer.args.seed"),
        (("benchmark", "muse"), None, "benchmark"),
        (("forget_split", "forget05"), None, "forget_split"),
        (("data.embedded.n_authors", 20), None, "data.embedded.n_authors"),
        (None, ("world_size", 2), "world_size"),
        (None, ("effective_batch_size", 32), "effective_batch_size"),
        (None, ("metric_definition_version", "2"), "metric_definition_version"),
    ],
)
def test_incomparable_differences_are_flagged(tmp_path, config_change, provenance_change, flagged):
    a = make_run(tmp_path, "a", CONFIG, PROVENANCE)
    config = changed(CONFIG, *config_change) if config_change else CONFIG
    provenance = changed(PROVENANCE, *provenance_change) if provenance_change else PROVENANCE
    b = make_run(tmp_path, "b", config, provenance)
    result = diff(a, b)
    assert result.exit_code == 1, result.output
    verdict = result.stdout.strip().splitlines()[-1]
    assert verdict.startswith("NOT comparable") and flagged in verdict
    as_json = json.loads(diff(a, b, "--json").stdout)
    assert as_json["comparable"] is False and flagged in as_json["incomparable"]


def test_a_directory_without_a_run_is_exit_code_2(tmp_path):
    a = make_run(tmp_path, "a", CONFIG, PROVENANCE)
    (tmp_path / "empty").mkdir()
    result = diff(a, tmp_path / "empty")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: {tmp_path / 'empty'} is not a run directory: config.json is missing"
    result = diff(a, tmp_path / "missing")
    assert result.exit_code == 2 and "run directory not found" in result.stderr
    (tmp_path / "empty" / "config.json").write_text("{broken")
    assert diff(a, tmp_path / "empty").exit_code == 2
