"""The straightforward baseline's generation-based and derived entries: ROUGE, model utility, AUC, KS p-value."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import torch
from rouge_score import rouge_scorer
from scipy.stats import hmean, ks_2samp

from unlearn_core.evaluation.suite import EvalSuite, MetricEntry
from unlearn_core.token_rules import PromptTemplate


def auc_by_pairs(forget: list[float], holdout: list[float]) -> float:
    """ROC AUC (forget labelled 0, holdout 1) as the fraction of (forget, holdout) pairs ordered right, ties half."""
    wins = sum(1.0 if h > f else 0.5 if h == f else 0.0 for f in forget for h in holdout)
    return wins / (len(forget) * len(holdout))


def forget_quality_pvalue(ours: list[float], theirs: list[float]) -> float:
    """Two-sided two-sample KS p-value, floored at 2 / C(n + m, n) (its exact value under complete separation)."""
    pvalue = float(ks_2samp(ours, theirs).pvalue)
    return max(pvalue, 2 / math.comb(len(ours) + len(theirs), len(ours)))


class StraightforwardText(ABC):
    """Generation with ``model.generate`` per ROUGE entry, scored with ``rouge_score`` directly."""

    def __init__(
        self, model: torch.nn.Module, tokenizer: Any, template: PromptTemplate, suite: EvalSuite, generation: dict
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.template = template
        self.suite = suite
        self.generation = generation
        self.scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=True)
        self.generate_calls = 0
        self.generations_by_entry: dict[str, list[str]] = {}

    @abstractmethod
    def result(self, key: str) -> dict[str, Any]:
        """Entry ``key`` (implemented by :class:`Straightforward`)."""

    def _prompt(self, dataset: str, row: dict[str, Any], question: str) -> list[int]:
        ds = self.suite.datasets[dataset]
        if ds.kind == "text":
            return list(self.tokenizer(row[question], add_special_tokens=True)["input_ids"])
        return list(self.template.prompt_ids(row[question], ds.few_shot))

    def _ground_truth(self, dataset: str, row: dict[str, Any], question: str, answer: str) -> str:
        """The reference's ground truth: the scored ids decoded, minus the decoded prompt, stripped."""
        ds = self.suite.datasets[dataset]
        prompt = self.template.decode(self._prompt(dataset, row, question))
        if ds.kind == "text":
            sample = self.template.completion(row[question], answer, 0, insert_space=ds.insert_space)
            ids = list(sample.target_ids)
        else:
            sample = self.template.qa(row[question], answer, 0, ds.few_shot)
            ids = list(sample.prompt_ids + sample.target_ids)
        return self.template.decode(ids).replace(prompt, "").strip()

    def generate(self, dataset: str, question: str, max_new: int, stop: list[str]) -> list[str]:
        """Greedy generations of every row, batch by batch with ``model.generate`` (left padding, stop at EOS)."""
        rows = self.suite.datasets[dataset].rows
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        eos = self.tokenizer.eos_token_id
        device = next(self.model.parameters()).device
        size = self.generation["batch_size"]
        texts: list[str] = []
        for start in range(0, len(rows), size):
            prompts = [self._prompt(dataset, row, question) for row in rows[start : start + size]]
            width = max(len(p) for p in prompts)
            ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=device)
            mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)
            with torch.no_grad():
                out = self.model.generate(
                    input_ids=ids,
                    attention_mask=mask,
                    max_new_tokens=max_new,
                    do_sample=False,
                    pad_token_id=pad,
                    eos_token_id=eos,
                )
            self.generate_calls += 1
            for new in out[:, width:].tolist():
                if eos is not None and eos in new:
                    new = new[: new.index(eos)]
                text = self.template.decode(new)
                cuts = [text.find(s) for s in stop if s and s in text]
                texts.append((text[: min(cuts)] if cuts else text).strip())
        return texts

    def _rouge(self, e: MetricEntry) -> dict[str, Any]:
        ds = self.suite.datasets[e.dataset]
        question = e.args.question_field or ds.question_field
        target = e.args.target
        max_new = e.args.max_new_tokens or self.generation["max_new_tokens"]
        generations = self.generate(e.dataset, question, max_new, list(e.args.stop))
        self.generations_by_entry[e.key] = generations
        by_index: dict[str, Any] = {}
        for i, (gen, row) in enumerate(zip(generations, ds.rows)):
            listed = isinstance(row[target], list)
            answers = row[target] if listed else [row[target]]
            truths = [self._ground_truth(e.dataset, row, question, a) for a in answers]
            scores = [self.scorer.score(target=t, prediction=gen) for t in truths]
            value = {
                "rouge1_recall": [s["rouge1"].recall for s in scores],
                "rouge1_f1": [s["rouge1"].fmeasure for s in scores],
                "rougeL_recall": [s["rougeL"].recall for s in scores],
                "rougeL_f1": [s["rougeL"].fmeasure for s in scores],
                "generation": [gen] * len(scores),
                "ground_truth": truths,
            }
            by_index[str(i)] = value if listed else {name: v[0] for name, v in value.items()}
        kind = e.args.rouge_type
        values = [sum(v[kind]) / len(v[kind]) if isinstance(v[kind], list) else v[kind] for v in by_index.values()]
        return {"agg_value": sum(values) / len(values), "value_by_index": by_index}

    def _harmonic_mean(self, e: MetricEntry) -> dict[str, Any]:
        values = [self.result(k)["agg_value"] for k in e.args.keys]
        return {"agg_value": 0.0 if any(v == 0 for v in values) else float(hmean(values))}
