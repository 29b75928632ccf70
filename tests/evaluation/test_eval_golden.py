"""Golden values, computed by hand, for the metric entries (the layer over ``unlearn_core.metrics``): per-sample
means over perturbations, normalised probability, both truth-ratio aggregates, ROUGE on paraphrased and perturbed
answers, extraction strength / exact memorisation records, attacks, derived entries, and draft acceptance."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from unlearn_core import entries
from unlearn_core.evaluation.builtin import BUILTIN_METRICS
from unlearn_core.evaluation.decoding import DecodingCounters, accept_draft, generate_tokens
from unlearn_core.evaluation.metric import Generate
from unlearn_core.evaluation.suite import EvalDataset, MetricEntry
from unlearn_core.metrics.statistics import SampleStatistics

LN2 = math.log(2)
METRICS = {m.name: m for m in BUILTIN_METRICS}


def compute(ctx: Any, entry: MetricEntry) -> dict[str, Any]:
    """The entry's result, by its registered built-in metric (arguments checked as the engine checks them)."""
    METRICS[entry.metric].check(entry)
    return METRICS[entry.metric].compute(ctx, entry)


def st(avg_loss: float, hits: list[int] | None = None, logprobs: list[float] | None = None) -> SampleStatistics:
    """Hand-made statistics: ``hits``/``logprobs`` over the targets excluding EOS."""
    hits = hits or []
    lp = torch.tensor(logprobs if logprobs is not None else [0.0] * len(hits))
    return SampleStatistics(avg_loss, avg_loss, len(hits) + 1, lp, torch.tensor(hits, dtype=torch.bool), lp.clone())


class FakeContext:
    """What a metric sees of the engine: statistics, generations, texts and other results, all given by hand."""

    def __init__(self, stats: dict[tuple[str, str], list[Any]], rows: list[dict[str, Any]] | None = None) -> None:
        self._stats = stats
        self.ds = EvalDataset("d", rows or [], "question")
        self.results: dict[str, dict[str, Any]] = {}
        self.retain_logs: dict[str, Any] = {}
        self.generation_calls: list[dict[str, Any]] = []

    def stats(self, dataset: str, field: str, **_: Any) -> list[Any]:
        return self._stats[(dataset, field)]

    def dataset(self, name: str) -> EvalDataset:
        return self.ds

    def texts(self, dataset: str, field: str) -> list[Any]:
        return [row[field] for row in self.ds.rows]

    def ground_truths(self, dataset: str, field: str, question_field: str | None = None) -> list[Any]:
        return self.texts(dataset, field)

    def inputs(self, dataset: str, question_field: str | None = None) -> list[str]:
        return [f"Q: {row[question_field or 'question']}" for row in self.ds.rows]

    def generations(self, request: Generate) -> list[str]:
        self.generation_calls.append({"question_field": request.question_field, "draft_field": request.draft_field})
        return ["the cat sat"] * len(self.ds.rows)

    def result(self, key: str) -> dict[str, Any]:
        return self.results[key]

    def retain_log(self, key: str) -> dict[str, Any]:
        return self.retain_logs[key]


def test_probability_of_a_list_field_is_the_mean_over_its_answers() -> None:
    ctx = FakeContext({("d", "perturbed_answer"): [[st(LN2), st(2 * LN2)], [st(0.0), st(0.0)]]})
    out = compute(ctx, entries.probability("k", "d", "perturbed_answer"))
    # one value per answer, as the reference writes them; a sample counts as their mean: (1/2 + 1/4) / 2
    assert out["value_by_index"]["0"]["prob"] == pytest.approx([0.5, 0.25])
    assert out["value_by_index"]["0"]["avg_loss"] == pytest.approx([LN2, 2 * LN2])
    assert out["agg_value"] == pytest.approx((0.375 + 1.0) / 2)


def test_probability_normalised_by_hand() -> None:
    ctx = FakeContext({("d", "answer"): [st(LN2)], ("d", "perturbed_answer"): [[st(2 * LN2), st(3 * LN2)]]})
    out = compute(ctx, entries.probability_normalised("k", "d"))
    assert out["agg_value"] == pytest.approx(0.5 / (0.5 + 0.25 + 0.125))  # 4/7
    assert out["value_by_index"]["0"]["wrong_avg_losses"] == pytest.approx([2 * LN2, 3 * LN2])


