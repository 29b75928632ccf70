"""Sweeps on the embedded tiny model, in this process: an interrupted sweep resumed, a shared target evaluation,
TensorBoard events read back with TensorBoard's own reader."""

from __future__ import annotations

import json
import os
import shlex
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from faultkit import STEPPY, TINY, assert_nothing_half_written

from unlearn_core.cli import main
from unlearn_core.plugins import load_plugins

pytestmark = pytest.mark.slow

BASE = ["run", "-b", "tofu", "-m", "npo", *TINY, *STEPPY, "trainer.args.num_train_epochs=2"]
BASE += ["trainer.args.save_strategy=steps", "trainer.args.save_steps=2", "trainer.args.eval_strategy=epoch"]
SWEEP = [*BASE, "task_name=grid", "--multirun", "trainer.args.learning_rate=1e-3,3e-3,1e-2"]
MICRO_BATCHES_PER_RUN = 12  # six forget samples, batch 1, two epochs


@dataclass
class SweepRuns:
    root: Path
    interrupted: Result
    resumed: Result
    before_resume: dict[str, Any]
    first_run_provenance: bytes

    @property
    def sweep(self) -> Path:
        return self.root / "saves/unlearn/grid"

    def read(self, relative: str) -> Any:
        return json.loads((self.sweep / relative).read_text())


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, offline_dir: Any) -> Iterator[Path]:
    """A working directory for this module's runs, offline, reusing the session's embedded models."""
    with offline_dir(tmp_path_factory.mktemp("sweeps")) as root:
        yield root


def sigint_on_call(patch: pytest.MonkeyPatch, cls: Any, attribute: str, call: int) -> None:
    """SIGINT to this process on the ``call``-th call of ``cls.attribute``."""
    original, calls = getattr(cls, attribute), {"n": 0}

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == call:
            os.kill(os.getpid(), signal.SIGINT)
        return original(*args, **kwargs)

    patch.setattr(cls, attribute, wrapped)


@pytest.fixture(scope="module")
def grid(workspace: Path) -> SweepRuns:
    """Three learning rates; SIGINT in the middle of the second run; then ``--resume``."""
    npo = load_plugins().methods.get("npo")
    with pytest.MonkeyPatch.context() as patch:
        sigint_on_call(patch, npo, "compute_loss", MICRO_BATCHES_PER_RUN + 7)  # run 1, in its step 4
        interrupted = CliRunner().invoke(main, SWEEP)
    sweep = workspace / "saves/unlearn/grid"
    before = json.loads((sweep / "sweep.json").read_text())
    provenance = (sweep / "0/provenance.json").read_bytes()
    resumed = CliRunner().invoke(main, [*SWEEP, "--resume"])
    return SweepRuns(workspace, interrupted, resumed, before, provenance)


def test_an_interrupted_sweep_says_how_to_resume_it(grid):
    assert grid.interrupted.exit_code == 130, grid.interrupted.output
    line = grid.interrupted.stderr.strip().splitlines()[-1]
    assert "stopped by SIGINT after step 4 of 6; checkpoint saved: saves/unlearn/grid/1/checkpoints/step-4" in line
    overrides = [o for o in SWEEP[5:] if o != "--multirun"]
    command = ["unlearn", "run", "--benchmark", "tofu", "--method", "npo", *overrides, "--multirun", "--resume"]
    assert line.endswith("resume with: " + shlex.join(command))
    assert [run["status"] for run in grid.before_resume["runs"]] == ["finished", "interrupted", "pending"]


