"""Entry point of the WMDP plugin: registers the benchmark and its named data sets (heavy imports inside the hooks)."""

from __future__ import annotations

from typing import Any

from unlearn_core import hookimpl


@hookimpl
def register_benchmarks(register: Any) -> None:
    """Register ``wmdp``."""
    from unlearn_wmdp.benchmark import WmdpBenchmark

    register(WmdpBenchmark.name, WmdpBenchmark())


@hookimpl
def register_datasets(register: Any) -> None:
    """Register the reference's WMDP data set names (``WMDP_forget``, ``WMDP_retain``)."""
    from unlearn_wmdp.datasets import DATASETS

    for dataset in DATASETS:
        register(dataset.name, dataset)