def test_truth_ratio_keeps_raw_ratios_and_both_aggregates() -> None:
    # sample 0: P_c = 1/2, P_w = exp(-mean(ln2, 3 ln2)) = 1/4 -> tr = 1/2; sample 1: P_c = 1/4, P_w = 1/2 -> tr = 2
    stats = {
        ("d", "paraphrased_answer"): [st(LN2), st(2 * LN2)],
        ("d", "perturbed_answer"): [[st(LN2), st(3 * LN2)], [st(LN2)]],
    }
    out = compute(FakeContext(stats), entries.truth_ratio("k", "d", "paraphrased_answer", "closer_to_1_better"))
    assert [v["score"] for v in out["value_by_index"].values()] == pytest.approx([0.5, 2.0], rel=1e-9)
    assert out["by_aggregator"]["closer_to_1_better"] == pytest.approx(0.5)  # mean(min(1/2, 2), min(2, 1/2))
    assert out["by_aggregator"]["true_better"] == pytest.approx(0.25)  # mean(1 - 1/2, max(0, 1 - 2))
    assert out["agg_value"] == out["by_aggregator"]["closer_to_1_better"] and out["aggregator"] == "closer_to_1_better"


def test_rouge_on_perturbed_answers_is_the_mean_over_them() -> None:
    rows = [{"question": "q", "answer": "the cat", "perturbed_answer": ["the cat", "a dog"]}]
    ctx = FakeContext({}, rows)
    out = compute(ctx, entries.rouge("k", "d", target="perturbed_answer", draft="answer"))
    # generation "the cat sat": rougeL recall 1 against "the cat", 0 against "a dog"; the sample counts as 0.5
    assert out["value_by_index"]["0"]["rougeL_recall"] == pytest.approx([1.0, 0.0])
    assert out["value_by_index"]["0"]["ground_truth"] == ["the cat", "a dog"]
    assert out["value_by_index"]["0"]["generation"] == ["the cat sat"] * 2
    assert out["agg_value"] == pytest.approx(0.5)
    assert ctx.generation_calls == [{"question_field": None, "draft_field": "answer"}]  # the data set's question


def test_rouge_on_the_paraphrase_scores_the_question_generation() -> None:
    # the reference's PARA_ROUGE: generated from the question, scored against the paraphrased answer
    rows = [{"question": "q", "paraphrased_question": "pq", "paraphrased_answer": "a cat sat down"}]
    ctx = FakeContext({}, rows)
    out = compute(ctx, entries.rouge("k", "d", target="paraphrased_answer", draft="answer"))
    assert ctx.generation_calls[0]["question_field"] is None  # the data set's own question field
    assert out["value_by_index"]["0"]["input"] == "Q: q"
    assert out["value_by_index"]["0"]["rougeL_recall"] == pytest.approx(0.5)  # "cat sat" of 4 reference words


def test_extraction_strength_and_exact_memorisation_records() -> None:
    ctx = FakeContext({("d", "answer"): [st(1.0, [1, 0, 1, 1]), st(1.0, [1, 1, 1, 0])]})
    es = compute(ctx, entries.extraction_strength("k", "d"))
    assert es["value_by_index"]["0"] == {"score": 0.5, "suffix": 2, "n": 4}
    assert es["value_by_index"]["1"] == {"score": 0.0, "suffix": 0, "n": 4}  # last token wrong: 0, not 1/n
    em = compute(ctx, entries.exact_memorization("k", "d"))
    assert [v["hits"] for v in em["value_by_index"].values()] == [3, 3]
    assert em["agg_value"] == pytest.approx(0.75)


def test_loss_attack_auc_by_hand() -> None:
    stats = {("f", "answer"): [st(1.0), st(3.0)], ("h", "answer"): [st(2.0), st(4.0)]}
    attacks = {e.key: e for e in entries.mia_attacks("f", "h", field="answer")}
    out = compute(FakeContext(stats), attacks["mia_loss"])
    # holdout above forget in 3 of 4 pairs (2>1, 4>1, 4>3; 2<3)
    assert out["auc"] == pytest.approx(0.75) and out["agg_value"] == out["auc"]
    assert out["forget"]["agg_value"] == pytest.approx(2.0)


