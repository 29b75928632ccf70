"""Golden values for each MUSE metric path: ROUGE-L F1, stop strings, few-shot prompts, min-k privleak, the suite."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from unlearn_muse.suite import KNOWMEM_STOP, muse_suite

from unlearn_core.evaluation.builtin.derived import PRIVLEAK
from unlearn_core.evaluation.builtin.rouge import METRIC as ROUGE
from unlearn_core.metrics import mia
from unlearn_core.metrics.rouge import cut_at_stop_strings, rouge_scores
from unlearn_core.models.presets import RAW_TAGS
from unlearn_core.models.tiny import train_tokenizer
from unlearn_core.token_rules import PromptTemplate


def _data() -> dict[str, list[dict[str, str]]]:
    qa = [{"question": "Who led the rescue in Kasvale?", "answer": "Ur Finril"}]
    icl = [
        {"question": "When was the flood in Obby?", "answer": "2 May"},
        {"question": "How many workers walked out in Dunton?", "answer": "412"},
    ]
    text = [{"text": "A fire broke out in Kasvale."}]
    return {
        "verbmem_forget": [{"prompt": "A fire broke out", "gt": " in Kasvale on 3 May."}],
        "knowmem_forget_qa": qa,
        "knowmem_retain_qa": qa,
        "knowmem_forget_qa_icl": icl,
        "knowmem_retain_qa_icl": icl[:1],
        "privleak_forget": text,
        "privleak_holdout": text,
    }


class FakeEngine:
    """The part of the evaluation engine a metric sees, with canned generations and retain logs."""

    def __init__(self, suite: Any, generations: list[str], reference: dict[str, Any] | None = None) -> None:
        self.suite = suite
        self.canned = generations
        self.calls: list[tuple[Any, ...]] = []
        self.retain_logs = reference or {}
        self.results: dict[str, Any] = {}

    def dataset(self, name: str) -> Any:
        return self.suite.datasets[name]

    def generations(self, request: Any) -> list[str]:
        self.calls.append((request.dataset, request.max_new_tokens, tuple(request.stop)))
        return [cut_at_stop_strings(g, request.stop).strip() for g in self.canned]

    def texts(self, dataset: str, field: str) -> list[Any]:
        return [row[field] for row in self.dataset(dataset).rows]

    def ground_truths(self, dataset: str, field: str, question_field: str | None = None) -> list[Any]:
        return [text.strip() for text in self.texts(dataset, field)]

    def inputs(self, dataset: str, question_field: str | None = None) -> list[str]:
        return self.texts(dataset, question_field or self.dataset(dataset).question_field)

    def result(self, key: str) -> dict[str, Any]:
        return self.results[key]

    def retain_log(self, key: str) -> dict[str, Any]:
        return self.retain_logs[key]


def test_rouge_l_f1_golden_pair():
    # prediction tokens: ur finril led the crews (5); reference: ur finril (2); LCS = 2
    scores = rouge_scores("Ur Finril led the crews", "Ur Finril")
    assert scores["rougeL_recall"] == pytest.approx(1.0)
    assert scores["rougeL_f1"] == pytest.approx(2 * (2 / 5) * 1.0 / (2 / 5 + 1.0))  # 0.5714
    # LCS of "the cat sat on the mat" / "the cat lay on the mat" is 5 of 6 tokens on both sides
    assert rouge_scores("the cat sat on the mat", "the cat lay on the mat")["rougeL_f1"] == pytest.approx(5 / 6)


def test_stop_strings_cut_each_sequence_at_its_own_first_stop():
    generated = [
        "Ur Finril\n\nQuestion: Who else?",
        "2 May\nQuestion",
        "412 Question: and then\n\n",
        "no stop string at all",
        "Question: at once",
    ]
    cut = [cut_at_stop_strings(g, KNOWMEM_STOP).strip() for g in generated]
    assert cut == ["Ur Finril", "2 May", "412", "no stop string at all", ""]


def test_knowmem_entry_scores_rouge_l_f1_of_cut_generations():
    suite = muse_suite(_data())
    ctx = FakeEngine(suite, ["Ur Finril led the crews\n\nQuestion: next?"])
    result = ROUGE.compute(ctx, suite.entries["forget_knowmem_ROUGE"])
    assert ctx.calls == [("knowmem_forget", 32, KNOWMEM_STOP)]
    assert result["value_by_index"]["0"]["generation"] == "Ur Finril led the crews"
    assert result["agg_value"] == pytest.approx(0.5714285714)


def test_verbmem_entry_continues_the_prompt_and_scores_against_gt():
    suite = muse_suite(_data())
    ctx = FakeEngine(suite, ["in Kasvale on 3 May. Then rain."])
    result = ROUGE.compute(ctx, suite.entries["forget_verbmem_ROUGE"])
    assert ctx.calls == [("verbmem_forget", 128, ())]
    # reference: in kasvale on 3 may (5); prediction adds: then rain (7); LCS 5
    assert result["agg_value"] == pytest.approx(2 * (5 / 7) * 1.0 / (5 / 7 + 1.0))
    assert muse_suite(_data(), 64).entries["forget_verbmem_ROUGE"].args.max_new_tokens == 64


def test_few_shot_prompt_puts_every_icl_turn_before_the_question():
    corpus = ["Question: Who led the rescue?\nAnswer: Ur Finril\n\n", "A fire broke out in Kasvale on 3 May."] * 5
    tokenizer = train_tokenizer(corpus, 300)
    template = PromptTemplate(tokenizer, {"apply_chat_template": False, **RAW_TAGS}, 512)
    ds = muse_suite(_data()).datasets["knowmem_forget"]
    assert ds.kind == "qa" and ds.few_shot == [
        ("When was the flood in Obby?", "2 May"),
        ("How many workers walked out in Dunton?", "412"),
    ]
    ids = template.prompt_ids(ds.rows[0]["question"], ds.few_shot)
    assert ids[0] == tokenizer.bos_token_id
    assert tokenizer.decode(ids, skip_special_tokens=True) == (
        "Question: When was the flood in Obby?\nAnswer: 2 May\n\n"
        "Question: How many workers walked out in Dunton?\nAnswer: 412\n\n"
        "Question: Who led the rescue in Kasvale?\nAnswer: "
    )


def test_min_k_attack_and_privleak_golden_values():
    logprobs = torch.tensor([-0.1, -2.0, -0.5, -3.0, -1.0])  # K = int(5 * 0.4) = 2 lowest: -3.0, -2.0
    assert mia.min_k_score(logprobs, 0.4) == pytest.approx(2.5)
    assert mia.auc([0.2, 0.3], [4.0, 5.0]) == 1.0  # memorised forget text scores lower than every holdout text
    assert mia.auc([1.0, 4.0], [2.0, 3.0]) == 0.5
    suite = muse_suite(_data())
    ctx = FakeEngine(suite, [], reference={"mia_min_k": {"auc": 0.5, "agg_value": 0.5}})
    ctx.results["mia_min_k"] = {"auc": 0.9}
    result = PRIVLEAK.compute(ctx, suite.entries["privleak"])
    assert result["agg_value"] == pytest.approx(((1 - 0.9) - (1 - 0.5)) / (1 - 0.5) * 100)  # -80
    ctx.results["mia_min_k"] = {"auc": 0.5}
    assert PRIVLEAK.compute(ctx, suite.entries["privleak"])["agg_value"] == pytest.approx(0.0)


def test_suite_layout_matches_the_muse_definitions():
    suite = muse_suite(_data())
    assert suite.benchmark == "muse"
    assert suite.default_keys == [
        "forget_knowmem_ROUGE",
        "retain_knowmem_ROUGE",
        "forget_verbmem_ROUGE",
        "privleak",
        "extraction_strength",
    ]
    assert suite.aliases == {
        "verbmem_f": "forget_verbmem_ROUGE",
        "knowmem_f": "forget_knowmem_ROUGE",
        "knowmem_r": "retain_knowmem_ROUGE",
    }
    assert suite.datasets["verbmem_forget"].insert_space
    assert suite.datasets["verbmem_forget"].kind == "text"
    assert suite.datasets["verbmem_forget"].question_field == "prompt"
    assert suite.datasets["knowmem_retain"].few_shot == [("When was the flood in Obby?", "2 May")]
    for name in ("privleak_forget", "privleak_holdout"):
        assert (suite.datasets[name].kind, suite.datasets[name].question_field) == ("text", "text")
    entries = suite.entries
    assert entries["retain_knowmem_ROUGE"].definition()["args"] == {
        "target": "answer",
        "rouge_type": "rougeL_f1",
        "question_field": None,
        "max_new_tokens": 32,
        "stop": ["\n\n", "\nQuestion", "Question:"],
        "draft": None,
    }
    assert entries["privleak"].definition()["args"] == {"mia_key": "mia_min_k"}
    assert entries["mia_min_k"].definition()["args"] == {
        "forget": "privleak_forget",
        "holdout": "privleak_holdout",
        "field": "text",
        "k": 0.4,
    }
    assert (entries["extraction_strength"].dataset, entries["extraction_strength"].definition()["args"]) == (
        "verbmem_forget",
        {"field": "gt"},
    )
    for attack in ("loss", "zlib", "min_k_plus_plus", "gradnorm", "reference"):
        assert entries[f"mia_{attack}"].metric == f"mia_{attack}"
    assert math.isclose(entries["mia_min_k_plus_plus"].args.k, 0.4)
