"""A third benchmark, written on the toolkit in about 100 lines (``toy_benchmark``), runs ``unlearn run`` and
``unlearn eval`` end to end through the same pipeline as TOFU and MUSE, and its names are checked as theirs are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from toy_benchmark import ToyBenchmark, ToyPlugin

from unlearn_core import run
from unlearn_core.config import resolve_config
from unlearn_core.errors import ConfigError
from unlearn_core.plugins import Plugins, load_plugins


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    return load_plugins([ToyPlugin()])


@pytest.mark.slow
def test_unlearn_run_and_eval_end_to_end(plugins: Plugins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNLEARN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    result = run(
        "unlearn", benchmark="toy", method="npo", plugins=plugins, overrides=["trainer.args.num_train_epochs=3"]
    )
    assert list(result.rows) == ["target", "retain", "unlearned"]
    target, retain, unlearned = (result.rows[k] for k in ("target", "retain", "unlearned"))
    assert target["forget_Q_A_Prob"] > retain["forget_Q_A_Prob"]  # the target learned the forget people
    assert unlearned["forget_Q_A_Prob"] < target["forget_Q_A_Prob"]  # and unlearning removed some of it
    assert retain["forget_quality"] == 1.0 and 0.0 <= unlearned["forget_quality"] <= 1.0
    out = tmp_path / "saves" / "unlearn" / "toy_NPO"
    summary = json.loads((out / "evals" / "TOY_SUMMARY.json").read_text())
    assert list(summary) == ToyBenchmark.default_keys
    evaluated = run(
        "eval",
        benchmark="toy",
        plugins=plugins,
        overrides=[f"model.model_args.pretrained_model_name_or_path={out / 'model'}", "eval.metrics=[forget_Q_A_Prob]"],
    )
    assert evaluated.rows["evaluated"]["forget_Q_A_Prob"] == pytest.approx(unlearned["forget_Q_A_Prob"], rel=1e-4)


def test_names_are_checked_like_the_built_in_benchmarks(plugins: Plugins) -> None:
    with pytest.raises(ConfigError, match="data.forget: unknown toy data set 'TOY_forgot'.*TOY_forget"):
        resolve_config("unlearn", plugins, benchmark="toy", method="npo", overrides=["data.forget=TOY_forgot"])
    with pytest.raises(ConfigError, match="'forget_split' is a setting of benchmark .*tofu.*not of toy"):
        resolve_config("unlearn", plugins, benchmark="toy", method="npo", overrides=["forget_split=forget05"])
    with pytest.raises(ConfigError, match="data.forget=TOFU_QA_forget is a data set of benchmark 'tofu'"):
        resolve_config("unlearn", plugins, benchmark="toy", method="npo", overrides=["data.forget=TOFU_QA_forget"])
    cfg = resolve_config("unlearn", plugins, benchmark="toy", method="npo", overrides=["data.embedded.n_people=6"])
    forget, retain = plugins.benchmarks.get("toy").unlearn_data(cfg.values, _template())
    assert (len(forget), len(retain)) == (2, 4)


def _template():
    from unlearn_core.models.tiny import train_tokenizer
    from unlearn_core.token_rules import PromptTemplate

    tokenizer = train_tokenizer(["What is Ada's favourite colour?", "Ada's favourite colour is red."] * 4, 300)
    return PromptTemplate(
        tokenizer,
        {
            "apply_chat_template": False,
            "user_start_tag": "Q: ",
            "user_end_tag": "\n",
            "asst_start_tag": "A:",
            "asst_end_tag": "\n",
        },
        64,
    )
