"""``unlearn report``: every aggregate of a saved EVAL.json recomputed without the model; disagreements named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("unlearn_tofu")

from support.tiny_setup import TINY_TEMPLATE, texts_of, tiny_model_and_tokenizer, tofu_like_rows  # noqa: E402
from unlearn_tofu.suite import tofu_suite  # noqa: E402

from unlearn_core.cli_report import report  # noqa: E402
from unlearn_core.pipeline.evaluate import evaluate_model  # noqa: E402
from unlearn_core.plugins import load_plugins  # noqa: E402
from unlearn_core.training.diskio import write_json  # noqa: E402

MANIFEST = {"benchmark": "tofu", "forget_split": "forget10", "holdout_split": "holdout10", "data_split": None}
RETAIN = {
    "forget_truth_ratio": {"value_by_index": {str(i): {"score": 0.25 * (i + 1)} for i in range(4)}},
    "mia_min_k": {"auc": 0.45, "agg_value": 0.45},
    "manifest": MANIFEST,
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A finished evaluation of every TOFU entry but gradnorm, and the retain logs it was compared with."""
    root = tmp_path_factory.mktemp("report")
    data = tofu_like_rows()
    model, tokenizer = tiny_model_and_tokenizer(texts_of(data))
    suite = tofu_suite(data)
    retain = root / "retain" / "TOFU_EVAL.json"
    write_json(retain, RETAIN)
    keys = [k for k, e in suite.entries.items() if e.metric not in ("mia_gradnorm", "classifier_prob")]
    cfg = {
        "model": {"name": "tiny", "template_args": TINY_TEMPLATE, "model_args": {}},
        "data": {"max_length": 96},
        "trainer": {"args": {"per_device_eval_batch_size": 3}},
        "generation": {"max_new_tokens": 6, "batch_size": 3},
        "eval": {"metrics": keys},
    }
    evaluate_model(
        model,
        tokenizer,
        cfg,
        suite,
        load_plugins(entry_points=False),
        manifest=MANIFEST,
        retain_logs=RETAIN,
        out_dir=root / "run",
        mia_reference=model,
    )
    return root / "run", retain


def invoke(*args: str) -> Any:
    return CliRunner().invoke(report, list(args))


def tampered(run: Path, tmp_path: Path, change: Any) -> Path:
    results = json.loads((run / "TOFU_EVAL.json").read_text())
    change(results)
    path = tmp_path / "TOFU_EVAL.json"
    path.write_text(json.dumps(results))
    return path


def test_every_stored_aggregate_is_reproduced(run_dir: tuple[Path, Path]) -> None:
    run, retain = run_dir
    result = invoke(str(run), "--retain-logs", str(retain))
    assert result.exit_code == 0, result.output
    entries = len(json.loads((run / "TOFU_EVAL.json").read_text())) - 1
    assert f"all {entries} recomputed entries agree with the stored values" in result.output
    assert "forget_quality" in result.output and "skipped" not in result.output


def test_json_output(run_dir: tuple[Path, Path]) -> None:
    run, retain = run_dir
    rows = json.loads(invoke(str(run / "TOFU_EVAL.json"), "--retain-logs", str(retain), "--json").output)
    by_key = {r["key"]: r for r in rows}
    assert by_key["model_utility"]["status"] == "ok"
    assert by_key["forget_truth_ratio"]["recomputed"] == pytest.approx(by_key["forget_truth_ratio"]["stored"])


def test_a_changed_aggregate_is_named(run_dir: tuple[Path, Path], tmp_path: Path) -> None:
    run, retain = run_dir
    path = tampered(run, tmp_path, lambda r: r["forget_Q_A_Prob"].update(agg_value=0.5))
    result = invoke(str(path), "--retain-logs", str(retain))
    assert result.exit_code == 1
    assert "1 of" in result.output and "disagree with the stored values: forget_Q_A_Prob" in result.output


def test_a_per_sample_value_that_does_not_follow_from_its_inputs_is_flagged(
    run_dir: tuple[Path, Path], tmp_path: Path
) -> None:
    run, retain = run_dir
    path = tampered(run, tmp_path, lambda r: r["forget_truth_ratio"]["value_by_index"]["0"].update(correct_avg_loss=9))
    result = invoke(str(path), "--retain-logs", str(retain), "--json")
    by_key = {r["key"]: r for r in json.loads(result.output)}
    assert result.exit_code == 1
    assert by_key["forget_truth_ratio"]["status"] == "differs"
    assert by_key["forget_truth_ratio"]["per_sample_differences"] >= 1


def test_without_retain_logs_forget_quality_is_skipped_and_privleak_uses_the_stored_auc(
    run_dir: tuple[Path, Path],
) -> None:
    run, _ = run_dir
    rows = {r["key"]: r for r in json.loads(invoke(str(run), "--json").output)}
    assert rows["forget_quality"]["status"] == "skipped" and "--retain-logs" in rows["forget_quality"]["note"]
    assert rows["privleak"]["status"] == "ok" and "as stored" in rows["privleak"]["note"]


def test_retain_logs_of_another_split_are_refused(run_dir: tuple[Path, Path], tmp_path: Path) -> None:
    run, _ = run_dir
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**RETAIN, "manifest": {**MANIFEST, "forget_split": "forget05"}}))
    result = invoke(str(run), "--retain-logs", str(other))
    assert result.exit_code == 2 and "forget_split='forget05'" in result.output


def test_registered_on_the_main_command() -> None:
    from unlearn_core.cli import main

    result = CliRunner().invoke(main, ["report", "--help"])
    assert result.exit_code == 0 and "--retain-logs" in result.output
