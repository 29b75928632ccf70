"""The ``unlearn`` command line through Click's CliRunner: help, list-plugins, and one-line errors before any model."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import unlearn_core.pipeline.commands as commands
import unlearn_core.pipeline.embedded as embedded
import unlearn_core.pipeline.models as models
from unlearn_core.cli import main
from unlearn_core.plugins import DISABLE_ENV

TINY = [
    "data.embedded.n_authors=10",
    "data.embedded.questions_per_author=6",
    "data.embedded.base_epochs=1",
    "data.embedded.finetune_epochs=1",
]


class ModelLoadReached(Exception):
    """Raised by the patched loaders: the command got as far as loading or building a model."""


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command runs in tmp_path with its own cache, offline, with every plugin enabled."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UNLEARN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.delenv(DISABLE_ENV, raising=False)


@pytest.fixture
def model_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Patch every way a command loads or builds a model to record the attempt and stop there."""
    calls: list[str] = []

    def stop(what: str) -> Any:
        def raiser(*args: Any, **kwargs: Any) -> Any:
            calls.append(what)
            raise ModelLoadReached(what)

        return raiser

    monkeypatch.setattr(models, "load_model_and_tokenizer", stop("load_model_and_tokenizer"))
    monkeypatch.setattr(commands, "load_model_and_tokenizer", stop("load_model_and_tokenizer"))
    monkeypatch.setattr(embedded, "build_tiny_llama", stop("build_tiny_llama"))
    monkeypatch.setattr(embedded, "train_tokenizer", stop("train_tokenizer"))
    return calls


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def one_line_error(result: Result) -> str:
    """The single error line a failed command prints on stderr (no traceback)."""
    assert result.exit_code != 0, result.output
    assert not isinstance(result.exception, ModelLoadReached), "a model was loaded before the error"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    return lines[0]


# ---- help and version ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], ["list-plugins"], ["run"], ["train"], ["eval"]])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(command, flag, model_loads):
    result = invoke(*command, flag)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: ")
    assert model_loads == []


def test_main_help_lists_the_commands():
    out = invoke("--help").stdout
    for command in ("list-plugins", "run", "train", "eval"):
        assert command in out
    assert "--verbose" in out


def test_run_help_shows_method_benchmark_overwrite_and_overrides():
    out = invoke("run", "--help").stdout
    for fragment in ("--method", "--benchmark", "--overwrite", "KEY=VALUE", "retain_logs_path"):
        assert fragment in out


@pytest.mark.parametrize("command", ["train", "eval"])
def test_train_and_eval_take_no_method(command):
    out = invoke(command, "--help").stdout
    assert "--benchmark" in out
    assert "--method" not in out


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("unlearn, version ")


def test_unknown_command():
    result = invoke("unlearnify")
    assert result.exit_code == 2
    assert "unlearnify" in result.stderr


# ---- list-plugins ----------------------------------------------------------------------------------------------------


def test_list_plugins_table():
    result = invoke("list-plugins")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["plugin", "distribution", "version", "entry", "point", "provides"]
    assert set(lines[1]) <= {"-", " "}
    rows = {line.split()[0]: line for line in lines[2:]}
    assert {"models", "metrics", "tofu", "npo", "gradascent"} <= set(rows)
    assert "unlearn-tofu" in rows["tofu"] and "benchmarks: tofu" in rows["tofu"]
    assert "methods: NPO, SimNPO" in rows["npo"]
    assert "methods: GradAscent, GradDiff" in rows["gradascent"]
    assert "tiny-llama" in rows["models"]
    assert "FAILED" not in result.stdout


def test_list_plugins_json():
    result = invoke("list-plugins", "--json")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    assert isinstance(entries, list)
    keys = {"name", "distribution", "version", "entry_point", "provides", "error"}
    for entry in entries:
        assert set(entry) == keys
        assert isinstance(entry["provides"], dict)
    by_name = {e["name"]: e for e in entries}
    assert by_name["tofu"]["distribution"] == "unlearn-tofu"
    assert by_name["tofu"]["entry_point"] == "unlearn_tofu.plugin"
    assert by_name["tofu"]["provides"]["benchmarks"] == ["tofu"]
    assert by_name["npo"]["provides"]["methods"] == ["NPO", "SimNPO"]
    assert by_name["gradascent"]["version"]
    assert all(e["error"] is None for e in entries)


def test_list_plugins_respects_disabled_plugins(monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "npo")
    names = {e["name"] for e in json.loads(invoke("list-plugins", "--json").stdout)}
    assert "npo" not in names and "tofu" in names


