"""Helpers that phrase 'unknown X' errors with the valid choices and a close match."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean 'x'?)' when a choice is close to ``name``, else ''."""
    lowered = {c.lower(): c for c in choices}
    close = [lowered[c] for c in difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)]
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_message(kind: str, name: str, choices: Iterable[str]) -> str:
    """One line: the unknown name, a suggestion, and every valid choice."""
    valid = sorted(choices)
    listed = ", ".join(valid) if valid else "none installed"
    return f"unknown {kind} '{name}'{did_you_mean(name, valid)}; valid choices: {listed}"
