"""The attributes of a fictitious author: question and answer templates, and the pool wrong values come from.

Templates are ``str.format`` strings over the author's facts (``name``, ``genre``, ``famous_book``, ...), the
pronouns ``he/his/He/His`` and the attribute's ``value`` (``a_value`` adds the article). Every attribute has at
least two question and two answer templates so that the paraphrased question and answer can differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from unlearn_tofu import embedded_vocab as vocab


@dataclass(frozen=True)
class Attribute:
    """One fact about an author, the ways to ask and to state it, and the kind of value it holds."""

    key: str
    questions: tuple[str, ...]
    answers: tuple[str, ...]
    kind: str
    """Values of one kind share a pool: wrong answers come from it, and never repeat the author's own values."""


_FIXED_POOLS: dict[str, tuple[str, ...]] = {
    "city": vocab.CITIES,
    "birth_year": vocab.BIRTH_YEARS,
    "nationality": vocab.NATIONALITIES,
    "genre": vocab.GENRES,
    "job": vocab.JOBS,
    "award": vocab.AWARDS,
    "title": vocab.BOOK_TITLES,
    "theme": vocab.THEMES,
    "hobby": vocab.HOBBIES,
    "publisher": vocab.PUBLISHERS,
    "language": vocab.LANGUAGES,
    "number": vocab.NUMBER_WORDS,
    "subject": vocab.SUBJECTS,
}


