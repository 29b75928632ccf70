"""Passages of fictitious novels: a hero, a companion, a journey to a place, an object and what happens there."""

from __future__ import annotations

import random

from unlearn_muse.embedded_document import Document
from unlearn_muse.embedded_names import NameBook

MATERIALS: tuple[str, ...] = ("silver", "bronze", "copper", "glass", "clay", "golden", "wooden", "stone")
OBJECTS: tuple[str, ...] = ("key", "map", "compass", "lantern", "flute", "mask", "sword", "bowl", "ring", "box")
HAPPENINGS: tuple[str, ...] = (
    "find the gates locked against them",
    "witness the crowning of a child king",
    "are caught in a storm that lasts three nights",
    "attend a wedding held at midnight",
    "discover a library hidden under the floor",
    "lose their horses in a stable fire",
    "hear the great bell ring for the first time in a century",
    "meet an old soldier who already knows their names",
)

OPENINGS: tuple[str, ...] = (
    "In the novel {title}, {hero} sets out for {place}.",
    "The novel {title} follows {hero} on the long road to {place}.",
    "The story of {title} begins as {hero} leaves home for {place}.",
)
JOURNEYS: tuple[str, ...] = (
    "The journey takes {days} days, and the rain hardly stops.",
    "After {days} days on the road, {hero} finally sees the lights of {place}.",
    "It is a walk of {days} days through empty country.",
)
COMPANIONS: tuple[str, ...] = (
    "{hero} is joined by {companion}, who carries a {thing}.",
    "At the side of {hero} walks {companion}, guarding a {thing}.",
    "{companion} goes too, never letting go of a {thing}.",
)
ARRIVALS: tuple[str, ...] = (
    "When they arrive at {place} they {happening}.",
    "At {place} the travellers {happening}.",
)
CLOSINGS: tuple[str, ...] = (
    "Readers often say this is the chapter they remember best.",
    "Nothing in the life of {hero} is quite the same afterwards.",
    "The author tells this part of the story in short, quiet sentences.",
    "Much later {hero} will return to this night in a dream.",
    "The chapter ends with the two of them asleep by the fire.",
    "Few scenes in the book are as bright or as strange.",
)


def book_passage(rng: random.Random, names: NameBook) -> Document:
    """One passage with five facts about a journey in a novel of its own, and a question for each fact."""
    kind, place_name = names.place()
    facts = {
        "title": names.title(),
        "hero": names.person(),
        "companion": names.person(),
        "place": f"the {kind} of {place_name}",
        "days": str(rng.randint(2, 40)),
        "thing": f"{rng.choice(MATERIALS)} {rng.choice(OBJECTS)}",
        "happening": rng.choice(HAPPENINGS),
    }
    sentences = [rng.choice(group).format(**facts) for group in (OPENINGS, JOURNEYS, COMPANIONS, ARRIVALS, CLOSINGS)]
    hero, companion = facts["hero"], facts["companion"]
    qa = [
        (f"Who travels with {hero} to {facts['place']}?", companion),
        (f"To which {kind} does {hero} travel in the novel {facts['title']}?", place_name),
        (f"Which object does {companion} carry on the journey?", facts["thing"]),
        (f"How many days does the journey of {hero} take?", facts["days"]),
        (f"In which novel does {hero} set out on a journey?", facts["title"]),
    ]
    return Document(text=" ".join(sentences), lead=sentences[0], qa=tuple(qa), key=hero)
