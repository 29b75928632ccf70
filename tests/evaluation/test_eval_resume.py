"""An interrupted evaluation resumes entry by entry from its partial file, and ends equal to an uninterrupted one."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("unlearn_tofu")

from support.tiny_setup import TINY_TEMPLATE, texts_of, tiny_model_and_tokenizer, tofu_like_rows  # noqa: E402
from unlearn_tofu.suite import tofu_suite  # noqa: E402

from unlearn_core.evaluation.builtin import BUILTIN_METRICS  # noqa: E402
from unlearn_core.evaluation.partial import PartialResults, read_partial_file  # noqa: E402
from unlearn_core.pipeline.evaluate import evaluate_model  # noqa: E402
from unlearn_core.plugins import load_plugins  # noqa: E402

MANIFEST = {"benchmark": "tofu", "forget_split": "forget10", "holdout_split": "holdout10", "model": "tiny"}
REFERENCE = {
    "forget_truth_ratio": {"value_by_index": {str(i): {"score": 0.3 * (i + 1)} for i in range(4)}},
    "mia_min_k": {"auc": 0.4},
}


def eval_config(metrics: list[str] | None = None) -> dict[str, Any]:
    """The configuration keys ``evaluate_model`` reads."""
    return {
        "model": {"name": "tiny", "template_args": TINY_TEMPLATE, "model_args": {}},
        "data": {"max_length": 96},
        "trainer": {"args": {"per_device_eval_batch_size": 3}},
        "generation": {"max_new_tokens": 6, "batch_size": 3},
        "eval": {"metrics": metrics},
    }


METRICS = {m.name: m for m in BUILTIN_METRICS}


@pytest.fixture(scope="module")
def setting() -> tuple[Any, Any, Any]:
    data = tofu_like_rows()
    model, tokenizer = tiny_model_and_tokenizer(texts_of(data))
    return model, tokenizer, tofu_suite(data)


def evaluate(setting: tuple[Any, Any, Any], out_dir: Path, manifest: dict[str, Any] = MANIFEST) -> Any:
    model, tokenizer, suite = setting
    plugins = load_plugins(entry_points=False)
    return evaluate_model(
        model, tokenizer, eval_config(), suite, plugins, manifest=manifest, retain_logs=REFERENCE, out_dir=out_dir
    )


def test_resume_reuses_finished_entries_and_matches_an_uninterrupted_run(
    setting: tuple[Any, Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluate(setting, tmp_path / "whole")

    def interrupted(ctx: Any, entry: Any) -> Any:
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C in the last entry

    monkeypatch.setattr(METRICS["extraction_strength"], "compute", interrupted)
    with pytest.raises(KeyboardInterrupt):
        evaluate(setting, tmp_path / "resumed")
    partial = tmp_path / "resumed" / ".TOFU_EVAL.partial.jsonl"
    saved = read_partial_file(partial)[1]
    assert "forget_Q_A_ROUGE" in saved and "model_utility" in saved and "extraction_strength" not in saved
    assert not (tmp_path / "resumed" / "TOFU_EVAL.json").exists()
    monkeypatch.undo()

    calls: Counter[str] = Counter()
    for name in ("probability", "probability_normalised", "truth_ratio", "rouge", "extraction_strength", "mia_min_k"):
        original = METRICS[name].compute
        monkeypatch.setattr(METRICS[name], "compute", lambda ctx, e, f=original, n=name: calls.update([n]) or f(ctx, e))
    again = evaluate(setting, tmp_path / "resumed")
    assert calls == Counter({"extraction_strength": 1})  # nothing finished is computed again
    assert set(again.engine.reused) == set(saved)
    assert set(again.engine.scored) == {("forget", "answer", False)}  # only what the unfinished entry needs
    assert again.engine.decoding.generate_calls == 0
    assert not partial.exists()
    whole = json.loads((tmp_path / "whole" / "TOFU_EVAL.json").read_text())
    assert json.loads((tmp_path / "resumed" / "TOFU_EVAL.json").read_text()) == whole


def test_a_partial_file_of_another_setting_is_not_reused(
    setting: tuple[Any, Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(ctx: Any, entry: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(METRICS["extraction_strength"], "compute", interrupted)
    with pytest.raises(KeyboardInterrupt):
        evaluate(setting, tmp_path)
    monkeypatch.undo()
    with pytest.warns(UserWarning, match=r"not resuming .*manifest differ.*forget_split"):
        again = evaluate(setting, tmp_path, {**MANIFEST, "forget_split": "forget05"})
    assert again.engine.reused == []


def test_partial_file_appends_one_line_per_entry_and_skips_a_cut_last_line(tmp_path: Path) -> None:
    path = tmp_path / ".TOFU_EVAL.partial.jsonl"
    store = PartialResults(path, {"manifest": {"benchmark": "tofu"}})
    store.save({"a": {"agg_value": 1.0}})
    store.save({"a": {"agg_value": 1.0}, "b": {"agg_value": float("nan")}})
    lines = path.read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"resume_key": {"manifest": {"benchmark": "tofu"}}},
        {"entry": "a", "value": {"agg_value": 1.0}},
        {"entry": "b", "value": {"agg_value": None}},  # NaN is null, as in the result files
    ]
    with path.open("a") as f:
        f.write('{"entry": "c", "value": {"agg_v')  # interrupted while appending
    assert read_partial_file(path) == (
        {"manifest": {"benchmark": "tofu"}},
        {"a": {"agg_value": 1.0}, "b": {"agg_value": None}},
    )
    path.write_text("\n".join([*lines[:2], "not json", lines[2]]) + "\n")
    with pytest.raises(ValueError):
        read_partial_file(path)  # a broken line before the last is not an interruption: the file is unreadable