def test_resume_skips_the_finished_run_and_continues_the_interrupted_one(grid):
    assert grid.resumed.exit_code == 0, grid.resumed.output
    assert (grid.sweep / "0/provenance.json").read_bytes() == grid.first_run_provenance
    assert "[sweep grid 2/3: run 1] learning_rate=3e-3, continuing from its checkpoint" in grid.resumed.stderr
    assert "run 0]" not in grid.resumed.stderr
    provenance = grid.read("1/provenance.json")
    assert provenance["status"] == "finished" and provenance["resumed_from"] == [4] and provenance["steps"] == 6
    steps = [json.loads(line)["step"] for line in (grid.sweep / "1/train_log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert_nothing_half_written(grid.sweep)


def test_sweep_json_lists_every_run_with_its_settings_and_summary(grid):
    record = grid.read("sweep.json")
    assert record["mode"] == "unlearn" and record["benchmark"] == "tofu" and record["method"] == "NPO"
    assert record["swept"] == {"trainer.args.learning_rate": ["1e-3", "3e-3", "1e-2"]}
    assert set(record["reference"]) == {"target", "retain"}
    assert [run["status"] for run in record["runs"]] == ["finished"] * 3
    for n, run in enumerate(record["runs"]):
        assert run["directory"] == str(n) and run["settings"] == {
            "trainer.args.learning_rate": ["1e-3", "3e-3", "1e-2"][n]
        }
        summary = run["summary"]["unlearned"]
        assert summary == grid.read(f"{n}/evals/TOFU_SUMMARY.json")
        config = grid.read(f"{n}/config.json")
        assert (
            config["task_name"] == f"grid/{n}" and config["trainer"]["args"]["learning_rate"] == [1e-3, 3e-3, 1e-2][n]
        )
    assert grid.read("2/provenance.json")["command"].endswith("task_name=grid/2 paths.output_dir=saves/unlearn/grid/2")


def test_sweep_md_and_the_printed_table_show_the_runs(grid):
    markdown = (grid.sweep / "sweep.md").read_text()
    assert "3 runs: 3 finished." in markdown
    assert "| run | status | learning_rate | forget_quality | model_utility |" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert [row.split("|")[1].strip() for row in rows[1:]] == ["target", "retain", "0", "1", "2"]
    printed = grid.resumed.stdout.splitlines()
    assert printed[1].split()[:4] == ["run", "status", "learning_rate", "forget_quality"]
    assert "Output: saves/unlearn/grid (3 runs in saves/unlearn/grid/<n>)" in grid.resumed.stdout


def test_a_finished_sweep_resumed_again_runs_nothing(grid, workspace):
    again = CliRunner().invoke(main, [*SWEEP, "--resume"])
    assert again.exit_code == 0, again.output
    assert "[sweep" not in again.stderr
    assert (grid.sweep / "0/provenance.json").read_bytes() == grid.first_run_provenance


def test_a_sweep_over_a_finished_one_needs_overwrite_or_resume(grid):
    result = CliRunner().invoke(main, SWEEP)
    assert result.exit_code == 1
    assert "is not empty: pass --overwrite" in result.stderr
    changed = CliRunner().invoke(main, [*SWEEP[:-1], "trainer.args.learning_rate=1e-3,3e-3", "--resume"])
    assert changed.exit_code == 2 and "had other combinations" in changed.stderr


def test_progress_in_a_non_terminal_is_a_few_lines_per_phase(grid):
    stderr = grid.resumed.stderr
    assert "\r" not in stderr
    lines = stderr.splitlines()
    assert len(lines) <= 12, stderr  # two runs: a sweep line, then training, generation and evaluation lines
    assert sum(line.startswith("unlearn tofu with NPO: done, 6/6 steps") for line in lines) == 2


# ---- a real (non-embedded) target model: evaluated once for the sweep; TensorBoard ----------------------------------


@pytest.fixture(scope="module")
def shared(workspace: Path) -> Path:
    """Two runs from a target model given by path, logging to TensorBoard."""
    from unlearn_core.config import resolve_config
    from unlearn_core.pipeline.embedded import EmbeddedBuilder

    plugins = load_plugins()
    cfg = resolve_config("unlearn", plugins, benchmark="tofu", method="npo", overrides=TINY)
    models = EmbeddedBuilder(plugins.benchmarks.get("tofu"), cfg.values, plugins).all()  # cached: no build
    given = [
        f"model.model_args.pretrained_model_name_or_path={models.target}",
        f"retain_logs_path={models.retain_eval}",
        *TINY,
        "data.max_length=128",
        "trainer.args.bf16=false",
        "trainer.args.optim=adamw_torch",
        "trainer.args.learning_rate=1e-3",
        "trainer.args.per_device_train_batch_size=2",
        "trainer.args.gradient_accumulation_steps=1",
        "trainer.args.num_train_epochs=2",
        "trainer.args.eval_strategy=epoch",
        "trainer.args.report_to=[tensorboard]",
        "eval.metrics=[forget_Q_A_Prob,forget_quality]",
    ]
    result = CliRunner().invoke(
        main,
        ["run", "-b", "tofu", "-m", "npo", *given, "task_name=real", "--multirun", "trainer.method_args.beta=0.1,0.5"],
    )
    assert result.exit_code == 0, result.output
    return workspace / "saves/unlearn/real"


def test_the_target_model_is_evaluated_once_for_the_whole_sweep(shared):
    first, second = (json.loads((shared / f"{n}/provenance.json").read_text()) for n in (0, 1))
    assert "eval_target" in first["timings"] and "eval_target" not in second["timings"]
    assert first["target_evaluation"] == second["target_evaluation"]
    assert Path(first["target_evaluation"]).parent == Path("saves/unlearn/real/target_evaluations")
    assert (shared.parents[2] / first["target_evaluation"] / "TOFU_SUMMARY.json").is_file()
    tables = [json.loads((shared / f"{n}/summary_table.json").read_text()) for n in (0, 1)]
    assert tables[0]["rows"]["target"] == tables[1]["rows"]["target"] and tables[0]["rows"]["target"]
    assert tables[0]["rows"]["retain"]["forget_quality"] == 1.0


def test_tensorboard_events_hold_hf_trainer_keys(shared):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    logs = shared / "0/runs"
    events = event_accumulator.EventAccumulator(str(logs))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    expected = {"train/loss", "train/learning_rate", "train/grad_norm", "train/epoch", "train/forget_loss"}
    assert expected | {"train/retain_loss", "eval/forget_quality", "eval/forget_Q_A_Prob"} <= scalars
    records = [json.loads(line) for line in (shared / "0/train_log.jsonl").read_text().splitlines()]
    loss = events.Scalars("train/loss")
    assert [e.step for e in loss] == [r["step"] for r in records]
    assert [e.value for e in loss] == pytest.approx([r["loss"] for r in records], rel=1e-6)
    evaluations = [json.loads(line) for line in (shared / "0/eval_log.jsonl").read_text().splitlines()]
    assert [e.step for e in events.Scalars("eval/forget_quality")] == [r["step"] for r in evaluations]
    assert list(logs.rglob("hparams.yml")), "the configuration is recorded as hyperparameters"
