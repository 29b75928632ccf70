"""RMU, UNDIAL and PDU through ``unlearn run`` on the embedded TOFU and MUSE (tiny settings, a few steps each), and
their method_args checked before anything loads: a misspelled key or a bad value exits 2 naming the valid ones."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.tiny_runs import TOFU_TINY

from unlearn_core import run
from unlearn_core.cli import main
from unlearn_core.errors import ConfigError

pytest.importorskip("unlearn_rmu", reason="plugins/rmu is not installed")
pytest.importorskip("unlearn_undial", reason="plugins/undial is not installed")
pytest.importorskip("unlearn_pdu", reason="plugins/pdu is not installed")

MUSE_TINY = [
    "data.embedded.n_forget=6",
    "data.embedded.n_retain=4",
    "data.embedded.n_holdout=6",
    "data.embedded.n_background=2",
    "data.embedded.base_epochs=1",
    "data.embedded.finetune_epochs=3",
]
TINY = {
    "tofu": [*TOFU_TINY, "eval.metrics=[forget_Q_A_Prob]"],
    "muse": [*MUSE_TINY, "eval.metrics=[forget_verbmem_ROUGE]"],
}
STEPS = [
    "trainer.args.per_device_train_batch_size=2",
    "trainer.args.num_train_epochs=2",
    "trainer.args.warmup_epochs=0",
]
"""Three steps an epoch on six TOFU rows, two epochs."""
METHODS: dict[str, list[str]] = {
    "rmu": [r"trainer.method_args.module_regex=model\.layers\.2"],  # the tiny model has 4 layers, not 8
    "undial": ["trainer.method_args.alpha=0"],  # the published setting (the embedded protocol's is 1)
    "pdu": ["trainer.method_args.retain_loss_eps=0.05", "trainer.method_args.dual_warmup_epochs=1"],
}
KL_EPOCH = [
    "trainer.method_args.retain_loss_eps=0.01",
    "trainer.method_args.retain_loss_type=KL",
    "trainer.method_args.dual_update_upon=epoch",
    "trainer.method_args.dual_warmup_epochs=0",
]
"""PDU's epoch-end dual update on a KL retain loss: a mean over the epoch's batches compared with the reference."""
LOGGED = {"rmu": {"forget_loss", "retain_loss"}, "undial": {"forget_loss"}, "pdu": {"forget_loss", "retain_loss"}}
FORGET_METRIC = {"tofu": "forget_Q_A_Prob", "muse": "forget_verbmem_ROUGE"}


def _records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, offline_dir: Any) -> dict[tuple[str, str], Any]:
    """Each method once on each benchmark, in one directory with the session's embedded models."""
    root = tmp_path_factory.mktemp("rmu-undial-pdu")
    done = {}
    with offline_dir(root):
        for bench in ("tofu", "muse"):
            for method, args in METHODS.items():
                out = root / f"{bench}-{method}"
                overrides = [*TINY[bench], *STEPS, *args, f"paths.output_dir={out}"]
                done[(bench, method)] = run("unlearn", benchmark=bench, method=method, overrides=overrides)
        overrides = [*TINY["tofu"], *STEPS, *KL_EPOCH, f"paths.output_dir={root / 'tofu-pdu-kl-epoch'}"]
        done[("tofu", "pdu-kl-epoch")] = run("unlearn", benchmark="tofu", method="pdu", overrides=overrides)
    return done


@pytest.mark.slow
@pytest.mark.parametrize("bench", ["tofu", "muse"])
@pytest.mark.parametrize("method", list(METHODS))
def test_each_method_unlearns_on_the_embedded_benchmark(runs, bench, method):
    result = runs[(bench, method)]
    records = _records(result.output_dir)
    assert len(records) >= 4
    for record in records:
        assert LOGGED[method] <= set(record) and all(math.isfinite(record[k]) for k in LOGGED[method])
    assert math.isfinite(result.rows["unlearned"][FORGET_METRIC[bench]])
    config = json.loads((result.output_dir / "config.json").read_text())
    assert config["trainer"]["name"] == method.upper()


