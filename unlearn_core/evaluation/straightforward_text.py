"""The straightforward baseline's generation-based and derived entries: ROUGE, model utility, AUC, KS p-value."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import torch
from rouge_score import rouge_scorer
from scipy.stats import hmean, ks_2samp

from unlearn_core.data import PromptTemplate
from unlearn_core.evaluation.suite import EvalSuite, MetricEntry


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
            return list(self.tokenizer(row[question])["input_ids"])[: self.template.max_length - 1]
        return list(self.template.prompt_ids(row[question], ds.few_shot))

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
                text = self.tokenizer.decode(new, skip_special_tokens=True)
                cuts = [text.find(s) for s in stop if s and s in text]
                texts.append((text[: min(cuts)] if cuts else text).strip())
        return texts

    def _rouge(self, e: MetricEntry) -> dict[str, Any]:
        ds = self.suite.datasets[e.dataset]
        question = e.args.get("question_field", ds.question_field)
        target = e.args.get("target", "answer")
        max_new = e.args.get("max_new_tokens") or self.generation["max_new_tokens"]
        generations = self.generate(e.dataset, question, max_new, list(e.args.get("stop", ())))
        self.generations_by_entry[e.key] = generations
        by_index = {}
        for i, (gen, row) in enumerate(zip(generations, ds.rows)):
            truths = row[target] if isinstance(row[target], list) else [row[target]]
            scores = [self.scorer.score(target=t, prediction=gen) for t in truths]
            by_index[str(i)] = {
                "rouge1_recall": sum(s["rouge1"].recall for s in scores) / len(scores),
                "rouge1_f1": sum(s["rouge1"].fmeasure for s in scores) / len(scores),
                "rougeL_recall": sum(s["rougeL"].recall for s in scores) / len(scores),
                "rougeL_f1": sum(s["rougeL"].fmeasure for s in scores) / len(scores),
                "generation": gen,
            }
        kind = e.args.get("rouge_type", "rougeL_recall")
        values = [v[kind] for v in by_index.values()]
        return {"agg_value": sum(values) / len(values), "value_by_index": by_index}

    def _harmonic_mean(self, e: MetricEntry) -> dict[str, Any]:
        values = [self.result(k)["agg_value"] for k in e.args["keys"]]
        return {"agg_value": 0.0 if any(v == 0 for v in values) else float(hmean(values))}
