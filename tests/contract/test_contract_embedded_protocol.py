"""A method's own settings for a benchmark's embedded tiny model (``UnlearningMethod.embedded_protocol``): applied after
the benchmark's protocol, below what the user sets, and never to a real model."""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any, ClassVar

import pytest

from unlearn_core import LossOutput, UnlearningMethod, hookimpl
from unlearn_core.config import resolve_config
from unlearn_core.plugins import load_plugins


class TunedMethod(UnlearningMethod):
    """A method whose published defaults are too gentle for the embedded tiny model."""

    name: ClassVar[str] = "TunedMethod"
    defaults: ClassVar[dict[str, Any]] = {"beta": 0.1, "retain_loss_type": "NLL"}
    embedded_protocol: ClassVar[dict[str, dict[str, Any]]] = {
        "tofu": {"trainer.args.learning_rate": 0.123, "trainer.method_args.beta": 2.5}
    }

    def compute_loss(self, model: Any, batch: Any, reference: Any) -> LossOutput:
        raise NotImplementedError


@pytest.fixture(scope="module")
def plugins() -> Any:
    module = ModuleType("tuned_method_plugin")

    @hookimpl
    def register_methods(register: Any) -> None:
        register(TunedMethod.name, TunedMethod)

    module.register_methods = register_methods  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    return load_plugins(extra=[module])


def _resolve(plugins: Any, benchmark: str, *overrides: str) -> Any:
    return resolve_config("unlearn", plugins, benchmark=benchmark, method="TunedMethod", overrides=list(overrides))


def test_the_method_protocol_applies_on_the_embedded_model_of_its_benchmark(plugins):
    cfg = _resolve(plugins, "tofu")
    assert cfg.get("trainer.args.learning_rate") == 0.123 and cfg.get("trainer.method_args.beta") == 2.5
    muse = _resolve(plugins, "muse")  # no entry for MUSE: the benchmark's embedded protocol and the method defaults
    assert muse.get("trainer.method_args.beta") == 0.1
    npo = resolve_config("unlearn", plugins, benchmark="muse", method="NPO")
    assert muse.get("trainer.args.learning_rate") == npo.get("trainer.args.learning_rate")


def test_what_the_user_sets_wins_over_the_method_protocol(plugins):
    cfg = _resolve(plugins, "tofu", "trainer.method_args.beta=0.7", "trainer.args.learning_rate=0.5")
    assert cfg.get("trainer.method_args.beta") == 0.7 and cfg.get("trainer.args.learning_rate") == 0.5


def test_a_real_model_keeps_the_published_defaults(plugins, tmp_path):
    cfg = _resolve(plugins, "tofu", f"model.model_args.pretrained_model_name_or_path={tmp_path}")
    assert cfg.get("trainer.method_args.beta") == 0.1
    assert cfg.get("trainer.args.learning_rate") == 1e-5


INSTALLED_SETTINGS = {
    ("DPO", "tofu"): {"data.forget": "TOFU_QA_forget_idk", "trainer.method_args.beta": 0.03},
    ("IdkNLL", "tofu"): {"data.forget": "TOFU_QA_forget_idk"},
    ("SatImp", "muse"): {"trainer.method_args.gamma": 100.0},
    ("CEU", "tofu"): {"trainer.args.learning_rate": 5e-5},
    ("CEU", "muse"): {"trainer.args.learning_rate": 4e-5},
    ("RMU", "tofu"): {"trainer.method_args.module_regex": r"model\.layers\.2"},
    ("UNDIAL", "muse"): {"trainer.method_args.alpha": 1.0},
    ("PDU", "tofu"): {"trainer.method_args.retain_loss_eps": 0.1, "trainer.method_args.dual_warmup_epochs": 0},
}
"""What the shipped methods need on the embedded models (each method's README has the runs behind them)."""


@pytest.mark.parametrize(("method", "benchmark"), list(INSTALLED_SETTINGS))
def test_shipped_methods_settings_reach_the_embedded_runs_and_user_values_win(method, benchmark):
    plugins = load_plugins()
    if method not in plugins.methods.names():
        pytest.skip(f"{method}'s plugin is not installed")
    cfg = resolve_config("unlearn", plugins, benchmark=benchmark, method=method)
    for key, value in INSTALLED_SETTINGS[(method, benchmark)].items():
        assert cfg.get(key) == value, key
    key = next(iter(INSTALLED_SETTINGS[(method, benchmark)]))
    own = "TOFU_QA_forget_para" if key == "data.forget" else "0.2"
    mine = resolve_config("unlearn", plugins, benchmark=benchmark, method=method, overrides=[f"{key}={own}"])
    assert str(mine.get(key)) == own
