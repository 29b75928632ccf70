"""Output-directory faults through the CLI: bad inputs leave nothing behind, --overwrite and --resume, disk errors."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from faultkit import TINY, assert_nothing_half_written, snapshot

import unlearn_core.pipeline.commands as commands
import unlearn_core.pipeline.embedded as embedded
from unlearn_core.cli import main
from unlearn_core.errors import DataError, OutputDirError
from unlearn_core.pipeline.outputs import begin_run, current_run, save_model_atomic


class ModelLoadReached(Exception):
    """The command got past validation to loading or building a model."""


@pytest.fixture
def stop_at_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def reached(*args: Any, **kwargs: Any) -> Any:
        raise ModelLoadReached()

    monkeypatch.setattr(commands, "load_model_and_tokenizer", reached)
    monkeypatch.setattr(embedded, "build_tiny_llama", reached)
    monkeypatch.setattr(embedded, "train_tokenizer", reached)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def error_line(result: Result, code: int) -> str:
    assert result.exit_code == code, result.output
    assert not isinstance(result.exception, ModelLoadReached)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def previous_run(out: Path) -> dict[str, bytes]:
    """A finished run's files plus a file of the user's; returns their bytes."""
    (out / "checkpoints" / "step-2").mkdir(parents=True)
    (out / "checkpoints" / "step-2" / ".complete").write_text("ok\n")
    (out / "evals").mkdir()
    (out / "evals" / "TOFU_SUMMARY.json").write_text('{"forget_quality": 0.5}')
    (out / "config.json").write_text('{"mode": "unlearn"}')
    (out / "provenance.json").write_text('{"seed": 0}')
    (out / "train_log.jsonl").write_text('{"step": 1, "loss": 1.0}\n')
    (out / "eval_log.jsonl").write_text('{"step": 1}\n')
    (out / "notes.txt").write_text("mine")
    return snapshot(out)


def test_bad_retain_logs_leave_no_directory_and_the_fixed_rerun_needs_no_overwrite(workdir, stop_at_model):
    out = workdir / "saves" / "new_run"
    result = invoke("run", "-b", "tofu", "-m", "npo", "retain_logs_path=/nonexistent.json", f"paths.output_dir={out}")
    assert "/nonexistent.json" in error_line(result, 1)
    assert not out.exists() and not (workdir / "saves").exists()
    fixed = invoke("run", "-b", "tofu", "-m", "npo", f"paths.output_dir={out}", *TINY)
    assert isinstance(fixed.exception, ModelLoadReached), fixed.output


def test_a_failed_setup_keeps_an_existing_empty_directory_empty(workdir):
    out = workdir / "empty"
    out.mkdir()
    result = invoke("eval", "-b", "tofu", "retain_logs_path=/nonexistent.json", f"paths.output_dir={out}")
    error_line(result, 1)
    assert out.is_dir() and list(out.iterdir()) == []


def test_model_errors_after_the_directory_opened_remove_what_the_run_wrote(workdir, monkeypatch):
    def bad_model(*args: Any, **kwargs: Any) -> Any:
        raise DataError("model directory not found: /nowhere")

    monkeypatch.setattr(commands, "load_model_and_tokenizer", bad_model)
    out = workdir / "o"
    model_path = "model.model_args.pretrained_model_name_or_path=/nowhere"
    result = invoke("eval", "-b", "tofu", model_path, "eval.metrics=[forget_Q_A_Prob]", f"paths.output_dir={out}")
    assert "/nowhere" in error_line(result, 1)
    assert not out.exists()


def test_overwrite_with_a_bad_input_loses_nothing_of_the_previous_run(workdir):
    out = workdir / "run"
    out.mkdir()
    before = previous_run(out)
    result = invoke(
        "run", "-b", "tofu", "-m", "npo", "--overwrite", "retain_logs_path=/x.json", f"paths.output_dir={out}"
    )
    error_line(result, 1)
    assert snapshot(out) == before
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["checkpoints", "evals", "config.json", "provenance.json", "train_log.jsonl", "eval_log.jsonl", "notes.txt"]
    )


def test_overwrite_replaces_every_output_of_the_previous_run_and_keeps_other_files(workdir):
    out = workdir / "run"
    out.mkdir()
    previous_run(out)
    run = begin_run(out, {"mode": "train", "new": True}, overwrite=True, resume=False)
    with current_run(out).setup():
        pass
    assert run.committed
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "notes.txt"]
    assert json.loads((out / "config.json").read_text()) == {"mode": "train", "new": True}
    assert (out / "notes.txt").read_text() == "mine"


def test_non_empty_directory_names_both_ways_out(workdir):
    out = workdir / "run"
    out.mkdir()
    before = previous_run(out)
    line = error_line(invoke("train", "-b", "tofu", f"paths.output_dir={out}"), 1)
    assert "--overwrite" in line and "--resume" in line and str(out) in line
    assert snapshot(out) == before


def test_resume_and_overwrite_together_are_refused(workdir):
    line = error_line(invoke("train", "-b", "tofu", "--resume", "--overwrite", "paths.output_dir=o"), 2)
    assert "--resume" in line and "--overwrite" in line
    assert not (workdir / "o").exists()


def test_resume_of_a_directory_without_a_run(workdir):
    line = error_line(invoke("run", "-b", "tofu", "-m", "npo", "--resume", "paths.output_dir=never"), 1)
    assert "nothing to resume in never" in line
    assert not (workdir / "never").exists()


def test_resume_without_a_checkpoint_and_with_another_configuration(workdir, stop_at_model):
    args = ["train", "-b", "tofu", "paths.output_dir=o", *TINY]
    assert isinstance(invoke(*args).exception, ModelLoadReached)  # leaves config.json, as a crash would
    before = snapshot(workdir / "o")
    line = error_line(invoke(*args, "--resume"), 1)
    assert "nothing to resume in o: no complete checkpoint in o/checkpoints" in line
    (workdir / "o" / "checkpoints" / "step-3").mkdir(parents=True)
    (workdir / "o" / "checkpoints" / "step-3" / ".complete").write_text("ok\n")
    line = error_line(invoke(*args, "trainer.args.learning_rate=0.5", "--resume"), 2)
    assert "configuration differs" in line and "trainer.args.learning_rate" in line
    assert {k: v for k, v in snapshot(workdir / "o").items() if k in before} == before


def test_checkpoint_settings_are_checked_before_anything_is_created(workdir):
    cases = [
        (["trainer.args.save_strategy=steps"], "save_steps"),
        (["trainer.args.load_best_model_at_end=true"], "metric_for_best_model"),
        (["trainer.args.metric_for_best_model=forget_quality"], "eval_strategy"),
        (["trainer.args.skip_nonfinite_steps=-1"], "skip_nonfinite_steps"),
    ]
    for overrides, named in cases:
        line = error_line(invoke("run", "-b", "tofu", "-m", "npo", "paths.output_dir=o", *overrides), 2)
        assert named in line
    assert not (workdir / "o").exists()


def test_unknown_best_metric_is_an_error_naming_the_choices(workdir, stop_at_model, monkeypatch):
    monkeypatch.setattr(commands, "plan_evaluation", _plan_without_models)
    overrides = ["trainer.args.eval_strategy=epoch", "trainer.args.metric_for_best_model=forget_qualty"]
    line = error_line(invoke("run", "-b", "tofu", "-m", "npo", "paths.output_dir=o", *TINY, *overrides), 2)
    assert "forget_qualty" in line and "forget_quality" in line
    assert not (workdir / "o").exists()


def _plan_without_models(cfg: Any, plugins: Any, benchmark: str) -> Any:
    from types import SimpleNamespace

    bench = plugins.benchmarks.get(benchmark)
    return SimpleNamespace(suite=bench.eval_suite(cfg.values), bench=bench)


def test_disk_full_while_opening_the_run_is_one_line_and_leaves_nothing(workdir, monkeypatch):
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    line = error_line(invoke("train", "-b", "tofu", "paths.output_dir=saves/x"), 1)
    assert line == "Error: cannot write saves/x/config.json: no space left on device"
    assert not (workdir / "saves").exists()


def test_permission_denied_on_the_output_directory(workdir, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    line = error_line(invoke("train", "-b", "tofu", "paths.output_dir=saves/x"), 1)
    assert "saves/x" in line and "permission denied" in line
    assert not (workdir / "saves").exists()


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "Error: cannot write o: no space left on device"),
        (PermissionError(errno.EACCES, "Permission denied", "/data/x.jsonl"), "Error: cannot access /data/x.jsonl: "),
        (OSError(errno.EDQUOT, "Disk quota exceeded", "o/model"), "Error: cannot write o/model: disk quota exceeded"),
    ],
)
def test_os_errors_are_reported_as_such_without_traceback(workdir, monkeypatch, error, expected):
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(commands, "_start_model", lambda *args: "start-model")
    monkeypatch.setattr(commands, "load_model_and_tokenizer", fail)
    line = error_line(invoke("train", "-b", "tofu", "paths.output_dir=o", *TINY), 1)
    assert line.startswith(expected)


class _Model:
    """Writes part of its weights, then fails as safetensors does on a full disk."""

    def save_pretrained(self, path: Path, safe_serialization: bool = True) -> None:
        (Path(path) / "model.safetensors").write_bytes(b"partial")
        raise RuntimeError('Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space" })')


class _Tokenizer:
    def save_pretrained(self, path: Path) -> None:
        raise AssertionError("not reached")


def test_disk_full_while_saving_the_model_keeps_the_previous_model(tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "model.safetensors").write_bytes(b"finished weights")
    with pytest.raises(OutputDirError) as failed:
        save_model_atomic(_Model(), _Tokenizer(), model_dir)
    assert str(failed.value) == f"cannot write {model_dir}: no space left on device"
    assert (model_dir / "model.safetensors").read_bytes() == b"finished weights"
    assert_nothing_half_written(tmp_path)
