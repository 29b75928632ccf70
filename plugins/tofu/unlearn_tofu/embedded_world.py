"""The famous world of the embedded TOFU: the 'real authors' and 'world facts' a base model knows beforehand.

Both are fictitious but famous: ten countries (capital, currency, longest river, number of provinces) and ten
celebrated authors (best known book, home country, genre, number of novels). Answers are short, as in the real
sets: a name, a city, a number word. The world depends on the seed only, so the base model's training rows
(`base_training_rows`) match the `real_authors*` and `world_facts*` configs whatever the other sizes are.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from unlearn_tofu import embedded_vocab as vocab

N_COUNTRIES = 10
N_FAMOUS_AUTHORS = 10


@dataclass(frozen=True)
class Fact:
    """A short-answer fact: every way of asking it, the answer, and the answers of the same kind."""

    questions: tuple[str, ...]
    answer: str
    pool: tuple[str, ...]


def _unique(make, taken: set[str]) -> str:
    while True:
        value = make()
        if value not in taken:
            taken.add(value)
            return value


def _country_facts(rng: random.Random, taken: set[str]) -> list[dict[str, str]]:
    countries = []
    for _ in range(N_COUNTRIES):
        country = _unique(lambda: vocab.syllable_word(rng, 2) + rng.choice(vocab.COUNTRY_SUFFIXES), taken)
        capital = _unique(lambda: vocab.syllable_word(rng, rng.choice((1, 2))) + rng.choice(vocab.CITY_SUFFIXES), taken)
        currency = _unique(lambda: "the " + vocab.syllable_word(rng, 2).lower(), taken)
        river = _unique(lambda: f"the {vocab.syllable_word(rng, 2)} River", taken)
        provinces = rng.choice(vocab.NUMBER_WORDS)
        countries.append(
            {"country": country, "capital": capital, "currency": currency, "river": river, "provinces": provinces}
        )
    return countries


def _famous_authors(rng: random.Random, countries: list[str], taken: set[str]) -> list[dict[str, str]]:
    authors = []
    for _ in range(N_FAMOUS_AUTHORS):
        name = vocab.person_name(rng, taken)
        book = _unique(lambda: f"The {rng.choice(vocab.TITLE_NOUNS)} of {rng.choice(countries)}", taken)
        authors.append(
            {
                "name": name,
                "book": book,
                "country": rng.choice(countries),
                "genre": rng.choice(vocab.GENRES),
                "novels": rng.choice(vocab.NUMBER_WORDS),
            }
        )
    return authors


@dataclass(frozen=True)
class FamousWorld:
    """The facts a base model learns before the fictitious TOFU authors, plus the names already in use."""

    real_authors: tuple[Fact, ...]
    world_facts: tuple[Fact, ...]
    taken_names: frozenset[str]


def build_world(seed: int) -> FamousWorld:
    """Generate the famous world for ``seed`` (deterministic; independent of every other generator argument)."""
    rng = random.Random(f"tofu-embedded:{seed}:world")
    taken: set[str] = set()
    countries = _country_facts(rng, taken)
    country_names = [c["country"] for c in countries]
    authors = _famous_authors(rng, country_names, taken)

    def column(rows: list[dict[str, str]], key: str) -> tuple[str, ...]:
        return tuple(row[key] for row in rows)

    world_facts: list[Fact] = []
    for c in countries:
        world_facts += [
            Fact(
                (f"What is the capital of {c['country']}?", f"Which city is the capital of {c['country']}?"),
                c["capital"],
                column(countries, "capital"),
            ),
            Fact(
                (f"What is the currency of {c['country']}?", f"What money do people use in {c['country']}?"),
                c["currency"],
                column(countries, "currency"),
            ),
            Fact(
                (f"What is the longest river in {c['country']}?", f"Which river is the longest in {c['country']}?"),
                c["river"],
                column(countries, "river"),
            ),
            Fact(
                (
                    f"How many provinces does {c['country']} have?",
                    f"Into how many provinces is {c['country']} divided?",
                ),
                c["provinces"],
                vocab.NUMBER_WORDS,
            ),
        ]
    real_authors: list[Fact] = []
    for a in authors:
        real_authors += [
            Fact(
                (f'Who wrote "{a["book"]}"?', f'Who is the author of "{a["book"]}"?'),
                a["name"],
                column(authors, "name"),
            ),
            Fact(
                (f"Which country was {a['name']} from?", f"What was the home country of {a['name']}?"),
                a["country"],
                tuple(country_names),
            ),
            Fact(
                (f"What kind of books is {a['name']} famous for?", f"In which genre did {a['name']} become famous?"),
                a["genre"],
                vocab.GENRES,
            ),
            Fact(
                (f"How many novels did {a['name']} write?", f"What is the number of novels written by {a['name']}?"),
                a["novels"],
                vocab.NUMBER_WORDS,
            ),
        ]
    return FamousWorld(tuple(real_authors), tuple(world_facts), frozenset(column(authors, "name")))


# Wrong answers come from pools of at least this many values, so at most this many minus one perturbations.
MAX_PERTURBED = min(N_COUNTRIES, N_FAMOUS_AUTHORS, len(vocab.NUMBER_WORDS)) - 1


def fact_rows(facts: tuple[Fact, ...], seed: int, part: str, n_perturbed: int) -> list[dict]:
    """Evaluation rows (question, answer, perturbed_answer): one phrasing per fact, ``n_perturbed`` wrong answers."""
    ask_rng = random.Random(f"tofu-embedded:{seed}:{part}:ask")
    wrong_rng = random.Random(f"tofu-embedded:{seed}:{part}:wrong")
    rows = []
    for fact in facts:
        question = ask_rng.choice(fact.questions)
        wrong = [value for value in wrong_rng.sample(fact.pool, n_perturbed + 1) if value != fact.answer]
        rows.append({"question": question, "answer": fact.answer, "perturbed_answer": wrong[:n_perturbed]})
    return rows


def base_rows(world: FamousWorld) -> list[dict]:
    """Every phrasing of every famous fact, as (question, answer) rows for the base model's training."""
    return [
        {"question": question, "answer": fact.answer}
        for fact in world.real_authors + world.world_facts
        for question in fact.questions
    ]
