"""--show-config, sweep and tracker errors through Click's CliRunner: all decided before any model loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

import unlearn_core.pipeline.commands as commands
import unlearn_core.pipeline.embedded as embedded
import unlearn_core.pipeline.models as models
import unlearn_core.training.tracking as tracking
from unlearn_core.cli import main

SWEEP = ["--multirun", "trainer.args.learning_rate=1e-5,2e-5,5e-5", "trainer.method_args.beta=0.1,0.5"]


@pytest.fixture(autouse=True)
def model_loads(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every way a command loads or builds a model records the attempt and stops there."""
    calls: list[str] = []

    def stop(what: str) -> Any:
        def raiser(*args: Any, **kwargs: Any) -> Any:
            calls.append(what)
            raise AssertionError(f"{what} was called")

        return raiser

    for module, name in ((models, "load_model_and_tokenizer"), (commands, "load_model_and_tokenizer")):
        monkeypatch.setattr(module, name, stop(name))
    monkeypatch.setattr(embedded, "build_tiny_llama", stop("build_tiny_llama"))
    monkeypatch.setattr(embedded.EmbeddedBuilder, "all", stop("EmbeddedBuilder.all"))
    return calls


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_show_config_prints_the_resolved_yaml_and_loads_nothing(model_loads, workdir):
    result = invoke("run", "-b", "tofu", "-m", "npo", "trainer.args.learning_rate=2e-5", "--show-config")
    assert result.exit_code == 0, result.output
    config = yaml.safe_load(result.stdout)
    assert config["trainer"]["name"] == "NPO" and config["trainer"]["method_args"]["beta"] == 0.1  # plugin default
    assert config["trainer"]["args"]["learning_rate"] == 2e-5
    assert config["forget_split"] == "forget10" and config["retain_split"] == "retain90"  # benchmark defaults
    assert config["trainer"]["args"]["report_to"] == []
    assert config["model"]["template_args"]["asst_end_tag"] == "\n\n"
    assert config["paths"]["output_dir"] == "saves/unlearn/tofu_NPO_forget10"
    assert model_loads == [] and list(workdir.iterdir()) == []


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_show_config_for_train_and_eval(mode, model_loads):
    result = invoke(mode, "-b", "tofu", "--show-config")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["mode"] == mode
    assert model_loads == []


def test_show_config_with_multirun_prints_one_document_per_combination(model_loads, workdir):
    result = invoke("run", "-b", "tofu", "-m", "npo", *SWEEP, "task_name=grid", "--show-config")
    assert result.exit_code == 0, result.output
    documents = list(yaml.safe_load_all(result.stdout))
    assert len(documents) == 6
    assert [(d["trainer"]["args"]["learning_rate"], d["trainer"]["method_args"]["beta"]) for d in documents[:3]] == [
        (1e-5, 0.1),
        (1e-5, 0.5),
        (2e-5, 0.1),
    ]
    assert [d["paths"]["output_dir"] for d in documents] == [f"saves/unlearn/grid/{n}" for n in range(6)]
    assert "# run 5: learning_rate=5e-5 beta=0.5" in result.stdout
    assert model_loads == [] and list(workdir.iterdir()) == []


def test_a_bad_value_in_any_combination_stops_the_sweep_before_it_starts(model_loads, workdir):
    result = invoke("run", "-b", "tofu", "-m", "npo", "--multirun", "trainer.args.learning_rate=1e-5,fast")
    assert result.exit_code == 2
    line = error_line(result)
    assert line.startswith("Error: run 1 (learning_rate=fast):") and "must be a number" in line
    assert model_loads == [] and list(workdir.iterdir()) == []


def test_a_bad_metric_name_in_a_later_combination_is_refused_too(model_loads, workdir):
    result = invoke("eval", "-b", "tofu", "-m", "eval.metrics=[forget_quality],[forget_qualty]")
    assert result.exit_code == 2
    assert "run 1" in error_line(result) and "did you mean 'forget_quality'" in result.stderr
    assert model_loads == [] and list(workdir.iterdir()) == []


def test_a_sweep_whose_default_directory_follows_a_swept_key_needs_a_task_name(model_loads):
    result = invoke("run", "-b", "tofu", "--multirun", "trainer=NPO,GradAscent")
    assert result.exit_code == 2
    assert "task_name=NAME" in error_line(result)


def test_a_sweep_does_not_overwrite_a_single_run(model_loads, workdir):
    (workdir / "saves/unlearn/one").mkdir(parents=True)
    (workdir / "saves/unlearn/one/config.json").write_text("{}")
    result = invoke("run", "-b", "tofu", "-m", "npo", "--multirun", "trainer.method_args.beta=0.1,0.2", "task_name=one")
    assert result.exit_code == 1
    assert "holds a single run" in error_line(result)
    assert model_loads == []


def test_dash_m_is_the_method_on_run_so_an_override_there_points_to_multirun(model_loads):
    result = invoke("run", "-b", "tofu", "-m", "trainer.args.learning_rate=1e-5,2e-5")
    assert result.exit_code == 2
    assert "a sweep is --multirun" in error_line(result)


def test_an_unknown_tracker_is_refused_with_the_choices(model_loads):
    result = invoke("run", "-b", "tofu", "-m", "npo", "trainer.args.report_to=[tensorbord]", "paths.output_dir=o")
    assert result.exit_code == 2
    line = error_line(result)
    assert "did you mean 'tensorboard'" in line and "wandb" in line and "trackio" in line
    assert model_loads == []


def test_a_tracker_that_is_not_installed_names_its_package(model_loads, monkeypatch, workdir):
    monkeypatch.setattr(tracking, "installed", lambda name: name != "wandb")
    result = invoke("run", "-b", "tofu", "-m", "npo", "trainer.args.report_to=wandb", "paths.output_dir=o")
    assert result.exit_code == 2
    assert error_line(result) == (
        "Error: trainer.args.report_to=wandb needs the package 'wandb', which is not installed: pip install wandb"
    )
    assert model_loads == [] and list(workdir.iterdir()) == []


def test_report_to_takes_one_name_a_list_none_or_all(monkeypatch):
    monkeypatch.setattr(tracking, "installed", lambda name: name in ("tensorboard", "mlflow"))
    assert tracking.tracker_names("tensorboard") == ["tensorboard"]
    assert tracking.tracker_names(["mlflow", "tensorboard", "mlflow"]) == ["mlflow", "tensorboard"]
    assert tracking.tracker_names("none") == [] and tracking.tracker_names([]) == []
    assert tracking.tracker_names(["all"]) == ["tensorboard", "mlflow"]
