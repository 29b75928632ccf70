"""Entry point of the TOFU plugin: registers the benchmark and its named data sets (heavy imports inside the hooks)."""

from __future__ import annotations

from typing import Any

from unlearn_core import hookimpl


@hookimpl
def register_benchmarks(register: Any) -> None:
    """Register ``tofu``."""
    from unlearn_tofu.benchmark import TofuBenchmark

    register(TofuBenchmark.name, TofuBenchmark())


@hookimpl
def register_datasets(register: Any) -> None:
    """Register the reference's TOFU dataset names (``TOFU_QA_forget``, ``TOFU_QA_forget_para``, ...)."""
    from unlearn_tofu.datasets import DATASETS

    for dataset in DATASETS:
        register(dataset.name, dataset)
