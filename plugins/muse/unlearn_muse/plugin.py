"""Entry point of the MUSE plugin: registers the benchmark (heavy imports happen inside the hook)."""

from __future__ import annotations

from typing import Any

from unlearn_core import hookimpl


@hookimpl
def register_benchmarks(register: Any) -> None:
    """Register ``muse``."""
    from unlearn_muse.benchmark import MuseBenchmark

    register(MuseBenchmark.name, MuseBenchmark())
