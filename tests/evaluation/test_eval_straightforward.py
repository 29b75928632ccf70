"""Acceptance: the fused engine equals an independent, straightforward implementation of the published definitions.

Tiny random Llama, tokenizer trained on the rows, a TOFU-shaped suite (every TOFU entry, all six attacks). Every
per-sample value agrees within 1e-4 relative; generations are identical, so ROUGE values are equal exactly.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

pytest.importorskip("unlearn_tofu")

from support.oracle import Straightforward  # noqa: E402
from support.tiny_setup import TINY_TEMPLATE, texts_of, tiny_model_and_tokenizer  # noqa: E402
from unlearn_tofu.embedded import generate_tofu  # noqa: E402
from unlearn_tofu.suite import tofu_suite  # noqa: E402

from unlearn_core.evaluation.engine import EvaluationEngine  # noqa: E402
from unlearn_core.plugins import load_plugins  # noqa: E402
from unlearn_core.token_rules import PromptTemplate  # noqa: E402

REL = 1e-4
GENERATION = {"max_new_tokens": 10, "batch_size": 3}


def tofu_rows(rows_per_set: int = 5) -> dict[str, list[dict[str, Any]]]:
    """Small TOFU-shaped data sets with the hub's fields (3 perturbed answers per question)."""
    configs = generate_tofu(seed=0, n_authors=10, questions_per_author=rows_per_set, n_perturbed=3)
    names = {
        "forget": "forget10_perturbed",
        "retain": "retain_perturbed",
        "ra": "real_authors_perturbed",
        "wf": "world_facts_perturbed",
        "holdout": "holdout10",
    }
    return {role: configs[name][:rows_per_set] for role, name in names.items()}


REFERENCE_LOGS = {
    "forget_truth_ratio": {"value_by_index": {str(i): {"score": 0.2 + 0.15 * i} for i in range(5)}},
    "mia_min_k": {"auc": 0.37, "agg_value": 0.37},
}


def run_both() -> tuple[dict[str, Any], dict[str, Any], Any, Any]:
    """Every entry of the suite, by the fused engine and by the straightforward implementation."""
    data = tofu_rows()
    model, tokenizer = tiny_model_and_tokenizer(texts_of(data), seed=0)
    reference, _ = tiny_model_and_tokenizer(texts_of(data), seed=1)
    suite = tofu_suite(data)
    template = PromptTemplate(tokenizer, TINY_TEMPLATE, 96)
    keys = [k for k, e in suite.entries.items() if e.metric != "classifier_prob"]  # needs a classifier
    engine = EvaluationEngine(
        model,
        tokenizer,
        template,
        suite,
        load_plugins(entry_points=False).metrics,
        batch_size=3,
        generation=GENERATION,
        retain_logs=REFERENCE_LOGS,
        mia_reference=reference,
    )
    fused = engine.run(keys)
    baseline = Straightforward(
        model,
        tokenizer,
        template,
        suite,
        batch_size=3,
        generation=GENERATION,
        retain_logs=REFERENCE_LOGS,
        mia_reference=reference,
    )
    plain = baseline.run(keys)
    return fused, plain, engine, baseline


@pytest.fixture(scope="module")
def both() -> tuple[dict[str, Any], dict[str, Any], Any, Any]:
    return run_both()


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None or (a is None and math.isnan(b)) or (b is None and math.isnan(a))
    return math.isclose(a, b, rel_tol=REL, abs_tol=1e-7)


def _compare_value(where: str, got: Any, expected: Any, scale: float | None = None) -> int:
    if isinstance(expected, list):  # one value per answer of a list field
        assert isinstance(got, list) and len(got) == len(expected), where
        return sum(_compare_value(f"{where}[{j}]", g, x, scale) for j, (g, x) in enumerate(zip(got, expected)))
    if isinstance(expected, str):
        assert got == expected, f"{where}: {got!r} != {expected!r}"
    elif scale is not None:
        assert abs(got - expected) <= REL * scale, f"{where}: {got} != {expected}"
    else:
        assert _close(got, expected), f"{where}: {got} != {expected}"
    return 1


def _compare_samples(key: str, ours: dict[str, Any], theirs: dict[str, Any]) -> int:
    compared = 0
    assert set(ours) == set(theirs), key
    for index, value in theirs.items():
        for name, expected in value.items():
            scale = None
            if key.startswith("mia_reference") and not isinstance(expected, str):
                # a difference of two losses: within 1e-4 relative to the losses it is computed from
                scale = max(abs(ours[index]["loss"]), abs(ours[index]["reference_loss"]))
            compared += _compare_value(f"{key}[{index}].{name}", ours[index][name], expected, scale)
    return compared


def test_every_entry_and_per_sample_value_agrees(both: tuple[dict[str, Any], dict[str, Any], Any, Any]) -> None:
    fused, plain, _, _ = both
    compared = 0
    for key, expected in plain.items():
        got = fused[key]
        assert _close(got["agg_value"], expected["agg_value"]), f"{key}: {got['agg_value']} != {expected['agg_value']}"
        if "auc" in expected:
            assert _close(got["auc"], expected["auc"]), key
            for side in ("forget", "holdout"):
                compared += _compare_samples(
                    f"{key}.{side}", got[side]["value_by_index"], expected[side]["value_by_index"]
                )
        if "value_by_index" in expected:
            compared += _compare_samples(key, got["value_by_index"], expected["value_by_index"])
    assert compared > 350  # every entry of the suite, every sample


def test_the_same_entries_are_computed(both: tuple[dict[str, Any], dict[str, Any], Any, Any]) -> None:
    fused, plain, _, _ = both
    assert set(plain) <= set(fused)
    assert {"forget_Q_A_PARA_ROUGE", "retain_Q_A_PERT_ROUGE", "mia_reference", "mia_gradnorm"} <= set(plain)


def test_generations_are_identical_and_random_model_never_hits_eos(
    both: tuple[dict[str, Any], dict[str, Any], Any, Any],
) -> None:
    fused, _, engine, baseline = both
    for key, generations in baseline.generations_by_entry.items():
        stored = [v["generation"] for v in fused[key]["value_by_index"].values()]
        assert [g[0] if isinstance(g, list) else g for g in stored] == generations, key
    # a random model follows no draft: every row was decoded, and each prompt set was generated once
    assert engine.decoding.draft_rows == 0
    assert set(engine.generated.values()) == {1}
