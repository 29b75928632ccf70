"""Entries derived from other entries and the retain model's logs: ``forget_quality``, ``privleak``,
``harmonic_mean`` (model utility)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unlearn_core.errors import RetainLogsError
from unlearn_core.evaluation.builtin.common import clean, rows
from unlearn_core.evaluation.metric import EvaluationContext, Metric, RecomputeContext
from unlearn_core.evaluation.suite import MetricEntry
from unlearn_core.metrics import forget_quality as fq


@dataclass(frozen=True)
class ForgetQualityArgs:
    """``truth_ratio_key``: the truth-ratio entry compared with the retain model's same entry."""

    truth_ratio_key: str = "forget_truth_ratio"


@dataclass(frozen=True)
class PrivleakArgs:
    """``mia_key``: the attack whose AUC is compared with the retain model's."""

    mia_key: str = "mia_min_k"


@dataclass(frozen=True)
class HarmonicMeanArgs:
    """``keys``: the entries whose aggregates are combined."""

    keys: tuple[str, ...]


def forget_quality_entry(key: str = "forget_quality", truth_ratio_key: str = "forget_truth_ratio") -> MetricEntry:
    """``key`` = the KS-test p-value of ``truth_ratio_key``'s per-sample ratios against the retain model's."""
    return MetricEntry(key, "forget_quality", None, ForgetQualityArgs(truth_ratio_key))


def privleak_entry(key: str = "privleak", mia_key: str = "mia_min_k") -> MetricEntry:
    """``key`` = the relative AUC gap of ``mia_key`` against the retain model's."""
    return MetricEntry(key, "privleak", None, PrivleakArgs(mia_key))


def harmonic_mean_entry(key: str, keys: list[str] | tuple[str, ...]) -> MetricEntry:
    """``key`` = the harmonic mean of the aggregates of ``keys`` (0 when any is 0)."""
    return MetricEntry(key, "harmonic_mean", None, HarmonicMeanArgs(tuple(keys)))


def _ratios(entry: dict[str, Any], where: str) -> list[Any]:
    try:
        return [v["score"] for v in entry["value_by_index"].values()]
    except (KeyError, TypeError, AttributeError):
        raise RetainLogsError(f"{where}: no value_by_index with 'score' values") from None


def compute_forget_quality(ctx: EvaluationContext, e: MetricEntry) -> dict[str, Any]:
    """The KS-test p-value between this model's and the retain model's forget truth ratios."""
    key = e.args.truth_ratio_key
    ours = _ratios(ctx.result(key), key)
    theirs = _ratios(ctx.retain_log(key), f"retain logs: '{key}'")
    if len(theirs) != len(ours):
        raise RetainLogsError(
            f"retain logs: '{key}' has {len(theirs)} samples, this evaluation has {len(ours)}: "
            "they come from a different forget split"
        )
    ours_f, theirs_f = [v for v in ours if v is not None], [v for v in theirs if v is not None]
    return {"agg_value": fq.forget_quality(ours_f, theirs_f), "n": len(ours_f), "reference_n": len(theirs_f)}


def compute_privleak(ctx: EvaluationContext, e: MetricEntry) -> dict[str, Any]:
    """``((1 - AUC) - (1 - AUC_retain)) / (1 - AUC_retain + 1e-10) * 100``: near 0 is ideal."""
    key = e.args.mia_key
    auc = ctx.result(key)["auc"]
    ref = ctx.retain_log(key)
    ref_auc = ref.get("auc", ref.get("agg_value")) if isinstance(ref, dict) else None
    if ref_auc is None:
        raise RetainLogsError(f"retain logs: '{key}' has no AUC (agg_value)")
    return {"agg_value": clean(fq.privleak(auc, ref_auc)), "auc": auc, "reference_auc": ref_auc}


def compute_harmonic_mean(ctx: EvaluationContext, e: MetricEntry) -> dict[str, Any]:
    """Model utility: the harmonic mean of other entries' aggregates (0 when any is 0)."""
    values = {k: ctx.result(k)["agg_value"] for k in e.args.keys}
    missing = [k for k, v in values.items() if v is None]
    if missing:
        return {"agg_value": None, "undefined_because": missing}
    return {"agg_value": fq.model_utility(values), "components": values}


def recompute_forget_quality(r: RecomputeContext, stored: dict[str, Any]) -> float | None:
    """The p-value again from the recomputed truth ratios and the retain logs' (needs ``--retain-logs``)."""
    if r.retain_logs is None:
        raise ValueError("needs --retain-logs (the retain model's EVAL.json)")
    key = r.args.truth_ratio_key
    r.value(key)
    ours = [float(v) for v in r.samples(key) if v is not None]
    theirs = [float(v["score"]) for v in rows(r.retain_logs[key]) if v["score"] is not None]
    return fq.forget_quality(ours, theirs)


def recompute_privleak(r: RecomputeContext, stored: dict[str, Any]) -> float | None:
    """The gap again from the recomputed AUC and the retain logs' (the stored reference AUC without them)."""
    auc = r.value(r.args.mia_key)
    if r.retain_logs is not None:
        ref = r.retain_logs[r.args.mia_key]
        return fq.privleak(auc, ref.get("auc", ref.get("agg_value")))
    r.note("reference AUC as stored (no --retain-logs)")
    return fq.privleak(auc, stored["reference_auc"])


def recompute_harmonic_mean(r: RecomputeContext, stored: dict[str, Any]) -> float | None:
    """The harmonic mean of the recomputed components."""
    values = {k: r.value(k) for k in r.args.keys}
    if any(v is None for v in values.values()):
        r.note("a component is undefined")
        return None
    return fq.model_utility(values)


FORGET_QUALITY = Metric(
    "forget_quality",
    compute_forget_quality,
    "KS-test p-value of forget truth ratios against the retain model's",
    args=ForgetQualityArgs,
    depends=lambda e: [e.args.truth_ratio_key],
    retain_logs=lambda e: [e.args.truth_ratio_key],
    recompute=recompute_forget_quality,
)
PRIVLEAK = Metric(
    "privleak",
    compute_privleak,
    "relative MIA AUC gap against the retain model",
    args=PrivleakArgs,
    depends=lambda e: [e.args.mia_key],
    retain_logs=lambda e: [e.args.mia_key],
    recompute=recompute_privleak,
)
HARMONIC_MEAN = Metric(
    "harmonic_mean",
    compute_harmonic_mean,
    "harmonic mean of other results (model utility)",
    args=HarmonicMeanArgs,
    depends=lambda e: list(e.args.keys),
    recompute=recompute_harmonic_mean,
)