def test_help_list_plugins_and_config_errors_do_not_import_torch():
    """What keeps ``unlearn --help``, ``list-plugins`` and bad-input errors fast: no torch/transformers import."""
    script = textwrap.dedent(
        """
        import sys
        from click.testing import CliRunner
        from unlearn_core.cli import main
        codes = [
            CliRunner().invoke(main, args).exit_code
            for args in (["--help"], ["list-plugins"], ["run", "-b", "tofu", "-m", "npo", "trainer.args.x=1"])
        ]
        print(codes, sorted(m for m in ("torch", "transformers") if m in sys.modules))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[0, 0, 2] []", done.stdout + done.stderr


# ---- errors before any model loads -----------------------------------------------------------------------------------


def test_unknown_benchmark(model_loads):
    result = invoke("run", "--benchmark", "nope", "--method", "npo")
    line = one_line_error(result)
    assert result.exit_code == 2
    assert "unknown benchmark 'nope'" in line and "tofu" in line
    assert model_loads == []


def test_unknown_benchmark_without_method(model_loads):
    result = invoke("run", "--benchmark", "nope")
    assert result.exit_code == 2
    assert "tofu" in one_line_error(result)
    assert model_loads == []


def test_unknown_method(model_loads):
    result = invoke("run", "--benchmark", "tofu", "--method", "nope")
    line = one_line_error(result)
    assert result.exit_code == 2
    assert "unknown method 'nope'" in line
    for name in ("GradAscent", "GradDiff", "NPO", "SimNPO"):
        assert name in line
    assert model_loads == []


def test_misspelled_method_gets_a_suggestion(model_loads):
    result = invoke("run", "--benchmark", "tofu", "--method", "GradDif")
    assert result.exit_code == 2
    assert "did you mean 'GradDiff'" in one_line_error(result)


def test_no_method(model_loads):
    result = invoke("run", "--benchmark", "tofu")
    assert result.exit_code == 2
    assert "--method" in one_line_error(result)


def test_no_benchmark(model_loads):
    result = invoke("eval")
    assert result.exit_code == 2
    assert "--benchmark" in one_line_error(result)


def test_unknown_override_key(model_loads):
    result = invoke("run", "--benchmark", "tofu", "--method", "npo", "trainer.args.learnin_rate=1e-5")
    line = one_line_error(result)
    assert result.exit_code == 2
    assert "trainer.args.learnin_rate" in line and "did you mean 'trainer.args.learning_rate'" in line
    assert model_loads == []


def test_bad_value_type(model_loads):
    result = invoke("train", "--benchmark", "tofu", "trainer.args.num_train_epochs=abc")
    assert result.exit_code == 2
    assert "trainer.args.num_train_epochs" in one_line_error(result)


def test_bad_override_syntax(model_loads):
    result = invoke("eval", "--benchmark", "tofu", "oops")
    assert result.exit_code == 2
    assert "KEY=VALUE" in one_line_error(result)


def test_unknown_split(model_loads):
    result = invoke("run", "-b", "tofu", "-m", "npo", "forget_split=forget11")
    assert result.exit_code == 2
    assert "forget01, forget05, forget10" in one_line_error(result)


def test_invalid_embedded_data_value(model_loads, tmp_path):
    result = invoke("run", "-b", "tofu", "-m", "npo", "data.embedded.n_authors=1", f"paths.output_dir={tmp_path / 'o'}")
    assert result.exit_code == 2
    assert "n_authors" in one_line_error(result)
    assert model_loads == []


@pytest.mark.parametrize("command", [["run", "-m", "npo"], ["eval"]])
def test_unknown_metric_is_an_error_before_any_model(model_loads, tmp_path, command):
    result = invoke(*command, "-b", "tofu", "eval.metrics=[nope]", f"paths.output_dir={tmp_path / 'o'}", *TINY)
    assert model_loads == []
    assert result.exit_code == 2
    assert "unknown metric 'nope'" in one_line_error(result)


# ---- output directory ------------------------------------------------------------------------------------------------


def test_non_empty_output_dir_is_refused_and_left_untouched(model_loads, tmp_path):
    out = tmp_path / "existing"
    out.mkdir()
    keep = out / "results.json"
    keep.write_text('{"precious": true}')
    result = invoke("run", "--benchmark", "tofu", "--method", "npo", f"paths.output_dir={out}")
    line = one_line_error(result)
    assert "--overwrite" in line and str(out) in line
    assert keep.read_text() == '{"precious": true}'
    assert sorted(p.name for p in out.iterdir()) == ["results.json"]
    assert model_loads == []


def test_output_path_that_is_a_file_is_refused(model_loads, tmp_path):
    out = tmp_path / "a_file"
    out.write_text("x")
    line = one_line_error(invoke("eval", "-b", "tofu", f"paths.output_dir={out}"))
    assert str(out) in line
    assert out.read_text() == "x"


def test_overwrite_passes_the_check_and_keeps_unrelated_files(model_loads, tmp_path):
    out = tmp_path / "existing"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = invoke("train", "--benchmark", "tofu", "--overwrite", f"paths.output_dir={out}", *TINY)
    assert isinstance(result.exception, ModelLoadReached), result.output
    assert (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "config.json").read_text())["mode"] == "train"


def test_default_output_dir_is_under_saves_in_the_working_directory(model_loads, tmp_path):
    result = invoke("train", "--benchmark", "tofu", *TINY)
    assert isinstance(result.exception, ModelLoadReached), result.output
    config = tmp_path / "saves" / "train" / "tofu_finetune_forget10" / "config.json"
    assert json.loads(config.read_text())["task_name"] == "tofu_finetune_forget10"


# ---- retain logs and model paths ----------------------------------------------------------------------------------


def test_missing_retain_logs_file(model_loads, tmp_path):
    result = invoke(
        "run", "-b", "tofu", "-m", "npo", "retain_logs_path=/nonexistent.json", f"paths.output_dir={tmp_path / 'o'}"
    )
    line = one_line_error(result)
    assert "/nonexistent.json" in line
    assert model_loads == []


def test_retain_logs_that_are_not_json(model_loads, tmp_path):
    logs = tmp_path / "TOFU_EVAL.json"
    logs.write_text("{not json")
    result = invoke("eval", "-b", "tofu", f"retain_logs_path={logs}", f"paths.output_dir={tmp_path / 'o'}")
    line = one_line_error(result)
    assert str(logs) in line and "JSON" in line
    assert model_loads == []


def test_retain_logs_missing_a_key(model_loads, tmp_path):
    logs = tmp_path / "TOFU_EVAL.json"
    logs.write_text(json.dumps({"forget_truth_ratio": {"agg_value": 0.5, "value_by_index": {}}}))
    result = invoke("eval", "-b", "tofu", f"retain_logs_path={logs}", f"paths.output_dir={tmp_path / 'o'}")
    line = one_line_error(result)
    assert "mia_min_k" in line and str(logs) in line
    assert model_loads == []


def test_retain_logs_from_another_split(model_loads, tmp_path):
    logs = tmp_path / "TOFU_EVAL.json"
    entries = {"forget_truth_ratio": {"agg_value": 0.5}, "mia_min_k": {"agg_value": 0.5}}
    manifest = {"benchmark": "tofu", "forget_split": "forget05", "holdout_split": "holdout05"}
    logs.write_text(json.dumps({**entries, "manifest": manifest}))
    result = invoke("eval", "-b", "tofu", f"retain_logs_path={logs}", f"paths.output_dir={tmp_path / 'o'}")
    line = one_line_error(result)
    assert "forget_split" in line and "forget05" in line and "forget10" in line
    assert model_loads == []


def valid_retain_logs(tmp_path: Path) -> Path:
    logs = tmp_path / "retain" / "TOFU_EVAL.json"
    logs.parent.mkdir()
    entry = {"agg_value": 0.5, "value_by_index": {"0": {"score": 0.5}}}
    mia = {"agg_value": 0.5, "auc": 0.5, "forget": {"agg_value": 0.1}, "holdout": {"agg_value": 0.1}}
    manifest = {
        "benchmark": "tofu",
        "forget_split": "forget10",
        "holdout_split": "holdout10",
        "data_split": None,
        "metric_definition_version": "1",
    }
    logs.write_text(json.dumps({"forget_truth_ratio": entry, "mia_min_k": mia, "manifest": manifest}))
    return logs


@pytest.mark.parametrize("command", [["run", "-m", "npo"], ["eval"]])
def test_missing_model_directory_is_named(tmp_path, command):
    logs = valid_retain_logs(tmp_path)
    result = invoke(
        *command,
        "-b",
        "tofu",
        "model.model_args.pretrained_model_name_or_path=/nonexistent",
        f"retain_logs_path={logs}",
        f"paths.output_dir={tmp_path / 'o'}",
    )
    line = one_line_error(result)
    assert "/nonexistent" in line


def test_missing_model_directory_says_not_found(tmp_path):
    logs = valid_retain_logs(tmp_path)
    result = invoke(
        "eval",
        "-b",
        "tofu",
        "model.model_args.pretrained_model_name_or_path=/nonexistent",
        f"retain_logs_path={logs}",
        f"paths.output_dir={tmp_path / 'o'}",
    )
    assert "model directory not found: /nonexistent" in one_line_error(result)


def test_model_directory_without_weights_is_named(tmp_path):
    logs = valid_retain_logs(tmp_path)
    empty = tmp_path / "empty_model"
    empty.mkdir()
    result = invoke(
        "eval",
        "-b",
        "tofu",
        f"model.model_args.pretrained_model_name_or_path={empty}",
        f"retain_logs_path={logs}",
        f"paths.output_dir={tmp_path / 'o'}",
    )
    assert str(empty) in one_line_error(result)


def test_verbose_reraises_for_the_traceback(model_loads):
    result = invoke("--verbose", "run", "--benchmark", "nope", "--method", "npo")
    assert result.exit_code != 0
    assert type(result.exception).__name__ == "UnknownNameError"
