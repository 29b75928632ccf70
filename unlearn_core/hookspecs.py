"""Hook specifications: the whole plugin contract of unlearn.

A plugin is a module with functions decorated by ``hookimpl`` and named like the specs below; it is found through the
``unlearn`` entry-point group. Each hook receives a ``register`` callback and hands it classes or objects; the core
owns the registries and the training/evaluation loops. An implementation may take fewer arguments than the spec.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT_NAME = "unlearn"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_benchmarks(register: Any) -> None:
    """Register benchmarks: ``register("tofu", TofuBenchmark())``.

    A benchmark (a ``unlearn_core.Benchmark``) bundles its data sets, the embedded synthetic default, its
    evaluation metrics, summary keys and experiment presets such as ``unlearn/tofu/default``.
    """


@hookspec
def register_methods(register: Any) -> None:
    """Register unlearning methods: ``register("NPO", NPO, aliases=("npo",))``.

    A method is a subclass of ``unlearn_core.UnlearningMethod``; it computes a loss from a forget/retain batch and
    never owns a training loop.
    """


@hookspec
def register_metrics(register: Any) -> None:
    """Register evaluation metrics: ``register("probability", Metric("probability", compute))``.

    A metric is a function of the per-sample statistics that the evaluation engine computes in one pass, so a new
    metric adds a function, not another pass over the data.
    """


@hookspec
def register_models(register: Any) -> None:
    """Register model presets: ``register("Llama-3.2-1B-Instruct", ModelPreset("Llama-3.2-1B-Instruct", hub_id))``.

    A preset names a model and its template so ``model=<name>`` selects both.
    """


@hookspec
def register_datasets(register: Any) -> None:
    """Register named data sources: ``register("TOFU_QA_full", source)``.

    Data sources can be referred to by name in ``data.forget=`` / ``data.retain=`` overrides.
    """


@hookspec
def register_attacks(register: Any) -> None:
    """Register robustness attacks: ``register("relearn", Relearn, aliases=())``.

    An attack is a subclass of ``unlearn_core.Attack``: it turns the unlearned model of a run directory into an
    attacked model (finetuned, quantized...) that the benchmark's evaluation then scores (``unlearn attack NAME
    RUN_DIR``, ``unlearn run ... attacks=[NAME]``).
    """


@hookspec
def register_evaluators(register: Any) -> None:
    """Register evaluators that run besides a benchmark's own evaluation: ``register("lm_eval", LMEvalEvaluator())``.

    An evaluator (a ``unlearn_core.Evaluator``) is selected with ``eval=NAME``, takes its settings from the
    ``eval.<NAME>`` section, and writes its own result files next to the benchmark's.
    """
