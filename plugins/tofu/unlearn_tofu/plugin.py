"""Entry point of the TOFU plugin: registers the benchmark (heavy imports happen inside the hook)."""

from __future__ import annotations

from typing import Any

from unlearn_core import hookimpl


@hookimpl
def register_benchmarks(register: Any) -> None:
    """Register ``tofu``."""
    from unlearn_tofu.benchmark import TofuBenchmark

    register(TofuBenchmark.name, TofuBenchmark())
