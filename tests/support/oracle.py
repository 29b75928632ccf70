"""A straightforward, independent implementation of the published metric definitions (the acceptance baseline).

It shares nothing with the fused engine but the prompt template and the data: every metric runs its own passes
over its data, as the reference project does (a ``labels=``-style per-sample loss from full prompt + answer
sequences, one batch per perturbation index, its own ``model.generate`` loop per ROUGE entry, its own forward pass
per membership attack and for extraction strength). Like the reference's ``pre_compute`` cache, a probability of
one (data set, field) and each entry are computed once per run and reused by the entries that build on them.
The tests compare every per-sample value of the engine with this; ``benchmarks/eval_speed.py`` times both.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import torch
import torch.nn.functional as F

from support.oracle_text import StraightforwardText, auc_by_pairs, forget_quality_pvalue
from unlearn_core.evaluation.suite import EvalSuite, MetricEntry
from unlearn_core.token_rules import PromptTemplate

IGNORE = -100


class Straightforward(StraightforwardText):
    """Computes suite entries one metric at a time (see the module docstring)."""

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        template: PromptTemplate,
        suite: EvalSuite,
        *,
        batch_size: int,
        generation: dict[str, Any],
        retain_logs: dict[str, Any] | None = None,
        mia_reference: torch.nn.Module | None = None,
    ) -> None:
        super().__init__(model, tokenizer, template, suite, generation)
        self.batch_size = batch_size
        self.retain_logs = retain_logs
        self.mia_reference = mia_reference
        self.results: dict[str, dict[str, Any]] = {}
        self._losses: dict[tuple[str, str, int], list[list[float]]] = {}

    # ---- data ---------------------------------------------------------------------------------------------------
    def _sequences(self, dataset: str, field: str, j: int | None) -> list[tuple[list[int], list[int]]]:
        """(input ids, labels) per row: answer ``j`` of a list field, or the field itself; tokenised here."""
        ds = self.suite.datasets[dataset]
        out = []
        for row in ds.rows:
            answer = row[field][j] if j is not None else row[field]
            if ds.kind == "text":
                own = field == ds.question_field  # a document scored after BOS
                prefix = "" if own else row[ds.question_field]
                sample = self.template.completion(prefix, answer, 0, insert_space=ds.insert_space and not own)
            else:
                sample = self.template.qa(row[ds.question_field], answer, 0, ds.few_shot)
            ids = list(sample.prompt_ids + sample.target_ids)
            out.append((ids, [IGNORE] * len(sample.prompt_ids) + list(sample.target_ids)))
        return out

    def _batches(self, sequences: list[tuple[list[int], list[int]]]) -> Any:
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        device = next(self.model.parameters()).device
        for start in range(0, len(sequences), self.batch_size):
            chunk = sequences[start : start + self.batch_size]
            width = max(len(ids) for ids, _ in chunk)
            ids = torch.tensor([s + [pad] * (width - len(s)) for s, _ in chunk], device=device)
            labels = torch.tensor([lab + [IGNORE] * (width - len(lab)) for _, lab in chunk], device=device)
            mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s, _ in chunk], device=device)
            yield ids, mask, labels

    # ---- per-sample losses ----------------------------------------------------------------------------------------
    def _avg_losses(self, model: torch.nn.Module, dataset: str, field: str, j: int | None) -> list[float]:
        """Per-sample mean cross-entropy over the labelled tokens (the reference's per-sample loss)."""
        out: list[float] = []
        with torch.no_grad():
            for ids, mask, labels in self._batches(self._sequences(dataset, field, j)):
                logits = model(input_ids=ids, attention_mask=mask, labels=labels).logits.float()
                shifted, targets = logits[:, :-1].transpose(1, 2), labels[:, 1:]
                per_token = F.cross_entropy(shifted, targets, ignore_index=IGNORE, reduction="none")
                counts = (targets != IGNORE).sum(dim=1)
                out += (per_token.sum(dim=1) / counts).tolist()
        return out

    def losses(self, dataset: str, field: str, which: int = 0) -> list[list[float]]:
        """Per row, the average loss of each answer of ``field`` (one pass per perturbation index)."""
        key = (dataset, field, which)
        if key not in self._losses:
            model = self.model if which == 0 else self.mia_reference
            assert model is not None, "mia_reference needs a reference model"
            rows = self.suite.datasets[dataset].rows
            if isinstance(rows[0][field], list):
                per_j = [self._avg_losses(model, dataset, field, j) for j in range(len(rows[0][field]))]
                self._losses[key] = [[per_j[j][i] for j in range(len(per_j))] for i in range(len(rows))]
            else:
                self._losses[key] = [[x] for x in self._avg_losses(model, dataset, field, None)]
        return self._losses[key]

    # ---- entries ----------------------------------------------------------------------------------------------------
    def run(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """Compute ``keys`` (and what they build on), one metric at a time."""
        for key in keys:
            self.result(key)
        return self.results

    def result(self, key: str) -> dict[str, Any]:
        """Entry ``key``, computed by its own code path on first use."""
        if key not in self.results:
            entry = self.suite.entries[key]
            if entry.metric.startswith("mia_"):
                self.results[key] = self._mia(entry, entry.metric[len("mia_") :])
            else:
                self.results[key] = getattr(self, f"_{entry.metric}")(entry)
        return self.results[key]

    def _probability(self, e: MetricEntry) -> dict[str, Any]:
        field = e.args.field
        listed = isinstance(self.suite.datasets[e.dataset].rows[0][field], list)
        losses = self.losses(e.dataset, field)
        probs = [sum(math.exp(-x) for x in row) / len(row) for row in losses]
        by_index = {}
        for i, row in enumerate(losses):
            if listed:
                by_index[str(i)] = {"prob": [math.exp(-x) for x in row], "avg_loss": list(row)}
            else:
                by_index[str(i)] = {"prob": math.exp(-row[0]), "avg_loss": row[0]}
        return {"agg_value": sum(probs) / len(probs), "value_by_index": by_index}

    def _probability_normalised(self, e: MetricEntry) -> dict[str, Any]:
        correct = self.losses(e.dataset, e.args.correct)
        wrong = self.losses(e.dataset, e.args.wrong)
        scores = []
        for c, w in zip(correct, wrong):
            p_c = math.exp(-c[0])
            scores.append(p_c / (p_c + sum(math.exp(-x) for x in w) + 1e-10))
        return {
            "agg_value": sum(scores) / len(scores),
            "value_by_index": {str(i): {"prob": s} for i, s in enumerate(scores)},
        }

    def _truth_ratio(self, e: MetricEntry) -> dict[str, Any]:
        correct = self.losses(e.dataset, e.args.correct)
        wrong = self.losses(e.dataset, e.args.wrong)
        ratios = [math.exp(-sum(w) / len(w)) / (math.exp(-c[0]) + 1e-10) for c, w in zip(correct, wrong)]
        if e.args.aggregator == "closer_to_1_better":
            agg = sum(min(r, 1 / (r + 1e-10)) for r in ratios) / len(ratios)
        else:
            agg = sum(max(0.0, 1 - r) for r in ratios) / len(ratios)
        return {"agg_value": agg, "value_by_index": {str(i): {"score": r} for i, r in enumerate(ratios)}}

    def _forget_quality(self, e: MetricEntry) -> dict[str, Any]:
        key = e.args.truth_ratio_key
        ours = [v["score"] for v in self.result(key)["value_by_index"].values()]
        assert self.retain_logs is not None, "forget_quality needs retain logs"
        theirs = [v["score"] for v in self.retain_logs[key]["value_by_index"].values()]
        return {"agg_value": forget_quality_pvalue(ours, theirs)}

    def _privleak(self, e: MetricEntry) -> dict[str, Any]:
        key = e.args.mia_key
        auc = self.result(key)["auc"]
        assert self.retain_logs is not None, "privleak needs retain logs"
        ref = self.retain_logs[key]["auc"]
        return {"agg_value": ((1 - auc) - (1 - ref)) / ((1 - ref) + 1e-10) * 100}

    # ---- teacher-forced token statistics (their own pass each) -------------------------------------------------------
    def _token_pass(self, model: torch.nn.Module, dataset: str, field: str) -> list[dict[str, Any]]:
        """Per sample: target ids, log-softmax rows and argmax predictions over the targets (EOS included)."""
        out = []
        with torch.no_grad():
            for ids, mask, labels in self._batches(self._sequences(dataset, field, None)):
                logits = model(input_ids=ids, attention_mask=mask).logits.double()
                for b in range(ids.shape[0]):
                    positions = (labels[b, 1:] != IGNORE).nonzero().flatten()
                    rows = torch.log_softmax(logits[b, positions], dim=-1)
                    out.append({"targets": labels[b, 1:][positions], "logp": rows, "argmax": rows.argmax(dim=-1)})
        return out

    def _memorization(self, e: MetricEntry, extraction: bool) -> dict[str, Any]:
        by_index = {}
        for i, s in enumerate(self._token_pass(self.model, e.dataset, e.args.field)):
            hits = (s["argmax"] == s["targets"])[:-1].tolist()  # the last target is EOS
            n = len(hits)
            if extraction:
                k_star = n
                for k in range(n):
                    if all(hits[k:]):
                        k_star = k
                        break
                score = 1 - k_star / n if n else math.nan
            else:
                score = sum(hits) / n if n else math.nan
            by_index[str(i)] = {"score": score}
        scores = [v["score"] for v in by_index.values() if not math.isnan(v["score"])]
        return {"agg_value": sum(scores) / len(scores), "value_by_index": by_index}

    def _extraction_strength(self, e: MetricEntry) -> dict[str, Any]:
        return self._memorization(e, extraction=True)

    def _exact_memorization(self, e: MetricEntry) -> dict[str, Any]:
        return self._memorization(e, extraction=False)

    # ---- membership inference (one pass per attack and side, like the reference's attack classes) --------------------
    def _attack_scores(self, attack: str, dataset: str, field: str, k: float) -> list[float]:
        if attack in ("loss", "zlib", "reference"):
            losses = [row[0] for row in self._fresh_losses(self.model, dataset, field)]
            if attack == "loss":
                return losses
            if attack == "zlib":  # the scored target ids, decoded
                sequences = self._sequences(dataset, field, None)
                texts = [
                    self.tokenizer.decode([t for t in labels if t != IGNORE], skip_special_tokens=True)
                    for _, labels in sequences
                ]
                return [x / len(zlib.compress(t.encode("utf-8"))) for x, t in zip(losses, texts)]
            ref = [row[0] for row in self._fresh_losses(self.mia_reference, dataset, field)]
            return [a - b for a, b in zip(losses, ref)]
        if attack == "gradnorm":
            return self._gradnorms(dataset, field)
        scores = []
        for s in self._token_pass(self.model, dataset, field):
            lp = s["logp"].gather(1, s["targets"].unsqueeze(1)).squeeze(1)[:-1]
            if attack == "min_k_plus_plus":
                p = s["logp"].exp()[:-1]
                mu = (p * s["logp"][:-1]).sum(dim=-1)
                sigma2 = (p * s["logp"][:-1] ** 2).sum(dim=-1) - mu**2
                lp = (lp - mu) / sigma2.clamp_min(1e-6).sqrt()
            lowest = sorted(lp.tolist())[: max(1, int(len(lp) * k))]
            scores.append(-sum(lowest) / len(lowest))
        return scores

    def _fresh_losses(self, model: Any, dataset: str, field: str) -> list[list[float]]:
        return [[x] for x in self._avg_losses(model, dataset, field, None)]

    def _gradnorms(self, dataset: str, field: str) -> list[float]:
        scores = []
        params = [p for p in self.model.parameters() if p.requires_grad]
        saved = [p.grad for p in params]
        for ids, mask, labels in self._batches(self._sequences(dataset, field, None)):
            for b in range(ids.shape[0]):
                for p in params:
                    p.grad = None
                logits = self.model(input_ids=ids[b : b + 1], attention_mask=mask[b : b + 1]).logits.float()
                positions = (labels[b, 1:] != IGNORE).nonzero().flatten()[:-1]
                logp = torch.log_softmax(logits[0, positions], dim=-1)
                (-logp.gather(1, labels[b, 1:][positions].unsqueeze(1)).mean()).backward()
                norms = [p.grad.norm() for p in params if p.grad is not None]
                scores.append(float(torch.stack(norms).mean()))
        for p, g in zip(params, saved):
            p.grad = g
        return scores

    def _mia(self, e: MetricEntry, attack: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for side in ("forget", "holdout"):
            name = getattr(e.args, side)
            field = e.args.field or self.suite.datasets[name].question_field
            scores = self._attack_scores(attack, name, field, e.args.k)
            out[side] = {"value_by_index": {str(i): {"score": s} for i, s in enumerate(scores)}}
            out[side]["agg_value"] = sum(scores) / len(scores)
        auc = auc_by_pairs(
            [v["score"] for v in out["forget"]["value_by_index"].values()],
            [v["score"] for v in out["holdout"]["value_by_index"].values()],
        )
        return {**out, "auc": auc, "agg_value": auc}
