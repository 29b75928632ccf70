"""TOFU split names and their pairing: forgetXX goes with retain(100-XX) and holdoutXX."""

from __future__ import annotations

from unlearn_core.errors import ConfigError, UnknownNameError
from unlearn_core.suggest import unknown_message

FORGET_SPLITS: tuple[str, ...] = ("forget01", "forget05", "forget10")
RETAIN_SPLITS: tuple[str, ...] = ("retain99", "retain95", "retain90")
HOLDOUT_SPLITS: tuple[str, ...] = ("holdout01", "holdout05", "holdout10")
SPLIT_FRACTIONS: dict[str, float] = {"forget01": 0.01, "forget05": 0.05, "forget10": 0.10}
"""Share of the authors in each forget split (the holdout split of the same percentage has as many)."""
DEFAULT_FORGET_SPLIT = "forget10"

RETAIN_OF: dict[str, str] = dict(zip(FORGET_SPLITS, RETAIN_SPLITS))
HOLDOUT_OF: dict[str, str] = dict(zip(FORGET_SPLITS, HOLDOUT_SPLITS))
_FORGET_OF_RETAIN = {retain: forget for forget, retain in RETAIN_OF.items()}
_FORGET_OF_HOLDOUT = {holdout: forget for forget, holdout in HOLDOUT_OF.items()}


def _check_name(kind: str, name: str | None, choices: tuple[str, ...]) -> None:
    if name is not None and name not in choices:
        raise UnknownNameError(unknown_message(kind, str(name), choices))


def resolve_splits(
    forget_split: str | None, retain_split: str | None, holdout_split: str | None
) -> tuple[str, str, str]:
    """Fill in the missing splits so that all three agree (default forget10/retain90/holdout10).

    A missing forget split is taken from the retain or holdout split when one is given. A misspelled name is an
    UnknownNameError; two names that do not pair up (forget10 with retain95) are a ConfigError.
    """
    _check_name("TOFU forget split", forget_split, FORGET_SPLITS)
    _check_name("TOFU retain split", retain_split, RETAIN_SPLITS)
    _check_name("TOFU holdout split", holdout_split, HOLDOUT_SPLITS)
    if forget_split is None:
        if retain_split is not None:
            forget_split = _FORGET_OF_RETAIN[retain_split]
        elif holdout_split is not None:
            forget_split = _FORGET_OF_HOLDOUT[holdout_split]
        else:
            forget_split = DEFAULT_FORGET_SPLIT
    expected_retain, expected_holdout = RETAIN_OF[forget_split], HOLDOUT_OF[forget_split]
    for role, given, expected in (
        ("retain", retain_split, expected_retain),
        ("holdout", holdout_split, expected_holdout),
    ):
        if given is not None and given != expected:
            raise ConfigError(
                f"{role}_split '{given}' does not pair with forget_split '{forget_split}': "
                f"use {role}_split={expected} (or leave it unset)"
            )
    return forget_split, expected_retain, expected_holdout


def evaluation_configs(forget_split: str, holdout_split: str) -> dict[str, str]:
    """The config each TOFU evaluation role reads (METRICS.md): forget, retain, ra, wf and holdout."""
    _check_name("TOFU forget split", forget_split, FORGET_SPLITS)
    _check_name("TOFU holdout split", holdout_split, HOLDOUT_SPLITS)
    return {
        "forget": f"{forget_split}_perturbed",
        "retain": "retain_perturbed",
        "ra": "real_authors_perturbed",
        "wf": "world_facts_perturbed",
        "holdout": holdout_split,
    }
