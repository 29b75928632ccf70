"""Bad attack inputs: one line naming the problem and the valid choices, exit code 2, before any model loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from unlearn_core.attacks.arguments import attack_entries, resolve_attacks
from unlearn_core.cli import main
from unlearn_core.errors import ConfigError
from unlearn_core.plugins import load_plugins


def attack(*args: str) -> Result:
    return CliRunner().invoke(main, ["attack", *args])


def one_line(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def run_without_model(tmp_path: Path) -> Path:
    """A run directory whose unlearning never saved a model."""
    (tmp_path / "config.json").write_text(json.dumps({"benchmark": "tofu", "mode": "unlearn"}))
    return tmp_path


@pytest.fixture
def run_dir(run_without_model: Path) -> Path:
    """A run directory with model files (never loaded: every test here stops before)."""
    (run_without_model / "model").mkdir()
    (run_without_model / "model" / "config.json").write_text("{}")
    (run_without_model / "model" / "model.safetensors").write_bytes(b"")
    return run_without_model


def test_a_run_directory_without_a_model(run_without_model):
    line = one_line(attack("quantize", str(run_without_model)))
    assert "has no model" in line and str(run_without_model) in line


def test_a_directory_that_holds_no_run(tmp_path):
    assert "not a run directory" in one_line(attack("relearn", str(tmp_path)))


def test_an_unknown_attack(run_without_model):
    line = one_line(attack("quantise", str(run_without_model)))
    assert "unknown attack 'quantise'" in line and "did you mean 'quantize'" in line and "relearn" in line


@pytest.mark.parametrize("bits", ["3", "16", "four"])
def test_a_bad_bit_width(run_without_model, bits):
    line = one_line(attack("quantize", str(run_without_model), f"attack.bits={bits}"))
    assert "attack.bits" in line


def test_a_bad_quantization_method_and_an_unknown_argument(run_without_model):
    line = one_line(attack("quantize", str(run_without_model), "attack.method=gptq"))
    assert "attack.method" in line and "rtn, quanto, bnb" in line
    line = one_line(attack("quantize", str(run_without_model), "attack.bit=8"))
    assert "unknown argument 'attack.bit'" in line and "did you mean 'bits'" in line
    assert "attack.KEY=VALUE" in one_line(attack("quantize", str(run_without_model), "trainer.args.seed=1"))


def test_relearn_arguments_out_of_range(run_dir):
    assert "attack.steps" in one_line(attack("relearn", str(run_dir), "attack.steps=0"))
    assert "attack.fraction" in one_line(attack("relearn", str(run_dir), "attack.fraction=1.5"))
    assert "attack.learning_rate" in one_line(attack("relearn", str(run_dir), "attack.learning_rate=-1"))


def test_bitsandbytes_is_refused_without_cuda(run_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    line = one_line(attack("quantize", str(run_dir), "attack.method=bnb"))
    assert "needs a CUDA device" in line and "attack.method=rtn" in line


def test_the_attacks_setting_is_checked_before_a_run_creates_anything(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "-b", "tofu", "-m", "npo", "attacks=[relearn,nope]"])
    assert "unknown attack 'nope'" in one_line(result)
    result = CliRunner().invoke(main, ["run", "-b", "tofu", "-m", "npo", "attacks=[{quantize: {bits: 5}}]"])
    assert "attack.bits" in one_line(result)
    result = CliRunner().invoke(main, ["eval", "-b", "tofu", "attacks=[quantize]"])
    assert "after unlearning" in one_line(result)
    assert not (tmp_path / "saves").exists()


def test_the_attacks_setting_is_written_out_in_full():
    plugins = load_plugins()
    cfg = {"trainer": {"args": {"learning_rate": 1e-3, "seed": 0}}}
    value = ["relearn", {"quantize": {"bits": 8}}, "quantize"]
    resolved = resolve_attacks(value, plugins.attacks, cfg)
    assert resolved == [
        {"name": "relearn", "args": {"data": "forget_subset", "fraction": 0.1, "steps": 10, "learning_rate": None,
                                     "seed": None}},
        {"name": "quantize", "args": {"bits": 8, "method": "rtn"}},
        {"name": "quantize", "args": {"bits": 4, "method": "rtn"}},
    ]  # fmt: skip
    with pytest.raises(ConfigError, match="quantize-4bit-rtn twice"):
        resolve_attacks(["quantize", {"quantize": {"bits": 4}}], plugins.attacks, cfg)
    with pytest.raises(ConfigError, match="bad item"):
        attack_entries([{"quantize": 4}])
    assert attack_entries("relearn") == [("relearn", {})]
