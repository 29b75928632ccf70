"""The embedded synthetic TOFU: determinism, split sizes and nesting, perturbations, schema, base training rows."""

from __future__ import annotations

import re

import pytest
from unlearn_tofu.embedded import EMBEDDED_DEFAULTS, base_training_rows, generate_tofu
from unlearn_tofu.embedded_attributes import ATTRIBUTES
from unlearn_tofu.schema import (
    FACT_PERTURBED_FIELDS,
    PERTURBED_FIELDS,
    QA_FIELDS,
    TOFU_CONFIG_NAMES,
    fields,
    required_fields,
)

from unlearn_core.toolkit.rows import validate_row

Q = EMBEDDED_DEFAULTS["questions_per_author"]


@pytest.fixture(scope="module")
def configs() -> dict[str, list[dict]]:
    return generate_tofu(**EMBEDDED_DEFAULTS)


@pytest.fixture(scope="module")
def every_attribute() -> dict[str, list[dict]]:
    """A set where each author answers every attribute, so the second row of an author asks where they were born."""
    return generate_tofu(seed=3, n_authors=20, questions_per_author=len(ATTRIBUTES))


def _pairs(rows: list[dict]) -> list[tuple[str, str]]:
    return [(row["question"], row["answer"]) for row in rows]


def _birth_place_names(rows: list[dict], per_author: int) -> set[str]:
    pattern = re.compile(r"^(?:Where was|In which city was|What is the birthplace of) (.+?)(?: born)?\?$")
    names = set()
    for start in range(0, len(rows), per_author):
        match = pattern.match(rows[start + 1]["question"])
        assert match, rows[start + 1]["question"]
        names.add(match.group(1))
    return names


def test_same_seed_same_data_other_seed_other_data(configs):
    assert generate_tofu(**EMBEDDED_DEFAULTS) == configs
    other = generate_tofu(**{**EMBEDDED_DEFAULTS, "seed": 1})
    assert other.keys() == configs.keys()
    assert _pairs(other["full"]) != _pairs(configs["full"])
    assert _pairs(other["real_authors"]) != _pairs(configs["real_authors"])


def test_every_hub_config_with_the_hub_field_names(configs):
    assert set(configs) == set(TOFU_CONFIG_NAMES)
    for name, rows in configs.items():
        assert rows, name
        expected = fields(name)
        for index, row in enumerate(rows):
            assert tuple(row) == tuple(expected), (name, index)
            validate_row(row, expected, f"{name} row {index}")
    assert required_fields("forget05_perturbed") == PERTURBED_FIELDS
    assert required_fields("world_facts_perturbed") == FACT_PERTURBED_FIELDS
    assert required_fields("holdout01") == QA_FIELDS


def test_split_sizes_follow_the_default_proportions(configs):
    n = EMBEDDED_DEFAULTS["n_authors"]
    assert len(configs["full"]) == n * Q
    for pct, authors in (("01", 1), ("05", 2), ("10", 4)):
        assert len(configs[f"forget{pct}"]) == authors * Q
        assert len(configs[f"holdout{pct}"]) == authors * Q
        assert len(configs[f"forget{pct}_perturbed"]) == authors * Q
        assert len(configs[f"retain{100 - int(pct)}"]) == (n - authors) * Q
    assert len(configs["retain_perturbed"]) == 4 * Q
    for part in ("real_authors", "world_facts"):
        assert 30 <= len(configs[part]) <= 60
        assert _pairs(configs[part]) == _pairs(configs[f"{part}_perturbed"])


def test_hub_sizes_at_two_hundred_authors():
    big = generate_tofu(n_authors=200)
    assert [len(big[name]) for name in ("forget01", "forget05", "forget10", "retain_perturbed")] == [40, 200, 400, 400]


