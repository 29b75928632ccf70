"""The manifest recorded with results is complete, and retain logs that do not match are refused by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from unlearn_core import entries
from unlearn_core.errors import RetainLogsError
from unlearn_core.evaluation.builtin.derived import FORGET_QUALITY
from unlearn_core.evaluation.results import METRIC_DEFINITION_VERSION, load_retain_logs

EXPECTED = {
    "benchmark": "tofu",
    "forget_split": "forget10",
    "holdout_split": "holdout10",
    "data_split": None,
    "checked": ["forget_split", "holdout_split", "data_split"],
    "metric_definition_version": METRIC_DEFINITION_VERSION,
}
ENTRIES = {"forget_truth_ratio": {"value_by_index": {"0": {"score": 0.5}}}, "mia_min_k": {"auc": 0.5}}


def write(tmp_path: Path, logs: dict[str, Any]) -> Path:
    path = tmp_path / "TOFU_EVAL.json"
    path.write_text(json.dumps(logs))
    return path


def test_manifest_names_everything_a_result_depends_on() -> None:
    pytest.importorskip("unlearn_tofu")
    from unlearn_core.config import resolve_config
    from unlearn_core.pipeline.evaluate import eval_manifest
    from unlearn_core.plugins import load_plugins

    plugins = load_plugins()
    cfg = resolve_config("eval", plugins, benchmark="tofu", overrides=["forget_split=forget05"])
    bench = plugins.benchmarks.get("tofu")
    manifest = eval_manifest(cfg.values, bench.eval_suite(cfg.values), bench.manifest(cfg.values))
    for key in (
        "benchmark",
        "forget_split",
        "holdout_split",
        "checked",
        "model",
        "template",
        "generation",
        "plugin_versions",
        "metric_definition_version",
        "seed",
        "world_size",
        "dtype",
    ):
        assert key in manifest, key
    assert (manifest["forget_split"], manifest["holdout_split"]) == ("forget05", "holdout05")
    assert manifest["checked"] == ["forget_split", "holdout_split"]  # retain_split does not change evaluation
    assert {"unlearn-core", "unlearn-tofu", "torch", "transformers"} <= set(manifest["plugin_versions"])
    assert manifest["world_size"] == 1 and manifest["generation"]["max_new_tokens"] > 0


def test_matching_logs_are_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, {**ENTRIES, "manifest": EXPECTED})
    assert load_retain_logs(path, EXPECTED, list(ENTRIES))["mia_min_k"]["auc"] == 0.5


def test_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(RetainLogsError, match="not found: .*nowhere.json"):
        load_retain_logs(tmp_path / "nowhere.json", EXPECTED, [])


def test_missing_key_is_an_error_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path, {"forget_truth_ratio": ENTRIES["forget_truth_ratio"], "manifest": EXPECTED})
    with pytest.raises(RetainLogsError, match="lack mia_min_k"):
        load_retain_logs(path, EXPECTED, list(ENTRIES))


@pytest.mark.parametrize(
    ("key", "theirs"),
    [("forget_split", "forget05"), ("holdout_split", "holdout01"), ("metric_definition_version", "0")],
)
def test_a_different_setting_is_an_error_naming_the_difference(tmp_path: Path, key: str, theirs: str) -> None:
    path = write(tmp_path, {**ENTRIES, "manifest": {**EXPECTED, key: theirs}})
    with pytest.raises(RetainLogsError, match=rf"{key}='{theirs}', this evaluation uses '{EXPECTED[key]}'"):
        load_retain_logs(path, EXPECTED, list(ENTRIES))


def test_logs_without_manifest_are_accepted_with_a_warning_naming_the_unchecked(tmp_path: Path) -> None:
    path = write(tmp_path, dict(ENTRIES))
    with pytest.warns(UserWarning, match="no manifest: could not check benchmark, forget_split, holdout_split"):
        logs = load_retain_logs(path, EXPECTED, list(ENTRIES))
    assert "mia_min_k" in logs


def test_reference_truth_ratios_of_another_size_are_refused() -> None:
    class Context:
        def result(self, key: str) -> dict[str, Any]:
            return {"value_by_index": {"0": {"score": 0.1}, "1": {"score": 0.2}}}

        def retain_log(self, key: str) -> dict[str, Any]:
            return ENTRIES["forget_truth_ratio"]

    with pytest.raises(RetainLogsError, match="1 samples, this evaluation has 2: .*different forget split"):
        FORGET_QUALITY.compute(Context(), entries.forget_quality())


def _cfg(name: str = "my-model", path: str | None = "/some/dir") -> dict[str, Any]:
    return {"model": {"name": name, "model_args": {"pretrained_model_name_or_path": path}}, "eval": {}}


def test_mia_reference_uses_the_retain_model_named_in_the_retain_logs(tmp_path: Path) -> None:
    from unlearn_core.pipeline.mia_reference import mia_reference_path

    logs = {"manifest": {"model": str(tmp_path)}}
    assert mia_reference_path(_cfg(), logs) == str(tmp_path)
    configured = {**_cfg(), "eval": {"mia_reference": "org/retain"}}
    assert mia_reference_path(configured, logs) == "org/retain"


def test_mia_reference_without_a_reference_model_says_how_to_give_one(tmp_path: Path) -> None:
    from unlearn_core.pipeline.mia_reference import mia_reference_path

    with pytest.raises(RetainLogsError, match="mia_reference needs a reference model"):
        mia_reference_path(_cfg(), {"manifest": {"model": "org/not-a-local-dir"}})
