"""Recompute aggregates from the per-sample values of a saved ``<BENCH>_EVAL.json`` (no model needed).

Each entry we write carries its ``definition`` (metric name and arguments) and enough per-sample values to derive
its aggregate: losses for probabilities and truth ratios, generations and ground truths for ROUGE, suffix lengths
and hit counts for extraction strength and exact memorisation, per-sample scores for membership attacks. Where a
per-sample value can itself be derived (a truth ratio from its losses, a ROUGE score from its generation), it is
checked too. Entries from other tools (no definition) are recognised by their shape when possible.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from unlearn_core.metrics import forget_quality as fq
from unlearn_core.metrics import mia
from unlearn_core.metrics import truth_ratio as tr_math

REL_TOL = 1e-6
"""Per-sample values are stored as float32 by some tools (the reference writes ``exp`` of a float32 loss)."""


@dataclass
class Check:
    """One entry: its stored and recomputed aggregate, and whether they (and its per-sample values) agree."""

    key: str
    stored: float | None
    recomputed: float | None = None
    status: str = "ok"
    note: str = ""
    per_sample_differences: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for ``--json``."""
        return asdict(self)


def close(a: Any, b: Any) -> bool:
    """Equal up to float rounding (both None counts as equal)."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b)) + 1e-12


def _finite(values: list[Any]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def _mean(values: list[Any]) -> float | None:
    finite = _finite(values)
    return float(np.mean(finite)) if finite else None


class Recomputer:
    """Recomputes the entries of one result file, caching what later entries build on."""

    def __init__(self, results: dict[str, Any], retain_logs: dict[str, Any] | None, extra: dict[str, Any]) -> None:
        self.results = results
        self.retain_logs = retain_logs
        self.extra = extra
        self.values: dict[str, float | None] = {}
        self.samples: dict[str, list[Any]] = {}
        self.checks: dict[str, Check] = {}

    def run(self) -> list[Check]:
        """Check every entry of the file (the manifest is not an entry)."""
        for key in self.results:
            if key != "manifest" and isinstance(self.results[key], dict):
                self.check(key)
        return list(self.checks.values())

    def check(self, key: str) -> Check:
        """Recompute entry ``key`` (once)."""
        if key in self.checks:
            return self.checks[key]
        entry = self.results[key]
        check = Check(key, entry.get("agg_value"))
        self.checks[key] = check
        metric = (entry.get("definition") or {}).get("metric") or _guess(key, entry)
        how = RECOMPUTE.get(metric) if metric else None
        if how is None and metric in self.extra:
            how = self.extra[metric]
        if how is None:
            check.status, check.note = "skipped", f"cannot recompute metric {metric or '(unknown)'}"
            return check
        try:
            value, note = how(self, key, entry, check)
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
            check.status, check.note = "skipped", f"not enough per-sample data ({type(exc).__name__}: {exc})"
            return check
        self.values[key] = check.recomputed = value
        check.note = note or check.note
        if check.status == "ok" and not close(check.stored, value):
            check.status = "differs"
        if check.status == "ok" and check.per_sample_differences:
            check.status = "differs"
        return check

    def value(self, key: str) -> float | None:
        """The recomputed aggregate of another entry (its stored one when it cannot be recomputed)."""
        if key not in self.results:
            raise KeyError(f"entry '{key}' is not in the file")
        check = self.check(key)
        return self.values[key] if key in self.values else check.stored

    def compare(self, check: Check, stored: Any, derived: Any) -> Any:
        """Count a per-sample value that does not match its derivation; returns the derived value."""
        if not close(stored, derived):
            check.per_sample_differences += 1
        return derived


def _guess(key: str, entry: dict[str, Any]) -> str | None:
    """The metric of an entry without a stored definition, from its layout (logs of other tools)."""
    if {"forget", "holdout"} <= set(entry) and "auc" in entry:
        return "mia_generic"
    rows = list((entry.get("value_by_index") or {}).values())
    if not rows or not isinstance(rows[0], dict):
        return None
    if "prob" in rows[0]:
        return "probability"
    if "generation" in rows[0] and "ground_truth" in rows[0]:
        return "rouge"
    if "score" in rows[0] and "truth_ratio" in key.lower():
        return "truth_ratio"
    return None


def _rows(entry: dict[str, Any]) -> list[dict[str, Any]]:
    return list(entry["value_by_index"].values())


def _probability(r: Recomputer, key: str, entry: dict[str, Any], check: Check) -> tuple[float | None, str]:
    probs = []
    for row in _rows(entry):
        prob, loss = row["prob"], row.get("avg_loss")
        if isinstance(prob, list):  # a list field: one value per answer
            if isinstance(loss, list) and len(loss) == len(prob):
                prob = [p if x is None else r.compare(check, p, math.exp(-x)) for p, x in zip(prob, loss)]
            probs.append(_mean(prob))
        elif row.get("avg_losses") is not None and None not in row["avg_losses"]:  # our layout before 0.2
            probs.append(r.compare(check, prob, float(np.mean([math.exp(-x) for x in row["avg_losses"]]))))
        elif loss is not None and "avg_losses" not in row:
            probs.append(r.compare(check, prob, math.exp(-loss)))
        else:
            probs.append(prob)
    return _mean(probs), ""


def _losses_of(rows: list[dict[str, Any]]) -> tuple[list[float], list[list[float]]]:
    return [row["correct_avg_loss"] for row in rows], [row["wrong_avg_losses"] for row in rows]


def _probability_normalised(r: Recomputer, key: str, entry: dict[str, Any], check: Check) -> tuple[Any, str]:
    rows = _rows(entry)
    if all("correct_avg_loss" in row for row in rows):
        derived = tr_math.probability_normalised(*_losses_of(rows))
        return _mean([r.compare(check, row["prob"], float(d)) for row, d in zip(rows, derived)]), ""
    return _mean([row["prob"] for row in rows]), "from the stored per-sample values"


def _truth_ratio(r: Recomputer, key: str, entry: dict[str, Any], check: Check) -> tuple[Any, str]:
    rows = _rows(entry)
    scores = [row["score"] for row in rows]
    if all("correct_avg_loss" in row for row in rows):
        derived = tr_math.truth_ratios(*_losses_of(rows))
        scores = [r.compare(check, s, float(d)) for s, d in zip(scores, derived)]
    r.samples[key] = scores
    aggregator = (entry.get("definition") or {}).get("args", {}).get("aggregator") or entry.get("aggregator")
    finite = _finite(scores)
    both = {name: tr_math.aggregate_truth_ratio(finite, name) for name in ("closer_to_1_better", "true_better")}
    for name, value in (entry.get("by_aggregator") or {}).items():
        if name in both:
            r.compare(check, value, both[name])
    if aggregator is None:  # logs of another tool: whichever aggregator reproduces the stored value
        aggregator = next((n for n, v in both.items() if close(v, check.stored)), "closer_to_1_better")
        return both[aggregator], f"aggregator inferred: {aggregator}"
    return both[aggregator], ""


def _rouge(r: Recomputer, key: str, entry: dict[str, Any], check: Check) -> tuple[Any, str]:
    from unlearn_core.metrics.rouge import rouge_scores

    kind = entry.get("rouge_type") or (entry.get("definition") or {}).get("args", {}).get("rouge_type")
    values = []
    for row in _rows(entry):
        truths, generations = row["ground_truth"], row["generation"]
        listed = isinstance(truths, list)
        if not listed:
            truths = [truths]
        if not isinstance(generations, list):
            generations = [generations] * len(truths)
        each = [rouge_scores(gen, gt) for gen, gt in zip(generations, truths)]
        for name in each[0] if each else ():
            if name in row:
                stored = row[name] if listed else [row[name]]
                for a, b in zip(stored, (s[name] for s in each)):
                    r.compare(check, a, b)
        values.append({name: _mean([s[name] for s in each]) for name in each[0]} if each else {})
    if kind is None:  # logs of another tool: whichever ROUGE figure reproduces the stored value
        names = [n for n in ("rougeL_recall", "rougeL_f1", "rouge1_recall", "rouge1_f1") if values and n in values[0]]
        kind = next((n for n in names if close(_mean([v[n] for v in values]), check.stored)), "rougeL_recall")
        return _mean([v[kind] for v in values]), f"rouge type inferred: {kind}"
    return _mean([v[kind] for v in values]), ""


def _memorization(kind: str) -> Callable[..., tuple[Any, str]]:
    def recompute(r: Recomputer, key: str, entry: dict[str, Any], check: Check) -> tuple[Any, str]:
        scores = []
        for row in _rows(entry):
            part = row.get("suffix" if kind == "es" else "hits")
            if part is None or not row.get("n"):
                scores.append(row["score"])
            else:
                scores.append(r.compare(check, row["score"], part / row["n"]))
        return _mean(scores), ""

    return recompute


def _mia(r: Recomputer, key: str, entry: dict[str, Any], check: Check) -> tuple[Any, str]:
    sides = {}
    for side in ("forget", "holdout"):
        scores = [row["score"] for row in entry[side]["value_by_index"].values()]
        r.compare(check, entry[side].get("agg_value"), _mean(scores))
        sides[side] = _finite(scores)
    value = mia.auc(sides["forget"], sides["holdout"])
    if "auc" in entry:
        r.compare(check, entry["auc"], value)
    return value, ""


def _forget_quality(r: Recomputer, key: str, entry: dict[str, Any], check: Check) -> tuple[Any, str]:
    tr_key = (entry.get("definition") or {}).get("args", {}).get("truth_ratio_key", "forget_truth_ratio")
    if r.retain_logs is None:
        raise ValueError("needs --retain-logs (the retain model's EVAL.json)")
    r.value(tr_key)
    ours = _finite(r.samples.get(tr_key) or [v["score"] for v in _rows(r.results[tr_key])])
    theirs = _finite([v["score"] for v in _rows(r.retain_logs[tr_key])])
    return fq.forget_quality(ours, theirs), ""


def _privleak(r: Recomputer, key: str, entry: dict[str, Any], check: Check) -> tuple[Any, str]:
    mia_key = (entry.get("definition") or {}).get("args", {}).get("mia_key", "mia_min_k")
    auc = r.value(mia_key)
    if r.retain_logs is not None:
        ref = r.retain_logs[mia_key]
        return fq.privleak(auc, ref.get("auc", ref.get("agg_value"))), ""
    return fq.privleak(auc, entry["reference_auc"]), "reference AUC as stored (no --retain-logs)"


def _harmonic_mean(r: Recomputer, key: str, entry: dict[str, Any], check: Check) -> tuple[Any, str]:
    keys = (entry.get("definition") or {}).get("args", {}).get("keys") or list(entry["components"])
    values = {k: r.value(k) for k in keys}
    if any(v is None for v in values.values()):
        return None, "a component is undefined"
    return fq.model_utility(values), ""


RECOMPUTE: dict[str, Callable[..., tuple[Any, str]]] = {
    "probability": _probability,
    "probability_normalised": _probability_normalised,
    "truth_ratio": _truth_ratio,
    "rouge": _rouge,
    "extraction_strength": _memorization("es"),
    "exact_memorization": _memorization("em"),
    "forget_quality": _forget_quality,
    "privleak": _privleak,
    "harmonic_mean": _harmonic_mean,
    "mia_generic": _mia,
    **{f"mia_{a}": _mia for a in ("loss", "zlib", "min_k", "min_k_plus_plus", "gradnorm", "reference")},
}
"""How each built-in metric's aggregate follows from its per-sample values."""


def recompute_file(
    results: dict[str, Any], retain_logs: dict[str, Any] | None = None, extra: dict[str, Any] | None = None
) -> list[Check]:
    """Check every entry of a loaded ``<BENCH>_EVAL.json``; ``extra`` maps plugin metric names to recompute hooks."""
    return Recomputer(results, retain_logs, extra or {}).run()
