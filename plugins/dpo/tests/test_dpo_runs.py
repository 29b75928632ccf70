"""DPO (the ``unlearn/tofu/idk`` experiment) and IdkNLL through ``unlearn run`` on the tiny embedded TOFU; on MUSE,
whose forget data are documents without an "I don't know" answer, both are refused in one line; bad method_args
exit with code 2 before anything loads."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support import tiny_runs

from unlearn_core import run
from unlearn_core.cli import main
from unlearn_core.errors import ConfigError
from unlearn_core.plugins import DISABLE_ENV, load_plugins

TOFU_TINY = [*tiny_runs.TOFU_TINY, "eval.metrics=[forget_Q_A_Prob]", *tiny_runs.PAIRS_TWO_EPOCHS]
"""One forget author with six questions: three steps an epoch, two epochs, one cheap metric."""
MUSE_TINY = [
    *tiny_runs.MUSE_TINY,
    "trainer.args.num_train_epochs=1",
    "eval.metrics=[knowmem_f]",
]


def _records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The runs, once, in one directory with one embedded cache (offline, every plugin enabled)."""
    root = tmp_path_factory.mktemp("dpo-runs")
    results: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("UNLEARN_CACHE_DIR", str(root / "cache"))
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        patch.delenv(DISABLE_ENV, raising=False)
        plugins = load_plugins()
        results["dpo"] = run(
            "unlearn",
            overrides=[*TOFU_TINY, "experiment=unlearn/tofu/idk", f"paths.output_dir={root / 'dpo'}"],
            plugins=plugins,
        )
        results["idknll"] = run(
            "unlearn",
            benchmark="tofu",
            method="idknll",
            overrides=[*TOFU_TINY, "data.forget=TOFU_QA_forget_idk", f"paths.output_dir={root / 'idknll'}"],
            plugins=plugins,
        )
        with pytest.raises(ConfigError) as refused:
            run(
                "unlearn",
                benchmark="muse",
                method="dpo",
                overrides=[*MUSE_TINY, f"paths.output_dir={root / 'm'}"],
                plugins=plugins,
            )
        results["muse_refusal"] = str(refused.value)
        results["muse_dir_left"] = (root / "m").exists()
    return results


def test_the_idk_experiment_runs_dpo_on_the_idk_forget_set(runs: dict[str, Any]) -> None:
    out = runs["dpo"].output_dir
    config = json.loads((out / "config.json").read_text())
    assert config["trainer"]["name"] == "DPO" and config["data"]["forget"] == "TOFU_QA_forget_idk"
    assert config["trainer"]["method_args"] == {
        "beta": 0.03,  # DPO's embedded_protocol on the embedded TOFU (published: 0.1)
        "alpha": 1.0,
        "gamma": 1.0,
        "retain_loss_type": "NLL",
        "compat": "none",
    }
    records = _records(out)
    assert len(records) == 6
    assert {"forget_loss", "retain_loss", "margin"} <= set(records[0])
    # the first step starts at the reference: every margin is 0 and the forget term is (2/beta) ln 2
    assert records[0]["forget_loss"] == pytest.approx(2 / 0.03 * math.log(2), rel=1e-5)
    assert records[0]["margin"] == pytest.approx(0.0, abs=1e-3)
    assert records[-1]["margin"] > 0 and records[-1]["forget_loss"] < records[0]["forget_loss"]
    assert (out / "evals" / "TOFU_EVAL.json").exists()


def test_idknll_learns_the_idk_answers(runs: dict[str, Any]) -> None:
    records = _records(runs["idknll"].output_dir)
    assert len(records) == 6 and {"forget_loss", "retain_loss"} <= set(records[0])
    assert all(math.isfinite(r["forget_loss"]) for r in records)
    assert records[-1]["forget_loss"] < records[0]["forget_loss"]


def test_muse_has_no_idk_answers_and_says_so(runs: dict[str, Any]) -> None:
    message = runs["muse_refusal"]
    assert "\n" not in message
    assert "'DPO'" in message and "'alternate'" in message and "data.forget=" in message
    assert not runs["muse_dir_left"]


def _cli(*args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if k != DISABLE_ENV}
    return CliRunner().invoke(main, list(args), env=env)


def test_show_config_of_the_idk_experiment_and_the_method_override() -> None:
    shown = _cli("run", "experiment=unlearn/tofu/idk", "--show-config")
    assert shown.exit_code == 0, shown.output
    assert "name: DPO" in shown.output and "forget: TOFU_QA_forget_idk" in shown.output
    other = _cli("run", "experiment=unlearn/tofu/idk", "trainer=IdkNLL", "--show-config")
    assert other.exit_code == 0 and "name: IdkNLL" in other.output


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "trainer.method_args.bta=0.5",
            "unknown method argument 'trainer.method_args.bta' for DPO (did you mean 'beta'",
        ),
        ("trainer.method_args.compat=ou", "valid choices: none, open-unlearning"),
        ("trainer.method_args.beta=zero", "'trainer.method_args.beta' must be a number"),
        ("trainer.method_args.beta=0", "trainer.method_args.beta must be positive for DPO"),
    ],
)
def test_bad_method_args_exit_2_naming_the_valid_ones(override: str, expected: str, tmp_path: Path) -> None:
    result = _cli("run", "--benchmark", "tofu", "--method", "dpo", override, f"paths.output_dir={tmp_path / 'o'}")
    assert result.exit_code == 2, result.output
    assert expected in result.output
    if "unknown" in expected:
        assert "valid: alpha, beta, compat, gamma, retain_loss_type" in result.output
    assert not (tmp_path / "o").exists()
