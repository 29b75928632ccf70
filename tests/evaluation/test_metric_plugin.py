"""A metric registered by a plugin joins the fused pass: it scores a field and reads generations through the same
contract as the built-ins, and asks for no pass or generation of its own."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("unlearn_tofu")

from support.tiny_setup import TINY_TEMPLATE, texts_of, tiny_model_and_tokenizer, tofu_like_rows  # noqa: E402
from unlearn_tofu.suite import tofu_suite  # noqa: E402

from unlearn_core import EvalSuite, Generate, Metric, MetricEntry, Score, hookimpl  # noqa: E402
from unlearn_core.evaluation.engine import EvaluationEngine  # noqa: E402
from unlearn_core.plugins import load_plugins  # noqa: E402
from unlearn_core.token_rules import PromptTemplate  # noqa: E402


@dataclass(frozen=True)
class EchoArgs:
    """The answer field compared with the generation, and the generation budget."""

    field: str = "answer"
    max_new_tokens: int | None = None


def _echo(ctx: Any, entry: MetricEntry) -> dict[str, Any]:
    """Per sample: the answer's mean NLL, and whether the generation starts with the answer's first word."""
    stats = ctx.stats(entry.dataset, entry.args.field)
    generations = ctx.generations(
        Generate(entry.dataset, max_new_tokens=entry.args.max_new_tokens, draft_field="answer")
    )
    answers = ctx.texts(entry.dataset, entry.args.field)
    by_index = {
        str(i): {"nll": st.avg_loss, "echo": float(gen.split()[:1] == answer.split()[:1])}
        for i, (st, gen, answer) in enumerate(zip(stats, generations, answers))
    }
    scores = [v["echo"] for v in by_index.values()]
    return {"agg_value": sum(scores) / len(scores), "value_by_index": by_index}


ECHO = Metric(
    "first_word_echo",
    _echo,
    "share of generations that start with the answer's first word",
    args=EchoArgs,
    scores=lambda entry, suite: [Score(entry.dataset, entry.args.field)],
    generates=lambda entry, suite: [
        Generate(entry.dataset, max_new_tokens=entry.args.max_new_tokens, draft_field="answer")
    ],
    recompute=lambda context, stored: (
        sum(v["echo"] for v in stored["value_by_index"].values()) / len(stored["value_by_index"])
    ),
)


class EchoPlugin:
    """A metric plugin as a third party would write it."""

    @staticmethod
    @hookimpl
    def register_metrics(register: Any) -> None:
        register(ECHO.name, ECHO)


def test_a_plugin_metric_runs_fused_with_the_built_ins() -> None:
    data = tofu_like_rows()
    model, tokenizer = tiny_model_and_tokenizer(texts_of(data))
    suite: EvalSuite = tofu_suite(data)
    suite.entries["forget_echo"] = MetricEntry("forget_echo", "first_word_echo", "forget", EchoArgs())
    plugins = load_plugins([EchoPlugin()], entry_points=False)
    assert "first_word_echo" in plugins.metrics.names()
    engine = EvaluationEngine(
        model,
        tokenizer,
        PromptTemplate(tokenizer, TINY_TEMPLATE, 96),
        suite,
        plugins.metrics,
        batch_size=4,
        generation={"max_new_tokens": 6, "batch_size": 4},
        progress=False,
    )
    results = engine.run(["forget_Q_A_Prob", "forget_Q_A_ROUGE", "forget_echo"])
    # the plugin's field and generation were planned with the built-ins': one pass, one generation
    assert engine.scored[("forget", "answer", False)] == len(data["forget"])
    assert list(engine.generated.values()) == [1] and engine.decoding.generate_calls == 1
    rouge = [v["generation"] for v in results["forget_Q_A_ROUGE"]["value_by_index"].values()]
    prob = [v["avg_loss"] for v in results["forget_Q_A_Prob"]["value_by_index"].values()]
    echo = results["forget_echo"]["value_by_index"]
    assert [v["nll"] for v in echo.values()] == prob  # the same statistics
    expected = [float(g.split()[:1] == r["answer"].split()[:1]) for g, r in zip(rouge, data["forget"])]
    assert results["forget_echo"]["agg_value"] == pytest.approx(sum(expected) / len(expected))
    assert results["forget_echo"]["definition"] == {
        "metric": "first_word_echo",
        "dataset": "forget",
        "args": {"field": "answer", "max_new_tokens": None},
    }
    assert math.isfinite(results["forget_echo"]["agg_value"])


def test_report_recomputes_a_plugin_metric() -> None:
    from unlearn_core.evaluation.recompute import recompute_file

    plugins = load_plugins([EchoPlugin()], entry_points=False)
    stored = {
        "agg_value": 0.5,
        "value_by_index": {"0": {"echo": 1.0}, "1": {"echo": 0.0}},
        "definition": {"metric": "first_word_echo", "dataset": "forget", "args": {"field": "answer"}},
    }
    [check] = recompute_file({"forget_echo": stored}, None, plugins.metrics)
    assert (check.status, check.recomputed) == ("ok", 0.5)
    [check] = recompute_file({"forget_echo": {**stored, "agg_value": 0.75}}, None, plugins.metrics)
    assert check.status == "differs"
