"""Faults through the real pipeline (embedded tiny model, in this process): resume, NaN, best model, --overwrite."""

from __future__ import annotations

import json
import shlex
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from faultkit import STEPPY, TINY, assert_nothing_half_written, signal_on_call
from safetensors.torch import load_file

import unlearn_core.training.loop as loop
from unlearn_core.cli import main
from unlearn_core.pipeline.api import run
from unlearn_core.plugins import load_plugins
from unlearn_core.training.checkpoint import complete_checkpoints
from unlearn_core.training.signals import TrainingInterrupted

pytestmark = pytest.mark.slow

CHECKPOINTED = [*TINY, *STEPPY, "trainer.args.num_train_epochs=3", "trainer.args.save_strategy=steps"]
CHECKPOINTED += ["trainer.args.save_steps=2"]


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path / "model" / "model.safetensors"))


def assert_same_files(a: Path, b: Path, *names: str) -> None:
    for name in names:
        assert (a / name).read_text() == (b / name).read_text(), name


def test_sigterm_then_resume_gives_the_uninterrupted_weights_metrics_and_logs(cached_workdir, monkeypatch):
    plugins = load_plugins()
    overrides = [*CHECKPOINTED, "trainer.args.eval_strategy=epoch"]
    run("unlearn", benchmark="tofu", method="npo", overrides=[*overrides, "paths.output_dir=a"], plugins=plugins)
    npo = plugins.methods.get("npo")
    with monkeypatch.context() as patch:
        signal_on_call(patch, npo, "compute_loss", 8, signal.SIGTERM)  # last micro-batch of step 4, mid-epoch 2
        with pytest.raises(TrainingInterrupted) as stopped:
            run(
                "unlearn", benchmark="tofu", method="npo", overrides=[*overrides, "paths.output_dir=b"], plugins=plugins
            )
    assert stopped.value.exit_code == 143 and "after step 4 of 9" in str(stopped.value)
    b = cached_workdir / "b"
    assert not (b / "model").exists() and not (b / "evals").exists()
    assert json.loads((b / "provenance.json").read_text())["status"] == "interrupted"
    assert_nothing_half_written(b)

    run(
        "unlearn",
        benchmark="tofu",
        method="npo",
        overrides=[*overrides, "paths.output_dir=b"],
        plugins=plugins,
        resume=True,
    )
    a = cached_workdir / "a"
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert_same_files(a, b, "evals/TOFU_SUMMARY.json", "train_log.jsonl", "eval_log.jsonl")
    provenance = json.loads((b / "provenance.json").read_text())
    assert provenance["resumed_from"] == [4] and provenance["status"] == "finished"
    assert provenance["config_hash"] == json.loads((a / "provenance.json").read_text())["config_hash"]
    assert_nothing_half_written(b)
    verdict = CliRunner().invoke(main, ["diff", str(a), str(b)])
    assert verdict.exit_code == 0, verdict.output


