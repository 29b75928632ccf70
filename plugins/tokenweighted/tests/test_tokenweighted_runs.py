"""WGA, SatImp and CEU through ``unlearn run`` on the tiny embedded TOFU and MUSE: each trains, logs its terms under
the shared names and is evaluated; bad method_args exit with code 2 before anything loads. (Whether they forget is
shown on the full embedded default, in the README's note: the tiny models here know almost nothing.)"""

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
from unlearn_core.plugins import DISABLE_ENV, load_plugins

METHODS = ("WGA", "SatImp", "CEU")
TOFU_TINY = [*tiny_runs.TOFU_TINY, "eval.metrics=[forget_Q_A_Prob]", *tiny_runs.PAIRS_TWO_EPOCHS]
"""One forget author with six questions: three steps an epoch, two epochs, one cheap metric."""
MUSE_TINY = [
    *tiny_runs.MUSE_TINY,
    "trainer.args.per_device_train_batch_size=2",
    "trainer.args.num_train_epochs=1",
    "eval.metrics=[knowmem_f]",
]
LOGGED = {"WGA": {"forget_loss", "retain_loss", "mean_weight"}, "SatImp": {"forget_loss", "retain_loss", "mean_weight"}}
LOGGED["CEU"] = {"forget_loss"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Any]:
    """Every method on both benchmarks, once, with one embedded cache (offline, every plugin enabled)."""
    root = tmp_path_factory.mktemp("tokenweighted-runs")
    results: dict[tuple[str, str], Any] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("UNLEARN_CACHE_DIR", str(root / "cache"))
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        patch.delenv(DISABLE_ENV, raising=False)
        plugins = load_plugins()
        for bench, tiny in (("tofu", TOFU_TINY), ("muse", MUSE_TINY)):
            for method in METHODS:
                out = root / f"{bench}_{method}"
                overrides = [*tiny, f"paths.output_dir={out}"]
                results[bench, method] = run(
                    "unlearn", benchmark=bench, method=method.lower(), overrides=overrides, plugins=plugins
                )
    return results


def _records(result: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (result.output_dir / "train_log.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("bench", ["tofu", "muse"])
def test_each_method_trains_and_logs_its_terms(runs: dict[tuple[str, str], Any], bench: str, method: str) -> None:
    result = runs[bench, method]
    config = json.loads((result.output_dir / "config.json").read_text())
    assert config["trainer"]["name"] == method
    records = _records(result)
    assert records and all(LOGGED[method] <= set(r) for r in records)
    assert all(math.isfinite(r[key]) for r in records for key in LOGGED[method])
    assert (result.output_dir / "evals" / f"{bench.upper()}_EVAL.json").exists()


def test_satimp_logs_the_weight_and_its_embedded_gamma(runs: dict[tuple[str, str], Any]) -> None:
    first = _records(runs["tofu", "SatImp"])[0]
    # at most 5^5 / 6^6 (the maximum of p^5 (1 - p)), and the forget term is its weight times cross-entropies
    assert 0 < first["mean_weight"] <= 5**5 / 6**6
    # gamma: 100 on the embedded models (SatImp's embedded_protocol), not the published 0.1
    assert first["loss"] == pytest.approx(100 * first["forget_loss"] + first["retain_loss"], rel=1e-5)


def _cli(*args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if k != DISABLE_ENV}
    return CliRunner().invoke(main, list(args), env=env)


@pytest.mark.parametrize(
    ("method", "override", "expected"),
    [
        (
            "wga",
            "trainer.method_args.bta=2",
            "(did you mean 'beta'?); valid: alpha, beta, compat, gamma, retain_loss_type",
        ),
        ("satimp", "trainer.method_args.beta=2", "valid: alpha, beta1, beta2, compat, gamma, retain_loss_type"),
        ("ceu", "trainer.method_args.alpha=1", "valid: compat, ignore_first_n_answer_tokens"),
        ("ceu", "trainer.method_args.ignore_first_n_answer_tokens=1.5", "must be an integer"),
        ("wga", "trainer.method_args.retain_loss_type=MSE", "valid choices: NLL, KL"),
        ("satimp", "trainer.method_args.compat=OU", "valid choices: none, open-unlearning"),
        ("wga", "trainer.method_args.beta=-1", "trainer.method_args.beta must be at least 0.0 for WGA"),
    ],
)
def test_bad_method_args_exit_2(method: str, override: str, expected: str, tmp_path: Path) -> None:
    result = _cli("run", "--benchmark", "tofu", "--method", method, override, f"paths.output_dir={tmp_path / 'o'}")
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert not (tmp_path / "o").exists()