@pytest.mark.slow
def test_the_forget_terms_fall_and_pdus_dual_variable_moves_after_warm_up(runs):
    """(UNDIAL's term is a cross-entropy whose floor is the entropy of its targets: the tiny MUSE target model barely
    fits its texts, so its targets are nearly its own distribution and there is nothing to descend there.)"""
    for bench in ("tofu", "muse"):
        for method in [m for m in METHODS if (bench, m) != ("muse", "undial")]:
            records = _records(runs[(bench, method)].output_dir)
            first, last = (
                sum(r["forget_loss"] for r in records if epoch - 1 < r["epoch"] <= epoch) for epoch in (1, 2)
            )
            assert last < first, (bench, method, [r["forget_loss"] for r in records])  # the same rows each epoch
        pdu = _records(runs[(bench, "pdu")].output_dir)
        first_epoch = [r for r in pdu if r["epoch"] <= 1.0]
        assert {r["retain_preference"] for r in first_epoch} == {1.0}  # warm-up: alpha
        assert pdu[-1]["retain_preference"] != 1.0


@pytest.mark.slow
def test_pdus_epoch_update_averages_a_kl_retain_loss_over_the_epoch(runs):
    records = _records(runs[("tofu", "pdu-kl-epoch")].output_dir)
    first, second = records[:3], records[3:]
    assert {r["retain_preference"] for r in first} == {1.0}
    assert len({r["retain_preference"] for r in second}) == 1 and second[0]["retain_preference"] != 1.0
    assert records[0]["retain_loss"] == 0.0  # KL to the reference: the model starts as it


@pytest.mark.slow
def test_rmu_with_open_unlearnings_layer_on_the_tiny_model_is_refused_in_one_line(offline_dir, tmp_path):
    with offline_dir(tmp_path), pytest.raises(ConfigError) as refused:
        published_layer = r"trainer.method_args.module_regex=model\.layers\.7"  # over the embedded protocol's layer 2
        run("unlearn", benchmark="tofu", method="rmu", overrides=[*TINY["tofu"], published_layer, "paths.output_dir=o"])
    message = str(refused.value)
    assert "\n" not in message
    assert r"'model\.layers\.7'" in message and "module lists: model.layers.0 to model.layers.3" in message
    assert not (tmp_path / "o" / "train_log.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--method", "rmu", "trainer.method_args.steering_coef=6.5"], "did you mean 'steering_coeff'"),
        (["--method", "undial", "trainer.method_args.bata=5"], "valid: alpha, beta, compat, gamma, retain_loss_type"),
        (
            ["--method", "pdu", "trainer.method_args.retain_loss_eps=0.1", "trainer.method_args.dual_update_upon=x"],
            "valid choices: step, epoch",
        ),
        (["--method", "rmu", "trainer.method_args.retain_loss_type=EMBED"], "EMBED_DIFF, NLL, KL"),
        (["--method", "undial", "trainer.method_args.compat=ou"], "valid choices: none, open-unlearning"),
        (
            ["--method", "pdu", "model.model_args.pretrained_model_name_or_path=."],
            "retain_loss_eps=NUMBER",
        ),  # a real model
        (["--method", "pdu", "trainer.method_args.retain_loss_eps=low"], "retain_loss_eps' must be a number"),
        (["--method", "undial", "trainer.method_args.beta=strong"], "'trainer.method_args.beta' must be a number"),
    ],
)
def test_bad_method_args_exit_2_naming_the_valid_ones(tmp_path, monkeypatch, args, named):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UNLEARN_CACHE_DIR", str(tmp_path / "cache"))
    result = CliRunner().invoke(main, ["run", "--benchmark", "tofu", *args, "paths.output_dir=o"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and named in lines[0], result.output
    assert not (tmp_path / "cache").exists()  # refused before the embedded models are built