def test_nan_loss_through_the_cli_keeps_the_last_good_checkpoint(cached_workdir, monkeypatch):
    npo = load_plugins().methods.get("npo")
    original = npo.compute_loss
    calls = {"n": 0}

    def nan_on_call_7(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        out = original(self, *args, **kwargs)
        if calls["n"] == 7:
            out.loss = out.loss * float("nan")
            out.terms["forget_loss"] = float("nan")
        return out

    monkeypatch.setattr(npo, "compute_loss", nan_on_call_7)
    result = CliRunner().invoke(main, ["run", "-b", "tofu", "-m", "npo", "paths.output_dir=o", *CHECKPOINTED])
    assert result.exit_code == 1, result.output
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("Error: non-finite loss at step 4 (epoch 2): loss=nan, forget_loss=nan, retain_loss=")
    assert "the last good checkpoint is o/checkpoints/step-2" in line
    out = cached_workdir / "o"
    assert [step for step, _ in complete_checkpoints(out)] == [2]
    assert not (out / "model").exists()
    assert json.loads((out / "provenance.json").read_text())["status"] == "failed"
    assert_nothing_half_written(out)


def test_best_model_by_forget_quality_is_kept_and_loaded_at_end(cached_workdir):
    overrides = [
        *CHECKPOINTED,
        "trainer.args.save_total_limit=1",
        "trainer.args.eval_strategy=steps",
        "trainer.args.eval_steps=2",
        "trainer.args.metric_for_best_model=forget_quality",
        "trainer.args.load_best_model_at_end=true",
        "paths.output_dir=o",
    ]
    run("unlearn", benchmark="tofu", method="npo", overrides=overrides)
    out = cached_workdir / "o"
    evaluations = [json.loads(line) for line in (out / "eval_log.jsonl").read_text().splitlines()]
    best = max(evaluations, key=lambda r: r["forget_quality"])  # the first of equal values wins
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["best"] == {"metric": "forget_quality", "value": best["forget_quality"], "step": best["step"]}
    kept = [step for step, _ in complete_checkpoints(out)]
    assert best["step"] in kept and 9 in kept
    saved = load_file(str(out / "checkpoints" / f"step-{best['step']}" / "model.safetensors"))
    final = weights(out)
    assert all(torch.equal(final[k], saved[k]) for k in final)


def test_overwrite_leaves_no_stale_checkpoints_logs_or_evals(cached_workdir):
    first = [*CHECKPOINTED, "trainer.args.eval_strategy=epoch", "paths.output_dir=o"]
    run("unlearn", benchmark="tofu", method="npo", overrides=first)
    out = cached_workdir / "o"
    (out / "notes.txt").write_text("mine")
    assert (out / "checkpoints").is_dir() and (out / "eval_log.jsonl").is_file()
    run("unlearn", benchmark="tofu", method="gradascent", overrides=[*TINY, "paths.output_dir=o"], overwrite=True)
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "config.json",
        "evals",
        "model",
        "notes.txt",
        "provenance.json",
        "summary_table.json",
        "train_log.jsonl",
    ]
    assert json.loads((out / "config.json").read_text())["trainer"]["name"] == "GradAscent"
    assert_nothing_half_written(out)


def test_train_command_sigint_then_resume(cached_workdir, monkeypatch):
    overrides = [*TINY, "trainer.args.num_train_epochs=2", "trainer.args.save_strategy=epoch"]
    run("train", benchmark="tofu", overrides=[*overrides, "paths.output_dir=a"])
    with monkeypatch.context() as patch:
        signal_on_call(patch, loop, "_finetune_loss", 5, signal.SIGINT)
        with pytest.raises(TrainingInterrupted) as stopped:
            run("train", benchmark="tofu", overrides=[*overrides, "paths.output_dir=b"])
    assert stopped.value.exit_code == 130
    run("train", benchmark="tofu", overrides=[*overrides, "paths.output_dir=b"], resume=True)
    wa, wb = weights(cached_workdir / "a"), weights(cached_workdir / "b")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_sigint_through_the_cli_prints_the_resume_command(cached_workdir, monkeypatch):
    npo = load_plugins().methods.get("npo")
    signal_on_call(monkeypatch, npo, "compute_loss", 7, signal.SIGINT)
    overrides = [*CHECKPOINTED, "paths.output_dir=o"]
    result = CliRunner().invoke(main, ["run", "-b", "tofu", "-m", "npo", *overrides])
    assert result.exit_code == 130, result.output
    line = result.stderr.strip().splitlines()[-1]
    expected = "Error: stopped by SIGINT after step 4 of 9; checkpoint saved: o/checkpoints/step-4; resume with: "
    assert line == expected + shlex.join(
        ["unlearn", "run", "--benchmark", "tofu", "--method", "npo", *overrides, "--resume"]
    )
    assert_nothing_half_written(cached_workdir / "o")
