"""unlearn: machine unlearning for large language models (core package).

The public API: the plugin marker ``hookimpl``, the contracts ``UnlearningMethod`` (with ``Reference``, ``EpochEnd``,
``module_outputs``, ``BatchTotals``), ``Benchmark``, ``Metric``, ``ModelPreset``, ``Attack`` (with ``AttackContext``,
``AttackOutput``), ``Evaluator``, and ``run`` (the Python API behind the CLI). Heavy modules load on first use, so
importing the package (and ``unlearn --help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from unlearn_core.hookspecs import hookimpl

__version__ = "0.1.0"

_LAZY = {
    "UnlearningMethod": "unlearn_core.methods",
    "LossOutput": "unlearn_core.methods",
    "Reference": "unlearn_core.methods",
    "Batch": "unlearn_core.methods",
    "UnlearnBatch": "unlearn_core.methods",
    "EpochEnd": "unlearn_core.methods",
    "FORGET_FIELD": "unlearn_core.methods",
    "RETAIN_LOSS_TYPES": "unlearn_core.methods",
    "BatchTotals": "unlearn_core.normalization",
    "Normalization": "unlearn_core.normalization",
    "normalization": "unlearn_core.normalization",
    "ModuleOutputs": "unlearn_core.hidden_states",
    "module_outputs": "unlearn_core.hidden_states",
    "Benchmark": "unlearn_core.benchmarks",
    "EmbeddedRecipe": "unlearn_core.benchmarks",
    "TradeoffAxes": "unlearn_core.benchmarks",
    "EvalDataset": "unlearn_core.evaluation.suite",
    "EvalSuite": "unlearn_core.evaluation.suite",
    "MetricEntry": "unlearn_core.evaluation.suite",
    "Metric": "unlearn_core.evaluation.metric",
    "Score": "unlearn_core.evaluation.metric",
    "Generate": "unlearn_core.evaluation.metric",
    "EvaluationContext": "unlearn_core.evaluation.metric",
    "RecomputeContext": "unlearn_core.evaluation.metric",
    "LazyFunction": "unlearn_core.evaluation.metric",
    "entries": "unlearn_core.entries",
    "Attack": "unlearn_core.attacks.contract",
    "AttackContext": "unlearn_core.attacks.contract",
    "AttackOutput": "unlearn_core.attacks.contract",
    "ModelPreset": "unlearn_core.models.presets",
    "Evaluator": "unlearn_core.evaluators",
    "EvaluatorResult": "unlearn_core.evaluators",
    "NamedDataset": "unlearn_core.toolkit.named",
    "RowStore": "unlearn_core.toolkit.store",
    "require_embedded_source": "unlearn_core.toolkit.store",
    "Setting": "unlearn_core.toolkit.settings",
    "EvalSet": "unlearn_core.toolkit.declared",
    "DeclaredBenchmark": "unlearn_core.toolkit.declared",
    "PromptTemplate": "unlearn_core.token_rules",
    "Tokenized": "unlearn_core.data",
    "losses": "unlearn_core.losses",
    "errors": "unlearn_core.errors",
    "run": "unlearn_core.pipeline.api",
    "load_plugins": "unlearn_core.plugins",
}

__all__ = ["hookimpl", *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'unlearn_core' has no attribute '{name}'")
    module = importlib.import_module(_LAZY[name])
    return module if module.__name__.endswith(f".{name}") else getattr(module, name)