def test_forget_is_the_tail_of_full_and_retain_its_complement(configs):
    full = _pairs(configs["full"])
    for forget, retain in (("forget01", "retain99"), ("forget05", "retain95"), ("forget10", "retain90")):
        f, r = _pairs(configs[forget]), _pairs(configs[retain])
        assert r + f == full
        assert not set(f) & set(r)
        assert _pairs(configs[f"{forget}_perturbed"]) == f
    f01, f05, f10 = (_pairs(configs[s]) for s in ("forget01", "forget05", "forget10"))
    assert f05[-len(f01) :] == f01 and f10[-len(f05) :] == f05
    h01, h05, h10 = (_pairs(configs[s]) for s in ("holdout01", "holdout05", "holdout10"))
    assert h05[-len(h01) :] == h01 and h10[-len(h05) :] == h05


def test_retain_perturbed_is_in_every_retain_split(configs):
    rp = _pairs(configs["retain_perturbed"])
    assert rp == _pairs(configs["full"])[: len(rp)]
    for retain in ("retain99", "retain95", "retain90"):
        assert set(rp) <= set(_pairs(configs[retain]))


def test_holdout_authors_are_not_in_full(every_attribute):
    per_author = len(ATTRIBUTES)
    full_names = _birth_place_names(every_attribute["full"], per_author)
    holdout_names = _birth_place_names(every_attribute["holdout10"], per_author)
    assert len(full_names) == 20 and len(holdout_names) == 2
    assert not full_names & holdout_names
    full_text = " ".join(q + " " + a for q, a in _pairs(every_attribute["full"]))
    assert not any(name in full_text for name in holdout_names)
    assert not set(_pairs(every_attribute["holdout10"])) & set(_pairs(every_attribute["full"]))


def test_perturbed_answers_are_wrong_and_distinct(configs):
    n = EMBEDDED_DEFAULTS["n_perturbed"]
    for name in ("forget10_perturbed", "retain_perturbed"):
        for row in configs[name]:
            wrong = row["perturbed_answer"]
            assert len(wrong) == len(set(wrong)) == n
            assert row["answer"] not in wrong and row["paraphrased_answer"] not in wrong
            assert row["paraphrased_answer"] != row["answer"]
            assert row["paraphrased_question"] != row["question"]
    for name in ("real_authors_perturbed", "world_facts_perturbed"):
        for row in configs[name]:
            assert len(set(row["perturbed_answer"])) == n and row["answer"] not in row["perturbed_answer"]


def test_answers_are_short(configs):
    words = [len(row["answer"].split()) for row in configs["full"]]
    assert 8 <= sum(words) / len(words) <= 18 and max(words) <= 20
    for part in ("real_authors", "world_facts"):
        assert all(len(row["answer"].split()) <= 4 for row in configs[part])


def test_more_perturbations_leave_the_facts_alone(configs):
    three = generate_tofu(**{**EMBEDDED_DEFAULTS, "n_perturbed": 3})
    assert _pairs(three["full"]) == _pairs(configs["full"])
    assert all(len(row["perturbed_answer"]) == 3 for row in three["forget10_perturbed"])


def test_base_training_rows_cover_the_famous_facts(configs):
    base = base_training_rows(EMBEDDED_DEFAULTS["seed"])
    assert all(tuple(row) == QA_FIELDS for row in base)
    known = set(_pairs(base))
    assert set(_pairs(configs["real_authors"]) + _pairs(configs["world_facts"])) <= known
    assert len(known) > len(configs["real_authors"]) + len(configs["world_facts"])  # extra phrasings
    small = generate_tofu(seed=EMBEDDED_DEFAULTS["seed"], n_authors=5, questions_per_author=4)
    assert _pairs(small["world_facts"]) == _pairs(configs["world_facts"])
    assert not known & set(_pairs(configs["full"]))


@pytest.mark.parametrize(
    "kwargs", [{"n_authors": 1}, {"questions_per_author": 0}, {"questions_per_author": 99}, {"n_perturbed": 0}]
)
def test_bad_sizes_are_value_errors(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        generate_tofu(**kwargs)
