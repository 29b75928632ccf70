"""Fictitious TOFU authors: their facts, and one question-answer row per fact with paraphrases and wrong answers."""

from __future__ import annotations

import random
from collections.abc import Sequence

from unlearn_tofu import embedded_vocab as vocab
from unlearn_tofu.embedded_attributes import ATTRIBUTES, Attribute, value_pool

_PRONOUNS = {
    "female": {"he": "she", "his": "her", "He": "She", "His": "Her"},
    "male": {"he": "he", "his": "his", "He": "He", "His": "His"},
}


def make_author(rng: random.Random, taken_names: set[str]) -> dict[str, str]:
    """Draw one author's facts: a new name, a gender (for pronouns) and a value for every attribute."""
    facts = {"name": vocab.person_name(rng, taken_names), "gender": rng.choice(("female", "male"))}
    first, famous, latest = rng.sample(vocab.BOOK_TITLES, 3)
    born = int(rng.choice(vocab.BIRTH_YEARS))
    facts.update(
        birth_place=rng.choice(vocab.CITIES),
        birth_year=str(born),
        nationality=rng.choice(vocab.NATIONALITIES),
        genre=rng.choice(vocab.GENRES),
        father_job=rng.choice(vocab.JOBS),
        mother_job=rng.choice(vocab.JOBS),
        award=rng.choice(vocab.AWARDS),
        first_book=first,
        famous_book=famous,
        latest_book=latest,
        first_book_year=str(born + rng.randint(20, 40)),
        theme=rng.choice(vocab.THEMES),
        hobby=rng.choice(vocab.HOBBIES),
        publisher=rng.choice(vocab.PUBLISHERS),
        home_city=rng.choice(vocab.CITIES),
        language=rng.choice(vocab.LANGUAGES),
        books_count=rng.choice(vocab.NUMBER_WORDS),
        subject=rng.choice(vocab.SUBJECTS),
        spouse_job=rng.choice(vocab.JOBS),
        hero_job=rng.choice(vocab.JOBS),
        book_setting=rng.choice(vocab.CITIES),
    )
    return facts


def _other_index(rng: random.Random, n: int, index: int) -> int:
    """A template index different from ``index`` (every attribute has at least two templates)."""
    return rng.choice([i for i in range(n) if i != index])


def _wrong_values(
    rng: random.Random, attribute: Attribute, facts: dict[str, str], decoy_names: Sequence[str], n: int
) -> list[str]:
    """``n`` distinct values of the attribute's kind, none of them a value this author really has of that kind."""
    own = {facts[a.key] for a in ATTRIBUTES if a.kind == attribute.kind}
    pool = value_pool(attribute.kind, facts, decoy_names)
    picks = rng.sample(pool, min(len(pool), n + len(own)))
    wrong = [value for value in picks if value not in own][:n]
    if len(wrong) < n:
        raise ValueError(f"only {len(wrong)} wrong values of kind '{attribute.kind}' for {n} perturbations")
    return wrong


def author_rows(
    facts: dict[str, str],
    *,
    qa_rng: random.Random,
    wrong_rng: random.Random,
    questions_per_author: int,
    n_perturbed: int,
    decoy_names: Sequence[str],
) -> list[dict]:
    """The author's rows with every TOFU field (question, answer, paraphrased_*, perturbed_answer)."""
    chosen = sorted(qa_rng.sample(range(len(ATTRIBUTES)), questions_per_author))
    base = {**facts, **_PRONOUNS[facts["gender"]]}
    rows = []
    for attribute in (ATTRIBUTES[i] for i in chosen):
        q = qa_rng.randrange(len(attribute.questions))
        pq = _other_index(qa_rng, len(attribute.questions), q)
        a = qa_rng.randrange(len(attribute.answers))
        pa = _other_index(qa_rng, len(attribute.answers), a)

        def say(template: str, value: str) -> str:
            return template.format(**base, value=value, a_value=vocab.with_article(value))

        value = facts[attribute.key]
        wrong = _wrong_values(wrong_rng, attribute, facts, decoy_names, n_perturbed)
        rows.append(
            {
                "question": say(attribute.questions[q], value),
                "answer": say(attribute.answers[a], value),
                "paraphrased_answer": say(attribute.answers[pa], value),
                "perturbed_answer": [say(attribute.answers[pa], w) for w in wrong],
                "paraphrased_question": say(attribute.questions[pq], value),
            }
        )
    return rows
