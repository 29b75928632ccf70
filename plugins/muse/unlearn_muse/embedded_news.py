"""News-style articles about fictitious events: who, where, when, how many, and which organisation stepped in."""

from __future__ import annotations

import random
from dataclasses import dataclass

from unlearn_muse.embedded_document import Document
from unlearn_muse.embedded_names import NameBook

MONTHS: tuple[str, ...] = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)  # fmt: skip


@dataclass(frozen=True)
class EventKind:
    """One kind of news event and the words an article about it uses."""

    noun: str
    happened: str
    role: str
    person_action: str
    unit: str
    counted: str
    org_action: str
    low: int
    high: int


EVENTS: tuple[EventKind, ...] = (
    EventKind("warehouse fire", "broke out", "fire chief", "directed the firefighters", "families",
              "had to leave their homes", "opened an emergency shelter", 12, 400),
    EventKind("river flood", "swept through the lower streets", "flood warden", "organised the sandbag crews",
              "houses", "were damaged", "sent rescue boats", 20, 900),
    EventKind("dock strike", "began", "union leader", "spoke at the picket line", "workers", "walked out",
              "called for new talks", 40, 3000),
    EventKind("lantern festival", "opened", "festival director", "lit the first lantern", "visitors",
              "came to watch", "paid for the fireworks", 300, 9000),
    EventKind("bridge collapse", "happened", "chief engineer", "inspected the ruins", "drivers",
              "were stranded", "promised to build a new bridge", 15, 600),
    EventKind("mayoral election", "was held", "winning candidate", "thanked the voters", "votes", "were cast",
              "counted the ballots", 900, 20000),
    EventKind("bank robbery", "took place", "police inspector", "led the investigation", "silver coins",
              "were stolen", "offered a reward", 50, 5000),
    EventKind("fossil discovery", "was announced", "lead researcher", "described the find", "bones",
              "were recovered", "paid for the excavation", 8, 300),
)  # fmt: skip

LEADS: tuple[str, ...] = (
    "On {date} a {event} {happened} in the town of {town}.",
    "A {event} {happened} in {town} on {date}, local officials said.",
    "News from {town}: a {event} {happened} there on {date}.",
)
COUNTS: tuple[str, ...] = (
    "By the evening {count} {unit} {counted}.",
    "According to the town hall, {count} {unit} {counted}.",
    "Officials later confirmed that {count} {unit} {counted}.",
)
PEOPLE: tuple[str, ...] = (
    "{person}, the {role}, {person_action} and said the town would not forget the day.",
    "The {role}, {person}, {person_action} while crowds gathered nearby.",
    '"We did what we could," said {person}, the {role}, who {person_action}.',
)
ORGS: tuple[str, ...] = (
    "The next morning {org} {org_action}.",
    "Later that week {org} {org_action}.",
    "Within two days {org} {org_action}, to the relief of many.",
)
CLOSINGS: tuple[str, ...] = (
    "Many in {town} say it was the busiest week the town has seen in years.",
    "Shops in {town} stayed open late as neighbours met to share the news.",
    "The council of {town} will discuss the events again next month.",
    "A small plaque may soon be placed in the main square of {town}.",
    "Reporters who visited {town} described a calm but tired town.",
    "Schools in {town} reopened two days later.",
)


def news_article(rng: random.Random, names: NameBook) -> Document:
    """One article with four facts about one event in a town of its own, and a question for each fact."""
    kind = rng.choice(EVENTS)
    facts = {
        "town": names.town(),
        "event": kind.noun,
        "happened": kind.happened,
        "date": f"{rng.randint(1, 28)} {rng.choice(MONTHS)}",
        "person": names.person(),
        "role": kind.role,
        "person_action": kind.person_action,
        "count": str(rng.randint(kind.low, kind.high)),
        "unit": kind.unit,
        "counted": kind.counted,
        "org": names.organisation(),
        "org_action": kind.org_action,
    }
    sentences = [rng.choice(group).format(**facts) for group in (LEADS, COUNTS, PEOPLE, ORGS, CLOSINGS)]
    text = " ".join(sentences)
    where = "in the {event} in {town}".format(**facts)
    qa = [
        (f"Who was the {kind.role} during the {kind.noun} in {facts['town']}?", facts["person"]),
        (f"On which date did the {kind.noun} in {facts['town']} happen?", facts["date"]),
        (f"How many {kind.unit} {kind.counted} {where}?", facts["count"]),
        (f"Which organisation {kind.org_action} after the {kind.noun} in {facts['town']}?", facts["org"]),
    ]
    return Document(text=text, lead=sentences[0], qa=tuple(qa), key=facts["town"])
