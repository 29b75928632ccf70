"""Engine guarantees: one scoring pass per (model, data set, answer field), one generation per (data set, prompt
field, settings), float32 statistics, masks from lengths, and drafts that never change a generation."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

pytest.importorskip("unlearn_tofu")

from support.same_statistics import assert_same_statistics  # noqa: E402
from support.tiny_setup import (  # noqa: E402
    TINY_TEMPLATE,
    texts_of,
    tiny_model_and_tokenizer,
    tofu_like_rows,
)
from unlearn_tofu.suite import tofu_suite  # noqa: E402

from unlearn_core.evaluation.engine import EvaluationEngine  # noqa: E402
from unlearn_core.evaluation.metric import Generate  # noqa: E402
from unlearn_core.evaluation.scoring import AnswerGroup, ScoringCounters, score_groups, score_plain  # noqa: E402
from unlearn_core.plugins import load_plugins  # noqa: E402
from unlearn_core.token_rules import PromptTemplate  # noqa: E402

GENERATION = {"max_new_tokens": 6, "batch_size": 3}


@pytest.fixture(scope="module")
def setting() -> tuple[Any, Any, Any]:
    data = tofu_like_rows()
    model, tokenizer = tiny_model_and_tokenizer(texts_of(data))
    return model, tokenizer, tofu_suite(data)


def engine_for(model: Any, tokenizer: Any, suite: Any, **kwargs: Any) -> EvaluationEngine:
    template = PromptTemplate(tokenizer, TINY_TEMPLATE, 96)
    metrics = load_plugins(entry_points=False).metrics
    options = {"batch_size": 3, "generation": GENERATION, **kwargs}
    return EvaluationEngine(model, tokenizer, template, suite, metrics, **options)


class CallCounter:
    """Counts calls of a model's forward and forbids ``generate``."""

    def __init__(self, model: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        forward = model.forward

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return forward(*args, **kwargs)

        def no_generate(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the engine decodes itself; model.generate must not be called")

        monkeypatch.setattr(model, "forward", counted)
        monkeypatch.setattr(model, "generate", no_generate)


def test_each_answer_field_scored_once_and_each_prompt_set_generated_once(
    setting: tuple[Any, Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, tokenizer, suite = setting
    counter = CallCounter(model, monkeypatch)
    engine = engine_for(model, tokenizer, suite, retain_logs={}, mia_reference=model)
    skip = ("forget_quality", "privleak", "mia_gradnorm", "classifier_prob")
    keys = [k for k, e in suite.entries.items() if e.metric not in skip]
    engine.run(keys)
    for (dataset, field, reference), n in engine.scored.items():
        rows = suite.datasets[dataset].rows
        assert n == sum(len(r[field]) if isinstance(r[field], list) else 1 for r in rows), (dataset, field, reference)
    assert (("forget", "paraphrased_answer", False)) in engine.scored
    # one generation per data set: PARA_ROUGE and PERT_ROUGE score Q_A_ROUGE's generation (as the reference)
    assert set(engine.generated.values()) == {1} and len(engine.generated) == 4
    assert engine.decoding.generate_calls == 1  # all four prompt sets decoded together
    assert counter.calls == engine.scoring.model_calls + engine.decoding.model_calls
    before = counter.calls
    engine.run(keys)
    assert counter.calls == before  # everything cached


def test_fields_are_fused_and_shared_prefixes_run_once(
    setting: tuple[Any, Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from unlearn_core.evaluation import scoring

    model, tokenizer, suite = setting
    checked = {(type(model), model.config._attn_implementation, torch.float32): True}
    monkeypatch.setattr(scoring, "PACKING", checked)
    engine = engine_for(model, tokenizer, suite, batch_size=8)
    engine.run(["forget_truth_ratio", "forget_Q_A_Prob"])
    # one model call for the 4 prompts and all three answer fields, common answer beginnings once
    assert engine.scoring.by_kind == {"packed": 1}
    plain_tokens = sum(
        len(p) + len(t)
        for field in ("answer", "paraphrased_answer", "perturbed_answer")
        for row in engine.tokens.targets(suite.datasets["forget"], field)
        for p, t in row
    )
    assert engine.scoring.tokens < plain_tokens / 2


def test_gradnorm_runs_no_scoring_pass(setting: tuple[Any, Any, Any]) -> None:
    model, tokenizer, suite = setting
    engine = engine_for(model, tokenizer, suite)
    result = engine.run(["mia_gradnorm"])["mia_gradnorm"]
    assert not engine.scored and engine.scoring.model_calls == 0
    assert 0.0 <= result["auc"] <= 1.0


def test_z_scores_only_where_a_metric_reads_them(setting: tuple[Any, Any, Any]) -> None:
    model, tokenizer, suite = setting
    engine = engine_for(model, tokenizer, suite)
    engine.run(["mia_min_k", "forget_Q_A_PARA_Prob", "mia_min_k_plus_plus"])
    assert engine.stats("forget", "answer")[0].minkpp_z is not None
    assert engine.stats("forget", "paraphrased_answer")[0].minkpp_z is None
    assert engine.scored[("forget", "answer", False)] == len(suite.datasets["forget"].rows)


def test_statistics_are_float32_for_a_bf16_model(setting: tuple[Any, Any, Any]) -> None:
    model, tokenizer, suite = setting
    half = tiny_model_and_tokenizer(texts_of(tofu_like_rows()))[0].to(torch.bfloat16)
    engine = engine_for(half, tokenizer, suite)
    stats = engine.stats("forget", "answer")
    assert stats[0].token_logprobs.dtype == torch.float32
    assert "packed" in engine.scoring.by_kind  # the packing check allows for bf16 rounding
    assert stats[0].minkpp_z is not None and stats[0].minkpp_z.dtype == torch.float32


def test_masks_come_from_lengths_not_from_the_pad_id(setting: tuple[Any, Any, Any]) -> None:
    model, tokenizer, _ = setting
    pad = tokenizer.pad_token_id
    prompt, answer = (5, pad, 9, 11, pad, 7), (12, pad, 13, 2)  # the pad id is a genuine token here
    groups = [AnswerGroup(prompt, (answer,)), AnswerGroup((5, 6), ((8, 9, 10, 11, 12, 13, 2),))]
    ours = score_groups(model, groups, batch_size=2, pad_id=pad, counters=ScoringCounters())[0][0]
    ids = torch.tensor([prompt + answer])
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0].float()
    logp = torch.log_softmax(logits[len(prompt) - 1 : -1], dim=-1)
    expected = -logp.gather(1, torch.tensor(answer).unsqueeze(1)).mean().item()
    assert math.isclose(ours.avg_loss, expected, rel_tol=1e-5)


def _retain_groups(engine: EvaluationEngine, suite: Any) -> list[AnswerGroup]:
    """Every retain answer after its prompt, plus a duplicate, a one-token and an empty answer per question."""
    ds = suite.datasets["retain"]
    groups = []
    for i in range(len(ds.rows)):
        fields = ("answer", "paraphrased_answer", "perturbed_answer")
        answers = [t for f in fields for _, t in engine.tokens.targets(ds, f)[i]]
        answers += [answers[1], answers[1][:1], ()]
        z = tuple(k % 2 == 0 for k in range(len(answers)))
        groups.append(AnswerGroup(engine.tokens.targets(ds, "answer")[i][0][0], tuple(answers), z))
    return groups


@pytest.mark.parametrize("scorer", ["packed", "prefix_tree"])
def test_shared_prefix_scorers_equal_plain_full_sequences(setting: tuple[Any, Any, Any], scorer: str) -> None:
    from unlearn_core.evaluation.packed import PackedScorer
    from unlearn_core.evaluation.prefix_tree import PrefixTreeScorer

    model, tokenizer, suite = setting
    groups = _retain_groups(engine_for(model, tokenizer, suite), suite)
    pad = tokenizer.pad_token_id
    kind = PackedScorer if scorer == "packed" else PrefixTreeScorer
    ours = kind(model, pad, 2, ScoringCounters()).score(groups)
    plain = score_plain(model, groups, batch_size=2, pad_id=pad, counters=ScoringCounters())
    assert_same_statistics(groups, ours, plain)


def test_a_model_that_ignores_the_tree_mask_falls_back_to_the_kv_cache(
    setting: tuple[Any, Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from unlearn_core.evaluation import packed, scoring

    def mismatch(self: Any, groups: Any, stats: Any) -> None:
        raise packed.PackingUnsupported("simulated")

    monkeypatch.setattr(scoring, "PACKING", {})
    monkeypatch.setattr(packed.PackedScorer, "_check", mismatch)
    model, tokenizer, suite = setting
    groups = _retain_groups(engine_for(model, tokenizer, suite), suite)
    counters = ScoringCounters()
    score_groups(model, groups, batch_size=2, pad_id=tokenizer.pad_token_id, counters=counters)
    assert "prefill" in counters.by_kind and list(scoring.PACKING.values()) == [False]


def _memorising_model(data: dict[str, list[dict[str, Any]]]) -> tuple[Any, Any]:
    """A tiny model trained until it reproduces the forget answers."""
    model, tokenizer = tiny_model_and_tokenizer(texts_of(data), weight_std=0.05)
    template = PromptTemplate(tokenizer, TINY_TEMPLATE, 96)
    samples = [template.qa(r["question"], r["answer"], i) for i, r in enumerate(data["forget"])]
    from unlearn_core.data import collate

    batch = collate(samples, tokenizer.pad_token_id)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(150):
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"])
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
    return model.eval(), tokenizer


def test_drafts_skip_decoding_without_changing_generations() -> None:
    data = tofu_like_rows()
    model, tokenizer = _memorising_model(data)
    suite = tofu_suite(data)
    generation = {"max_new_tokens": 24, "batch_size": 3}
    with_drafts = engine_for(model, tokenizer, suite, generation=generation)
    without = engine_for(model, tokenizer, suite, generation=generation, use_drafts=False)
    for engine in (with_drafts, without):
        engine.run(["forget_Q_A_ROUGE", "retain_Q_A_ROUGE", "forget_Q_A_PARA_ROUGE"])
    for key in ("forget", "retain"):
        assert with_drafts.generations(Generate(key)) == without.generations(Generate(key))
    paraphrased = Generate("forget", question_field="paraphrased_question", draft_field="paraphrased_answer")
    assert with_drafts.generations(paraphrased) == without.generations(paraphrased)
    assert with_drafts.decoding.draft_rows >= len(data["forget"])  # the memorised answers needed no decoding
    assert without.decoding.draft_rows == 0
    assert with_drafts.decoding.model_calls < without.decoding.model_calls


def test_stop_strings_end_rows_early_without_changing_what_is_kept(
    setting: tuple[Any, Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, tokenizer, suite = setting
    generation = {"max_new_tokens": 16, "batch_size": 3}
    request = Generate("forget", stop=("e", "never in a generation"))
    stopping = engine_for(model, tokenizer, suite, generation=generation)
    kept = stopping.generations(request)
    monkeypatch.setattr(EvaluationEngine, "_stop_check", lambda self, stops: None)  # every row to its budget
    to_budget = engine_for(model, tokenizer, suite, generation=generation)
    assert to_budget.generations(request) == kept
    assert any(kept) and all("e" not in text for text in kept)  # texts are cut before their first "e"
    assert stopping.decoding.model_calls < to_budget.decoding.model_calls


def test_static_cache_generations_equal_the_dynamic_loop(setting: tuple[Any, Any, Any]) -> None:
    from unlearn_core.evaluation.decoding import DecodingCounters, generate_tokens

    model, tokenizer, suite = setting
    engine = engine_for(model, tokenizer, suite)
    prompts = engine.tokens.prompts(suite.datasets["forget"], "question")[:5]
    budgets = [7, 3, 7, 12, 1]  # rows of one batch with their own budgets
    decode = tokenizer.decode
    checks = [None, None, lambda ids: "e" in decode(list(ids)), None, None]
    outputs = {}
    for cache in ("dynamic", "static"):
        counters = DecodingCounters()
        outputs[cache] = generate_tokens(
            model,
            prompts,
            [None] * len(prompts),
            max_new_tokens=budgets,
            batch_size=4,
            pad_id=tokenizer.pad_token_id,
            eos_id=tokenizer.eos_token_id,
            counters=counters,
            stop_checks=checks,
            cache=cache,
        )
        assert counters.decoded_rows == len(prompts)
    assert outputs["static"] == outputs["dynamic"]
    assert [len(o) for o in outputs["static"]][:2] == [7, 3] and 0 < len(outputs["static"][2]) <= 7
