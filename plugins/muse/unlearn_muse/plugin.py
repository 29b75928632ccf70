"""Entry point of the MUSE plugin: registers the benchmark and its named data sets (heavy imports inside the hooks)."""

from __future__ import annotations

from typing import Any

from unlearn_core import hookimpl


@hookimpl
def register_benchmarks(register: Any) -> None:
    """Register ``muse``."""
    from unlearn_muse.benchmark import MuseBenchmark

    register(MuseBenchmark.name, MuseBenchmark())


@hookimpl
def register_datasets(register: Any) -> None:
    """Register the reference's MUSE dataset names (``MUSE_forget``, ``MUSE_forget_scal``, ...)."""
    from unlearn_muse.datasets import DATASETS

    for dataset in DATASETS:
        register(dataset.name, dataset)
