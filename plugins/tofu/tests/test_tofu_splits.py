"""Split resolution: consistent defaults, misspellings and mismatched pairings."""

from __future__ import annotations

import pytest
from unlearn_tofu.splits import evaluation_configs, resolve_splits

from unlearn_core.errors import ConfigError, UnknownNameError


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ((None, None, None), ("forget10", "retain90", "holdout10")),
        (("forget10", None, None), ("forget10", "retain90", "holdout10")),
        (("forget05", None, None), ("forget05", "retain95", "holdout05")),
        (("forget01", None, None), ("forget01", "retain99", "holdout01")),
        ((None, "retain95", None), ("forget05", "retain95", "holdout05")),
        ((None, None, "holdout01"), ("forget01", "retain99", "holdout01")),
        (("forget05", "retain95", "holdout05"), ("forget05", "retain95", "holdout05")),
    ],
)
def test_resolve_fills_in_consistent_splits(given, expected):
    assert resolve_splits(*given) == expected


@pytest.mark.parametrize(
    ("given", "bad", "valid"),
    [
        (("forget5", None, None), "forget5", "forget05"),
        ((None, "retain_90", None), "retain_90", "retain90"),
        (("forget10", None, "holdout"), "holdout", "holdout10"),
    ],
)
def test_misspelled_split_names_the_value_and_the_choices(given, bad, valid):
    with pytest.raises(UnknownNameError) as caught:
        resolve_splits(*given)
    message = str(caught.value)
    assert f"'{bad}'" in message and valid in message and "\n" not in message
    assert isinstance(caught.value, ConfigError)


def test_inconsistent_pairing_says_what_it_should_be():
    with pytest.raises(ConfigError, match="retain_split=retain90") as caught:
        resolve_splits("forget10", "retain95", None)
    assert not isinstance(caught.value, UnknownNameError)
    with pytest.raises(ConfigError, match="holdout_split=holdout01"):
        resolve_splits("forget01", None, "holdout10")


def test_evaluation_configs_follow_the_metrics_spec():
    assert evaluation_configs("forget05", "holdout05") == {
        "forget": "forget05_perturbed",
        "retain": "retain_perturbed",
        "ra": "real_authors_perturbed",
        "wf": "world_facts_perturbed",
        "holdout": "holdout05",
    }
