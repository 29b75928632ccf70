"""The Porter stemmer: hand-traced stems for every step and extension, and word-for-word agreement with NLTK's
``PorterStemmer`` (what ``rouge_score`` stems with) on a generated vocabulary that reaches every rule."""

import itertools
import re
from pathlib import Path

import pytest

from unlearn_core.metrics.porter import IRREGULAR_FORMS, STEP2_RULES, porter_stem

ROOT = Path(__file__).resolve().parents[2]

# m is the number of vowel-consonant transitions of the stem ([C](VC){m}[V]); each trace names the rule that fires
HAND_TRACED = {
    "caresses": "caress",  # 1a: sses -> ss
    "ponies": "poni",  # 1a: ies -> i (six letters)
    "ties": "tie",  # 1a, NLTK: a four-letter -ies keeps ie; 5a keeps the e ("ti" has m = 0)
    "cats": "cat",  # 1a: s ->
    "died": "die",  # 1b, NLTK: a four-letter -ied keeps ie
    "spied": "spi",  # 1b, NLTK: a longer -ied ends in i
    "agreed": "agre",  # 1b: eed -> ee ("agr" has m = 1); 5a: e off ("agre": m = 1, ends g-r-e, not *o)
    "feed": "feed",  # 1b: eed stays ("f" has m = 0)
    "hopping": "hop",  # 1b: ing off, *d (pp) -> single letter
    "controlling": "control",  # 1b: ing off, ll stays (*L); 5b: "controll" has m = 2 -> single l
    "filing": "file",  # 1b: ing off, m = 1 and *o (f-i-l) -> e back; 5a keeps it (*o)
    "happy": "happi",  # 1c, NLTK: y -> i after a consonant that is not the first letter
    "enjoy": "enjoy",  # 1c: y stays after a vowel
    "relational": "relat",  # 2: ational -> ate ("rel": m = 1); 4: ate stays (m = 1); 5a: e off ("relat": m = 2)
    "generously": "gener",  # 1c: y -> i; 2: ousli -> ous; 4: ous off ("gener": m = 2)
    "formally": "formal",  # 1c; 2, NLTK: alli -> al, then step 2 again; 4: al stays ("form": m = 1)
    "hopefully": "hope",  # 1c; 2, NLTK: fulli -> ful; 3: ful off; 5a keeps e (h-o-p is *o)
    "apology": "apolog",  # 1c; 2, NLTK: logi -> log (the measure of "apol" is 2)
    "dying": "die",  # NLTK's table of irregular forms
    "skies": "sky",
    "by": "by",  # two letters or fewer: unchanged
    "Running": "run",  # lower-cased first; 1b: ing off, nn -> n
}


@pytest.mark.parametrize(("word", "stem"), HAND_TRACED.items())
def test_hand_traced_stems(word: str, stem: str) -> None:
    assert porter_stem(word) == stem


BASES = [
    "", "a", "b", "y", "ab", "by", "ay", "yy", "tr", "ee", "tree", "oat", "ivy", "troubl", "privat", "orrer", "hop",
    "fil", "fail", "fall", "hiss", "fizz", "tann", "conflat", "siz", "sky", "toy", "syzyg", "happ", "enjo", "gener",
    "form", "rel", "adopt", "precis", "hope", "anal", "apol", "electr", "digit", "sens", "valen", "hesit", "radic",
    "differ", "vil", "analog", "vietnam", "predic", "oper", "feud", "decis", "call", "air", "gyrosc", "adjust",
    "defens", "irrit", "replac", "depend", "homolog", "commun", "activ", "angular", "effect", "bowdler", "prob",
    "ceas", "controll", "roll", "sp", "fl", "d", "l", "t", "agr", "f", "new", "inn", "out", "cann", "how", "proc",
    "exc", "succ", "yyyy", "qwx", "box", "sew", "play", "eyy", "strength", "rhythm", "queu",
]  # fmt: skip
SUFFIXES = sorted(
    {"", "s", "es", "ed", "ing", "ies", "ied", "eed", "y", "e", "ly", "ll", "at", "bl", "iz", "ings", "er", "ers"}
    | {suffix for suffix, _ in STEP2_RULES}
    | {"logi", "logy", "ally", "fully", "ably", "bly"}
    | {"icate", "ative", "alize", "iciti", "ical", "ful", "ness", "ation", "ations", "ional", "ement", "ments"}
    | {"al", "ance", "ence", "ic", "able", "ible", "ant", "ment", "ent", "ion", "sion", "tion", "ou", "ism", "ate"}
    | {"iti", "ous", "ive", "ize", "ivity", "ibility", "izing", "ization", "fulness", "lessly", "ingly", "edly"}
)
SECOND_SUFFIXES = ["", "s", "es", "ed", "ing", "y", "ly", "e", "er", "al", "ness", "ation", "ize"]


def _vocabulary() -> list[str]:
    """Every base with every suffix, alone or followed by a common second one, the table's words, and every word
    of the docs."""
    words = {base + first + second for base, first, second in itertools.product(BASES, SUFFIXES, SECOND_SUFFIXES)}
    words |= set(IRREGULAR_FORMS)
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        words |= set(re.findall(r"[a-z0-9]+", path.read_text(encoding="utf-8").lower()))
    return sorted(word for word in words if word)


def test_agrees_with_nltk_word_for_word() -> None:
    from nltk.stem import porter

    nltk_stemmer = porter.PorterStemmer()
    vocabulary = _vocabulary()
    assert len(vocabulary) > 80_000
    differing = [(word, porter_stem(word), nltk_stemmer.stem(word)) for word in vocabulary]
    differing = [row for row in differing if row[1] != row[2]]
    assert differing == [], f"{len(differing)} words stem otherwise than in NLTK, e.g. {differing[:10]}"