def test_min_k_attack_takes_the_lowest_forty_percent() -> None:
    lp = [-1.0, -4.0, -2.0, -8.0, -0.5]  # K = int(5 * 0.4) = 2 -> -mean(-8, -4) = 6
    stats = {("f", "answer"): [st(1.0, [1] * 5, lp)], ("h", "answer"): [st(1.0, [1] * 5, [-1.0] * 5)]}
    attacks = {e.key: e for e in entries.mia_attacks("f", "h", field="answer", k=0.4)}
    out = compute(FakeContext(stats), attacks["mia_min_k"])
    assert out["forget"]["value_by_index"]["0"]["score"] == pytest.approx(6.0)
    assert out["auc"] == 0.0  # the holdout sample scores lower (looks more like a member)


def test_privleak_and_model_utility_entries() -> None:
    ctx = FakeContext({})
    ctx.results["mia_min_k"] = {"auc": 0.9}
    ctx.retain_logs["mia_min_k"] = {"auc": 0.5}
    out = compute(ctx, entries.privleak())
    assert out["agg_value"] == pytest.approx((0.1 - 0.5) / (0.5 + 1e-10) * 100)  # -80
    assert out["reference_auc"] == 0.5
    ctx.results.update({"a": {"agg_value": 0.5}, "b": {"agg_value": 0.25}, "c": {"agg_value": None}})
    assert compute(ctx, entries.harmonic_mean("mu", ["a", "b"]))["agg_value"] == (pytest.approx(1 / 3))
    undefined = compute(ctx, entries.harmonic_mean("mu", ["a", "c"]))
    assert undefined == {"agg_value": None, "undefined_because": ["c"]}


def test_forget_quality_entry_records_sample_sizes() -> None:
    ctx = FakeContext({})
    ctx.results["forget_truth_ratio"] = {"value_by_index": {"0": {"score": 0.1}, "1": {"score": 0.2}}}
    ctx.retain_logs["forget_truth_ratio"] = {"value_by_index": {"0": {"score": 0.8}, "1": {"score": 0.9}}}
    out = compute(ctx, entries.forget_quality())
    assert out["agg_value"] == pytest.approx(2 / math.comb(4, 2))  # complete separation: 1/3
    assert (out["n"], out["reference_n"]) == (2, 2)


@pytest.mark.parametrize(
    ("draft", "argmax", "max_new", "expected"),
    [
        ((5, 6, 2), (5, 6, 2), 10, ([5, 6, 2], True)),  # follows the whole draft to EOS
        ((5, 6, 7, 2), (5, 9, 7, 2), 10, ([5, 9], False)),  # diverges at step 1: 9 is known, the rest is not
        ((5, 6, 2), (5, 2, 8), 10, ([5, 2], True)),  # the first disagreement is EOS: finished
        ((5, 6, 7, 8), (5, 6, 7, 8), 2, ([5, 6], True)),  # max_new_tokens reached
        ((5, 6), (5, 6), 10, ([5, 6], False)),  # draft exhausted without EOS: decoding continues
        ((), (), 10, ([], False)),
    ],
)
def test_accept_draft(draft: tuple[int, ...], argmax: tuple[int, ...], max_new: int, expected: Any) -> None:
    assert accept_draft(draft, argmax, max_new, eos_id=2) == expected


def test_a_draft_whose_output_holds_a_stop_settles_its_row() -> None:
    # draft 5 6 7 8, greedy choices 5 6 7 9: the output follows the draft to 7, then says 9 and would go on decoding;
    # the stop check (token 6 seen) ends the row there, so no model is called (there is none)
    counters = DecodingCounters()
    outputs = generate_tokens(
        None,  # type: ignore[arg-type]
        [(1, 2)],
        [((5, 6, 7, 8), (5, 6, 7, 9))],
        max_new_tokens=10,
        batch_size=1,
        pad_id=0,
        eos_id=None,
        counters=counters,
        stop_checks=[lambda ids: 6 in ids],
    )
    assert outputs == [[5, 6, 7, 9]]
    assert counters.draft_rows == 1 and counters.model_calls == 0


def test_an_entry_with_arguments_of_another_metric_is_refused() -> None:
    with pytest.raises(TypeError, match="needs ProbabilityArgs arguments, got dict"):
        compute(FakeContext({}), MetricEntry("k", "probability", "d", {"field": "answer"}))
