"""Attacks on a tiny unlearning run: result files and table, determinism of relearning, a plugin attack, and
``unlearn run ... attacks=[...]``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from faultkit import TINY

from unlearn_core import Attack, AttackContext, AttackOutput, hookimpl
from unlearn_core.attacks.arguments import build_attack
from unlearn_core.cli import main
from unlearn_core.pipeline.attack import attack_run
from unlearn_core.plugins import load_plugins

pytestmark = pytest.mark.slow
ONE_EPOCH = [*TINY, "trainer.args.num_train_epochs=1", "trainer.args.warmup_epochs=0"]


def invoke(*args: Any) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, offline_dir: Any) -> Iterator[Path]:
    """One epoch of NPO on the smallest embedded TOFU."""
    with offline_dir(tmp_path_factory.mktemp("attacks")) as root:
        result = invoke("run", "-b", "tofu", "-m", "npo", *ONE_EPOCH, "task_name=attacked")
        assert result.exit_code == 0, result.output
        yield root / "saves/unlearn/attacked"


def test_quantize_writes_its_results_its_manifest_and_the_table(tiny_run):
    result = invoke("attack", "quantize", tiny_run, "attack.bits=8")
    assert result.exit_code == 0, result.output
    out = tiny_run / "attacks/quantize-8bit-rtn"
    assert sorted(p.name for p in out.iterdir()) == [
        "TOFU_EVAL.json",
        "TOFU_SUMMARY.json",
        "attack.json",
        "summary_table.json",
    ]
    manifest = json.loads((out / "attack.json").read_text())
    assert manifest["arguments"] == {"bits": 8, "method": "rtn"} and manifest["method"] == "NPO"
    assert manifest["facts"]["quantized_layers"] == 29  # 4 layers x 7 projections + the output head
    survived = manifest["facts"]["rtn_against_starting_model"]  # compared with the embedded target's weights
    assert 0 < survived["same_level_share"] < 1 and survived["median_update_in_steps"] > 0
    evaluation = json.loads((out / "TOFU_EVAL.json").read_text())
    assert evaluation["manifest"]["attack"]["label"] == "quantize-8bit-rtn"
    table = json.loads((out / "summary_table.json").read_text())
    assert list(table["rows"]) == ["target", "retain", "unlearned", "quantize-8bit-rtn"]
    summary = json.loads((out / "TOFU_SUMMARY.json").read_text())
    assert table["rows"]["quantize-8bit-rtn"] == summary
    run_table = json.loads((tiny_run / "summary_table.json").read_text())
    assert table["rows"]["unlearned"] == run_table["rows"]["unlearned"]
    names = [line.split()[0] for line in result.output.splitlines() if line[:1].isalpha()]
    assert names[names.index("target") :][:5] == ["target", "retain", "unlearned", "quantize-8bit-rtn", "recovery"]
    again = invoke("attack", "quantize", tiny_run, "attack.bits=8")
    assert again.exit_code == 1 and "--overwrite" in again.stderr
    assert invoke("attack", "quantize", tiny_run, "attack.bits=8", "--overwrite").exit_code == 0


def relearned(run: Path, plugins: Any, **args: Any) -> tuple[dict, list, list]:
    """Relearn on the run, and return the summary, the per-sample forget probabilities and the step losses."""
    attack = build_attack(plugins.attacks, "relearn", {"steps": 3, **args}, {})
    result = attack_run(run, attack, plugins, overwrite=True)
    evaluation = json.loads((result.output_dir / "TOFU_EVAL.json").read_text())
    log = (result.output_dir / "train_log.jsonl").read_text().splitlines()
    per_sample = evaluation["forget_Q_A_Prob"]["value_by_index"]
    return result.rows[attack.label()], per_sample, [json.loads(line)["loss"] for line in log]


def test_relearning_is_deterministic(tiny_run):
    plugins = load_plugins()
    first = relearned(tiny_run, plugins)
    assert relearned(tiny_run, plugins) == first
    other_seed = relearned(tiny_run, plugins, seed=1)
    assert other_seed[2] != first[2]
    unlearned = json.loads((tiny_run / "summary_table.json").read_text())["rows"]["unlearned"]
    assert first[0]["forget_Q_A_Prob"] > unlearned["forget_Q_A_Prob"]  # relearning the forget set brings some back
    manifest = json.loads((tiny_run / "attacks/relearn-steps-3_seed-1/attack.json").read_text())
    assert manifest["facts"]["samples"] == 1 and manifest["facts"]["of"] == 6  # ceil(10% of 6 questions)
    assert manifest["facts"]["settings"]["learning_rate"] == 1e-3  # the run's, from the embedded protocol


class Silence(Attack):
    """Scale the output head's weights (a stand-in for a third party's attack)."""

    name = "silence"
    defaults = {"scale": 0.5}

    def apply(self, model: Any, context: AttackContext) -> AttackOutput:
        import torch

        with torch.no_grad():
            model.get_output_embeddings().weight.mul_(self.args["scale"])
        return AttackOutput(model, {"forget_rows": len(context.data("forget_subset"))})


class SilencePlugin:
    """An attack plugin as a third party would write it."""

    @staticmethod
    @hookimpl
    def register_attacks(register: Any) -> None:
        register(Silence.name, Silence)


def test_an_attack_registered_by_a_plugin(tiny_run):
    plugins = load_plugins([SilencePlugin()])
    assert "silence" in plugins.attacks.names()
    assert [i.distribution for i in plugins.infos if i.provides.get("attacks") == ["silence"]] == ["(in process)"]
    attack = build_attack(plugins.attacks, "silence", {"scale": 0.0}, {})
    result = attack_run(tiny_run, attack, plugins)
    assert result.output_dir == tiny_run / "attacks/silence-scale-0.0"
    manifest = json.loads((result.output_dir / "attack.json").read_text())
    assert manifest["facts"] == {"forget_rows": 6}
    # a zero output head gives every token the same probability: 1/vocabulary per answer token
    assert result.rows["silence-scale-0.0"]["forget_Q_A_Prob"] < 0.01


def test_unlearn_run_with_attacks_adds_them_to_its_summary(offline_dir, tmp_path):
    with offline_dir(tmp_path):
        attacks = "attacks=[{relearn: {steps: 2}},{quantize: {bits: 8}}]"
        result = invoke("run", "-b", "tofu", "-m", "graddiff", *ONE_EPOCH, "task_name=both", attacks)
        assert result.exit_code == 0, result.output
        run = tmp_path / "saves/unlearn/both"
        table = json.loads((run / "summary_table.json").read_text())
        assert list(table["rows"]) == ["target", "retain", "unlearned", "relearn-steps-2", "quantize-8bit-rtn"]
        assert list(table["recovery"]) == ["relearn-steps-2", "quantize-8bit-rtn"]
        assert "recovery: quantize-8bit-rtn" in result.output
        config = json.loads((run / "config.json").read_text())
        assert config["attacks"][1] == {"quantize": {"bits": 8, "method": "rtn"}}
        for label in ("relearn-steps-2", "quantize-8bit-rtn"):
            assert (run / "attacks" / label / "TOFU_SUMMARY.json").is_file()