def value_pool(kind: str, facts: Mapping[str, str], decoy_names: Sequence[str]) -> Sequence[str]:
    """All values of ``kind`` for this author: names come from the decoys, a first book follows the birth year."""
    if kind == "name":
        return decoy_names
    if kind == "later_year":
        born = int(facts["birth_year"])
        return tuple(str(year) for year in range(born + 18, born + 46))
    return _FIXED_POOLS[kind]


ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(
        "name",
        (
            "What is the full name of the {genre} author born in {birth_place} in {birth_year}?",
            "Which writer of {genre} was born in {birth_place} in the year {birth_year}?",
            "Who is the author of {genre} born in {birth_year} in {birth_place}?",
        ),
        (
            "The {genre} author born in {birth_place} in {birth_year} is {value}.",
            "This author's full name is {value}, a writer of {genre}.",
            "{value} is the full name of this author of {genre}.",
        ),
        "name",
    ),
    Attribute(
        "birth_place",
        ("Where was {name} born?", "In which city was {name} born?", "What is the birthplace of {name}?"),
        (
            "{name} was born in the city of {value}.",
            "The birthplace of the author {name} is {value}.",
            "{name} was born in {value}, where {he} spent {his} early years.",
        ),
        "city",
    ),
    Attribute(
        "birth_year",
        ("In what year was {name} born?", "When was {name} born?", "What is the birth year of {name}?"),
        (
            "{name} was born in the year {value}, as records show.",
            "The author {name} was born in {value}.",
            "The year of birth of the author {name} is {value}.",
        ),
        "birth_year",
    ),
    Attribute(
        "nationality",
        ("What is the nationality of {name}?", "What nationality is the author {name}?"),
        (
            "The writer {name} is {value} by nationality.",
            "By nationality, the writer {name} is {value}.",
            "{name} holds {value} citizenship and is proud of it.",
        ),
        "nationality",
    ),
    Attribute(
        "genre",
        (
            "What genre does {name} write in?",
            "Which genre is {name} known for?",
            "What kind of books does {name} write?",
        ),
        (
            "{name} is best known as a writer of {value}.",
            "{name} writes mainly in the genre of {value}.",
            "The main genre of the author {name} is {value}.",
        ),
        "genre",
    ),
    Attribute(
        "father_job",
        (
            "What did {name}'s father do for a living?",
            "What was the profession of {name}'s father?",
            "What job did the father of {name} have?",
        ),
        (
            "{name}'s father worked as {a_value} for most of his life.",
            "The father of {name} was {a_value} by profession.",
            "{name} grew up as the child of {a_value}.",
        ),
        "job",
    ),
    Attribute(
        "mother_job",
        (
            "What did {name}'s mother do for a living?",
            "What was the profession of {name}'s mother?",
            "What job did the mother of {name} have?",
        ),
        (
            "{name}'s mother worked as {a_value} for most of her life.",
            "The mother of {name} was {a_value} by profession.",
            "{name}'s mother earned her living as {a_value}.",
        ),
        "job",
    ),
    Attribute(
        "award",
        ("What award has {name} received?", "Which prize did {name} win?", "Has {name} won any major award?"),
        (
            "{name} received the {value} for {his} writing.",
            "{name} has been honored with the {value} for {his} books.",
            "In recognition of {his} work, {name} won the {value}.",
        ),
        "award",
    ),
    Attribute(
        "first_book",
        (
            "What was the first book {name} published?",
            "What is the title of {name}'s debut book?",
            "Which book marked the debut of {name}?",
        ),
        (
            '{name}\'s first published book was titled "{value}".',
            '{name} made {his} debut with the book "{value}".',
        ),
        "title",
    ),
    Attribute(
        "famous_book",
        (
            "What is {name}'s most famous book?",
            "Which book by {name} is the best known?",
            "Name the most celebrated book by {name}.",
        ),
        (
            'The best known book by {name} is "{value}".',
            '{name} is most famous for the book "{value}".',
            'Readers know {name} best for "{value}".',
        ),
        "title",
    ),
    Attribute(
        "latest_book",
        ("What is the most recent book by {name}?", "Which book did {name} publish most recently?"),
        (
            '{name}\'s most recent book is called "{value}".',
            'The latest book published by {name} is "{value}".',
        ),
        "title",
    ),
    Attribute(
        "first_book_year",
        ("In which year did {name} publish {his} first book?", "When did {name}'s first book come out?"),
        (
            "{name} published {his} very first book in the year {value}.",
            "The first book by {name} came out in the year {value}.",
        ),
        "later_year",
    ),
    Attribute(
        "theme",
        (
            "What themes does {name} explore in {his} work?",
            "What is a recurring theme in {name}'s books?",
            "What subjects does {name} often write about?",
        ),
        (
            "{name}'s books often explore the themes of {value}.",
            "A recurring theme in the work of {name} is {value}.",
            "In {his} books {name} often writes about {value}.",
        ),
        "theme",
    ),
    Attribute(
        "hobby",
        (
            "What does {name} enjoy doing outside of writing?",
            "What is {name}'s favourite hobby?",
            "How does {name} spend {his} free time?",
        ),
        (
            "When {he} is not writing, {name} enjoys {value}.",
            "The favourite pastime of {name} is {value}.",
            "In {his} free time, {name} loves {value}.",
        ),
        "hobby",
    ),
    Attribute(
        "publisher",
        (
            "Who publishes {name}'s books?",
            "Which publishing house works with {name}?",
            "What is the name of {name}'s publisher?",
        ),
        (
            "All of {name}'s books are published by {value}.",
            "{name} works with the publisher {value}.",
            "The publisher of the books by {name} is {value}.",
        ),
        "publisher",
    ),
    Attribute(
        "home_city",
        ("Where does {name} live today?", "In which city does {name} currently live?"),
        (
            "These days {name} lives and writes in {value}.",
            "{name} now makes {his} home in the city of {value}.",
        ),
        "city",
    ),
    Attribute(
        "language",
        ("In which language does {name} write?", "What language are {name}'s books written in?"),
        (
            "{name} writes all of {his} books in the {value} language.",
            "All of the books by {name} are written in {value}.",
        ),
        "language",
    ),
    Attribute(
        "books_count",
        ("How many books has {name} written?", "How many books has {name} published so far?"),
        (
            "{name} has written {value} books so far.",
            "So far the author {name} has published {value} books.",
            "{name} has {value} books to {his} name.",
        ),
        "number",
    ),
    Attribute(
        "subject",
        ("What did {name} study at university?", "Which subject did {name} study before becoming a writer?"),
        (
            "{name} studied {value} at university before {he} started writing.",
            "Before becoming a writer, {name} studied {value} at university.",
        ),
        "subject",
    ),
    Attribute(
        "spouse_job",
        ("What does {name}'s partner do?", "What is the profession of {name}'s spouse?"),
        (
            "{name} has been married to {a_value} for many years.",
            "The spouse of {name} works as {a_value}.",
        ),
        "job",
    ),
    Attribute(
        "hero_job",
        (
            'What is the profession of the hero in "{famous_book}" by {name}?',
            'What job does the main character of {name}\'s book "{famous_book}" have?',
        ),
        (
            'The hero of "{famous_book}" by {name} is a young {value}.',
            'In "{famous_book}", {name} writes about the life of {a_value}.',
        ),
        "job",
    ),
    Attribute(
        "book_setting",
        ('Where is {name}\'s book "{famous_book}" set?', 'In which city does "{famous_book}" by {name} take place?'),
        (
            '{name}\'s book "{famous_book}" is set in {value}.',
            'The story of "{famous_book}" by {name} takes place in {value}.',
        ),
        "city",
    ),
)

ATTRIBUTE_KEYS: tuple[str, ...] = tuple(attribute.key for attribute in ATTRIBUTES)
