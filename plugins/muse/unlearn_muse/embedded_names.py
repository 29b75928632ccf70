"""Made-up names for the embedded MUSE corpora: people, towns, places and organisations, never repeated.

Names are built from a small set of syllables so that the tiny BPE vocabulary spells them in a few tokens, and a
`NameBook` hands out each name once, so a fact (who led the rescue in Darvelholm?) has one answer in the corpus.
"""

from __future__ import annotations

import random
from collections.abc import Callable

SYLLABLES: tuple[str, ...] = (
    "bar", "cel", "dun", "fa", "gor", "hal", "iv", "jen", "kas", "lu", "mor", "na", "ob", "pel", "qua", "ras",
    "sil", "tev", "ur", "vak", "wil", "yor", "zen", "ad", "bro", "ci", "del", "em", "fin", "ga", "hom", "ker",
    "lam", "mes", "nic", "ost", "pra", "ril", "sun", "tal",
)  # fmt: skip
TOWN_ENDINGS: tuple[str, ...] = ("holm", "by", "stead", "mouth", "field", "bridge", "ton", "vale")
PLACE_KINDS: tuple[str, ...] = ("castle", "city", "village", "abbey", "island", "forest", "valley", "fortress")
ORG_KINDS: tuple[str, ...] = (
    "Relief Fund", "Civic Trust", "Workers' Guild", "Arts Council", "Harbour Board", "Heritage Society",
    "Water Company", "Rescue League",
)  # fmt: skip


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(syllables)).capitalize()


class NameBook:
    """Hands out unique made-up names from one seeded random stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.taken: set[str] = set()
        self.words: set[str] = set()
        self.first_names: set[str] = set()

    def _unique(self, make: Callable[[], str]) -> str:
        for _ in range(10_000):
            value = make()
            if value and value not in self.taken:
                self.taken.add(value)
                return value
        raise ValueError("ran out of made-up names: ask for a smaller embedded corpus")

    def _fresh_word(self, syllables: tuple[int, ...], ending: str = "") -> str:
        """A capitalised word no other name uses, not even as a first name (so a name is never ambiguous)."""

        def make() -> str:
            word = _word(self.rng, self.rng.choice(syllables)) + ending
            return word if word not in self.first_names else ""

        word = self._unique(make)
        self.words.add(word)
        return word

    def person(self) -> str:
        """A first name (shared by several people) and a last name (unique)."""
        while True:
            first = _word(self.rng, self.rng.choice((1, 2)))
            if first not in self.words:
                break
        self.first_names.add(first)
        return f"{first} {self._fresh_word((2, 3))}"

    def town(self) -> str:
        """A town name such as Kasvale."""
        return self._fresh_word((1, 2), self.rng.choice(TOWN_ENDINGS))

    def place(self) -> tuple[str, str]:
        """A place in a novel: its kind and its name, as in 'the abbey of Morlu'."""
        return self.rng.choice(PLACE_KINDS), self._fresh_word((2,))

    def organisation(self) -> str:
        """An organisation such as 'the Pelnic Relief Fund'."""
        return f"the {self._fresh_word((2,))} {self.rng.choice(ORG_KINDS)}"

    def title(self) -> str:
        """A made-up word for book titles."""
        return self._fresh_word((2, 3))
