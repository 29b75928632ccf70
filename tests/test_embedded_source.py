"""The embedded tiny model is built from embedded data only; each benchmark's recipe refuses another data.source
with one line naming the fix."""

from __future__ import annotations

import pytest

from unlearn_core import require_embedded_source
from unlearn_core.errors import ConfigError


def test_embedded_source_passes() -> None:
    require_embedded_source({"data": {"source": "embedded"}})


def test_another_source_names_the_fix() -> None:
    with pytest.raises(ConfigError) as refused:
        require_embedded_source({"data": {"source": "locuslab/TOFU"}})
    message = str(refused.value)
    assert "\n" not in message
    assert "data.source=locuslab/TOFU" in message
    assert "model.model_args.pretrained_model_name_or_path=<model>" in message


@pytest.mark.parametrize("benchmark", ["tofu", "muse", "wmdp"])
def test_every_benchmark_recipe_refuses_a_non_embedded_source(benchmark: str) -> None:
    from unlearn_core.config import resolve_config
    from unlearn_core.plugins import load_plugins

    plugins = load_plugins()
    if benchmark not in plugins.benchmarks.names():
        pytest.skip(f"the {benchmark} plugin is not installed")
    cfg = resolve_config("eval", plugins, benchmark=benchmark)
    cfg.values["data"]["source"] = "/nowhere"
    with pytest.raises(ConfigError, match="trained on embedded data only: with data.source=/nowhere"):
        plugins.benchmarks.get(benchmark).embedded_recipe(cfg.values)
