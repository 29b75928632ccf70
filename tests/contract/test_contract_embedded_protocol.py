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
