"""The Porter stemmer, as ROUGE with a stemmer uses it: Porter's 1980 algorithm with NLTK's extensions.

TOFU's and MUSE's ROUGE stems every word longer than three letters the way NLTK's ``PorterStemmer`` does in its
default mode. That mode is Porter's five steps plus a few extensions, all reproduced here:

- a short table of irregular forms (``dying`` -> ``die``, ``skies`` -> ``sky``, ...) that bypasses the steps;
- words of at most two letters are returned lower-cased and unchanged;
- four-letter ``-ies`` and ``-ied`` words keep their ``ie`` (``dies`` -> ``die``), longer ones end in ``i``;
- step 1c turns a final ``y`` into ``i`` only after a consonant that is not the word's first letter
  (``happy`` -> ``happi`` but ``enjoy`` and ``by`` stay);
- step 2 turns ``-alli`` into ``-al`` and tries step 2 again, and knows ``-bli`` (for ``-abli``), ``-fulli`` and
  ``-logi``;
- condition ``*o`` also holds for a two-letter stem made of a vowel and a consonant.

``tests/metrics/test_porter_stemmer.py`` checks it word for word against NLTK on a generated vocabulary that
reaches every rule. Words are lower-cased first; the measure ``m``, ``*v*``, ``*d`` and ``*o`` are the paper's.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

VOWELS = frozenset("aeiou")
IRREGULAR_FORMS = {
    "sky": "sky",
    "skies": "sky",
    "dying": "die",
    "lying": "lie",
    "tying": "tie",
    "news": "news",
    "innings": "inning",
    "inning": "inning",
    "outings": "outing",
    "outing": "outing",
    "cannings": "canning",
    "canning": "canning",
    "howe": "howe",
    "proceed": "proceed",
    "exceed": "exceed",
    "succeed": "succeed",
}
"""Words stemmed by table (NLTK's extension), before any step."""

STEM_MEMORY = 1 << 16
"""Distinct words whose stem is remembered: scoring many texts stems the same words again and again."""

Condition = Callable[[str], bool]
Rule = tuple[str, str, Condition]


def _consonant_flags(word: str) -> list[bool]:
    """Whether each letter is a consonant: not a vowel, and a ``y`` only when the letter before is not one."""
    flags: list[bool] = []
    for letter in word:
        if letter in VOWELS:
            flags.append(False)
        elif letter == "y":
            flags.append(not flags or not flags[-1])
        else:
            flags.append(True)
    return flags


def _measure(stem: str) -> int:
    """Porter's ``m``: how many vowel-consonant transitions the stem has (``[C](VC){m}[V]``)."""
    flags = _consonant_flags(stem)
    return sum(1 for before, after in zip(flags, flags[1:]) if not before and after)


def _positive_measure(stem: str) -> bool:
    return _measure(stem) > 0


def _measure_above_one(stem: str) -> bool:
    return _measure(stem) > 1


def _has_vowel(stem: str) -> bool:
    """Condition ``*v*``."""
    return not all(_consonant_flags(stem))


def _ends_double_consonant(word: str) -> bool:
    """Condition ``*d``: the last two letters are the same consonant."""
    return len(word) >= 2 and word[-1] == word[-2] and _consonant_flags(word)[-1]


def _ends_cvc(word: str) -> bool:
    """Condition ``*o``: consonant-vowel-consonant at the end, the last not ``w``, ``x`` or ``y``; or (NLTK) a
    two-letter word of a vowel and a consonant."""
    flags = _consonant_flags(word)
    if len(word) >= 3 and flags[-3] and not flags[-2] and flags[-1] and word[-1] not in "wxy":
        return True
    return len(word) == 2 and not flags[0] and flags[1]


def _first_rule(word: str, rules: list[Rule]) -> str:
    """Apply the first rule whose suffix ends ``word``: its replacement when its condition holds for the stem
    before the suffix, else ``word`` unchanged (no later rule is tried)."""
    for suffix, replacement, condition in rules:
        if word.endswith(suffix):
            stem = word[: len(word) - len(suffix)]
            return stem + replacement if condition(stem) else word
    return word


def _always(stem: str) -> bool:
    return True


STEP1A_RULES: list[Rule] = [("sses", "ss", _always), ("ies", "i", _always), ("ss", "ss", _always), ("s", "", _always)]


def _step1a(word: str) -> str:
    if len(word) == 4 and word.endswith("ies"):
        return word[:-3] + "ie"
    return _first_rule(word, STEP1A_RULES)


def _step1b(word: str) -> str:
    if word.endswith("ied"):
        return word[:-3] + ("ie" if len(word) == 4 else "i")
    if word.endswith("eed"):
        return word[:-1] if _positive_measure(word[:-3]) else word
    for suffix in ("ed", "ing"):
        if word.endswith(suffix) and _has_vowel(word[: -len(suffix)]):
            return _after_ed_or_ing(word[: -len(suffix)])
    return word


def _after_ed_or_ing(stem: str) -> str:
    """Step 1b's tidying once ``-ed`` or ``-ing`` came off."""
    if stem.endswith(("at", "bl", "iz")):
        return stem + "e"
    if _ends_double_consonant(stem):
        return stem[:-1] if stem[-1] not in "lsz" else stem
    return stem + "e" if _measure(stem) == 1 and _ends_cvc(stem) else stem


def _step1c(word: str) -> str:
    if word.endswith("y"):
        stem = word[:-1]
        if len(stem) > 1 and _consonant_flags(stem)[-1]:
            return stem + "i"
    return word


STEP2_RULES: list[tuple[str, str]] = [
    ("ational", "ate"),
    ("tional", "tion"),
    ("enci", "ence"),
    ("anci", "ance"),
    ("izer", "ize"),
    ("bli", "ble"),
    ("alli", "al"),
    ("entli", "ent"),
    ("eli", "e"),
    ("ousli", "ous"),
    ("ization", "ize"),
    ("ation", "ate"),
    ("ator", "ate"),
    ("alism", "al"),
    ("iveness", "ive"),
    ("fulness", "ful"),
    ("ousness", "ous"),
    ("aliti", "al"),
    ("iviti", "ive"),
    ("biliti", "ble"),
    ("fulli", "ful"),
]
"""Step 2 in the order the suffixes are tried, each when ``m > 0``; ``-logi`` comes last with its own condition."""


def _step2(word: str) -> str:
    if word.endswith("alli") and _positive_measure(word[:-4]):
        return _step2(word[:-4] + "al")
    rules: list[Rule] = [(suffix, replacement, _positive_measure) for suffix, replacement in STEP2_RULES]
    rules.append(("logi", "log", lambda stem: _positive_measure(word[:-3])))  # NLTK: the measure of "...l"
    return _first_rule(word, rules)


STEP3_RULES: list[Rule] = [
    (suffix, replacement, _positive_measure)
    for suffix, replacement in [
        ("icate", "ic"),
        ("ative", ""),
        ("alize", "al"),
        ("iciti", "ic"),
        ("ical", "ic"),
        ("ful", ""),
        ("ness", ""),
    ]
]


def _ion_condition(stem: str) -> bool:
    return _measure_above_one(stem) and stem[-1] in "st"


STEP4_RULES: list[Rule] = [
    (suffix, "", _ion_condition if suffix == "ion" else _measure_above_one)
    for suffix in (
        "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "ou", "ism", "ate",
        "iti", "ous", "ive", "ize",
    )
]  # fmt: skip


def _step5a(word: str) -> str:
    if word.endswith("e"):
        stem = word[:-1]
        measure = _measure(stem)
        if measure > 1 or (measure == 1 and not _ends_cvc(stem)):
            return stem
    return word


def _step5b(word: str) -> str:
    return word[:-1] if word.endswith("ll") and _measure(word[:-1]) > 1 else word


@lru_cache(maxsize=STEM_MEMORY)
def porter_stem(word: str) -> str:
    """The stem of ``word`` (lower-cased first), as NLTK's ``PorterStemmer().stem`` gives it."""
    lowered = word.lower()
    if lowered in IRREGULAR_FORMS:
        return IRREGULAR_FORMS[lowered]
    if len(word) <= 2:
        return lowered
    stem = _step2(_step1c(_step1b(_step1a(lowered))))
    stem = _first_rule(_first_rule(stem, STEP3_RULES), STEP4_RULES)
    return _step5b(_step5a(stem))
