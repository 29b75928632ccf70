"""WMDP's settings, sources and presets: bad input is one line and exit code 2, before any model loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from unlearn_wmdp.config import RMU_ARGS
from unlearn_wmdp.embedded import generate_wmdp
from unlearn_wmdp.sources import write_wmdp_dir

from unlearn_core.cli import main
from unlearn_core.config import resolve_config
from unlearn_core.plugins import load_plugins


@pytest.fixture(scope="module")
def plugins():
    return load_plugins()


def _fails(tmp_path: Path, *args: str) -> str:
    """The output of a command that must exit 2 with one line, having written nothing."""
    result = CliRunner().invoke(main, [*args, f"paths.output_dir={tmp_path / 'out'}"], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert not (tmp_path / "out").exists()
    return lines[0]


def test_a_bad_data_split_names_the_valid_ones(tmp_path):
    line = _fails(tmp_path, "run", "--benchmark", "wmdp", "--method", "npo", "data_split=chem")
    assert "unknown WMDP data_split 'chem'" in line and "bio, cyber" in line


def test_a_missing_corpus_file_is_named(tmp_path):
    files = generate_wmdp("cyber", n_hazard=2, n_benign=2, n_general=2)
    write_wmdp_dir({k: v for k, v in files.items() if k != "cyber-forget-corpus"}, tmp_path / "data")
    line = _fails(
        tmp_path,
        "run",
        "--benchmark",
        "wmdp",
        "--method",
        "npo",
        f"data.source={tmp_path / 'data'}",
        "model.model_args.pretrained_model_name_or_path=/nowhere",
    )
    assert "missing WMDP file" in line and "cyber-forget-corpus.jsonl" in line


def test_a_question_without_four_choices_is_named_with_its_row(tmp_path):
    files = generate_wmdp("cyber", n_hazard=2, n_benign=2, n_general=2)
    files["wmdp-cyber"][1]["choices"] = ["only", "three", "choices"]
    write_wmdp_dir(files, tmp_path / "data")
    from unlearn_wmdp.benchmark import WmdpBenchmark

    cfg = resolve_config("eval", load_plugins(), benchmark="wmdp", overrides=[f"data.source={tmp_path / 'data'}"])
    with pytest.raises(Exception, match="wmdp-cyber row 1: 'choices' must hold 4 choices"):
        WmdpBenchmark().eval_suite(cfg.values)


def test_data_split_selects_every_file_and_names_the_run(plugins):
    cfg = resolve_config("unlearn", plugins, benchmark="wmdp", method="npo", overrides=["data_split=BIO"]).values
    assert cfg["data_split"] == "bio" and cfg["task_name"] == "wmdp_NPO_bio"
    bench = plugins.benchmarks.get("wmdp")
    assert bench.needed_splits(cfg) == ["wmdp-bio", "mmlu", "bio-forget-corpus", "bio-retain-corpus"]
    assert bench.columns(cfg) == ["wmdp_bio", "mmlu"]
    assert [e.key for e in bench.metric_entries(cfg)] == ["wmdp_bio", "mmlu"]


def test_published_protocol_with_a_real_model(plugins):
    overrides = ["model=zephyr-7b-beta"]
    args = resolve_config("unlearn", plugins, benchmark="wmdp", method="graddiff", overrides=overrides).get(
        "trainer.args"
    )
    assert (args["per_device_train_batch_size"], args["gradient_accumulation_steps"]) == (1, 16)
    assert (args["learning_rate"], args["lr_scheduler_type"], args["max_steps"]) == (5e-5, "constant", 80)
    assert (args["eval_strategy"], args["eval_steps"]) == ("steps", 0.5)


def test_eval_preset_selects_the_harness_tasks_of_the_data_split(plugins):
    pytest.importorskip("lm_eval", reason="lm-evaluation-harness is not installed")
    overrides = ["experiment=eval/wmdp/default", "model=zephyr-7b-beta", "data_split=bio"]
    cfg = resolve_config("eval", plugins, benchmark="wmdp", overrides=overrides).values
    assert cfg["eval"]["evaluators"] == ["lm_eval"]
    assert cfg["eval"]["lm_eval"]["tasks"] == ["wmdp_bio", "mmlu"]
    assert cfg["eval"]["lm_eval"]["simple_evaluate_args"]["batch_size"] == 16


def test_harness_settings_without_the_harness_are_refused(plugins, tmp_path):
    line = _fails(tmp_path, "eval", "--benchmark", "wmdp", "eval.lm_eval.tasks=[mmlu]")
    assert "eval.lm_eval.tasks" in line and "add eval=lm_eval" in line


def test_unlearn_preset_sets_rmu_with_the_reference_arguments(plugins):
    if "RMU" not in plugins.methods:
        pytest.skip("no RMU method is installed (it comes with the methods plugin)")
    cfg = resolve_config("unlearn", plugins, overrides=["experiment=unlearn/wmdp/default", "model=zephyr-7b-beta"])
    values = cfg.values
    assert values["trainer"]["name"] == "RMU" and values["benchmark"] == "wmdp"
    assert {k: values["trainer"]["method_args"][k] for k in RMU_ARGS} == RMU_ARGS
    assert values["data_split"] == "cyber" and values["trainer"]["args"]["max_steps"] == 80
