"""Golden values, computed by hand, for ``multiple_choice``: each choice's log-likelihood is minus its summed
negative log-probability; ``pred`` is the first argmax; ``acc_norm`` divides by the choice's length in characters."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from unlearn_core import entries
from unlearn_core.evaluation.builtin import choice
from unlearn_core.evaluation.recompute import recompute_file


class Context:
    """What the metric sees: per question one statistics object per choice, and the raw fields."""

    def __init__(self, nll_sums: list[list[float]], rows: list[dict[str, Any]]) -> None:
        self.nll_sums, self.rows = nll_sums, rows

    def stats(self, dataset: str, field: str, **_: Any) -> list[Any]:
        assert (dataset, field) == ("q", "labels")
        return [[SimpleNamespace(nll_sum=x) for x in row] for row in self.nll_sums]

    def texts(self, dataset: str, field: str) -> list[Any]:
        return [row[field] for row in self.rows]


def test_score_row_by_hand():
    # lls / lengths = [-3/3, -2.5/2, -4/5, -1.8/1] = [-1.0, -1.25, -0.8, -1.8]: argmax 3 raw, argmax 2 normalised
    record = choice.score_row([-3.0, -2.5, -4.0, -1.8], ["yes", "no", "maybe", "x"], 2)
    assert record == {"acc": 0.0, "acc_norm": 1.0, "pred": 3, "target": 2, "loglikelihoods": [-3.0, -2.5, -4.0, -1.8]}


def test_ties_go_to_the_first_choice_as_argmax_does():
    assert choice.score_row([-1.0, -1.0, -2.0, -1.0], ["A", "B", "C", "D"], 0)["pred"] == 0
    assert choice.score_row([-1.0, -1.0, -2.0, -1.0], ["A", "B", "C", "D"], 1)["acc"] == 0.0


def test_compute_means_over_questions():
    rows = [
        {"labels": ["A", "B", "C", "D"], "answer": 1},  # lls -2.0, -0.5, -3.0, -1.0: pred 1, right
        {"labels": ["A", "B", "C", "D"], "answer": 0},  # lls -0.7, -0.2, -2.2, -4.0: pred 1, wrong
        {"labels": ["A", "BB", "C", "D"], "answer": 1},  # lls -1.0, -1.5, -2.0, -3.0: pred 0; /len: -0.75 wins
    ]
    nll = [[2.0, 0.5, 3.0, 1.0], [0.7, 0.2, 2.2, 4.0], [1.0, 1.5, 2.0, 3.0]]
    result = choice.compute(Context(nll, rows), entries.multiple_choice("mmlu", "q", choices="labels"))
    assert result["agg_value"] == pytest.approx(1 / 3)
    assert result["acc_norm"] == pytest.approx(2 / 3)
    assert [v["pred"] for v in result["value_by_index"].values()] == [1, 1, 0]
    assert result["value_by_index"]["1"]["loglikelihoods"] == [-0.7, -0.2, -2.2, -4.0]


def test_recompute_finds_a_stored_prediction_that_does_not_follow():
    stored = {
        "agg_value": 1.0,
        "acc_norm": 1.0,
        "value_by_index": {"0": {"acc": 1.0, "acc_norm": 1.0, "pred": 0, "target": 0, "loglikelihoods": [-2.0, -1.0]}},
        "definition": {"metric": "multiple_choice", "dataset": "q", "args": {"choices": "labels", "answer": "answer"}},
    }
    from unlearn_core.plugins import load_plugins

    checks = recompute_file({"mmlu": stored}, None, load_plugins(entry_points=False).metrics)
    check = next(c for c in checks if c.key == "mmlu")
    assert check.recomputed == 0.0 and check.per_sample_differences == 2
