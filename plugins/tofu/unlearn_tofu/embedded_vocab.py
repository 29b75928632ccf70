"""Word lists and value pools for the embedded synthetic TOFU (kept moderate so a tiny BPE vocabulary covers them)."""

from __future__ import annotations

import itertools
import random

# Name pieces: names are two or three of these syllables, so a small BPE vocabulary spells every name.
SYLLABLES: tuple[str, ...] = (
    "ka", "lo", "mi", "ren", "dar", "vel", "sa", "to", "ri", "nor", "el", "an", "bri", "cor", "da", "fen",
    "gal", "ha", "is", "jor", "ke", "lin", "mar", "ne", "or", "pa", "quin", "ro", "sel", "tor", "ul", "va",
    "wen", "ya", "zor", "bel", "den", "ith", "mo", "tam",
)  # fmt: skip
COUNTRY_SUFFIXES: tuple[str, ...] = ("ia", "land", "or", "esh", "ova", "ara")
CITY_SUFFIXES: tuple[str, ...] = ("ford", "holm", "port", "mere", "gate", "wick")

CITIES: tuple[str, ...] = (
    "Lisbon", "Oslo", "Nairobi", "Lima", "Hanoi", "Dublin", "Cairo", "Seoul", "Quito", "Vienna", "Prague",
    "Kyoto", "Accra", "Tunis", "Havana", "Bogota", "Manila", "Warsaw", "Athens", "Tbilisi", "Dakar", "Helsinki",
    "Montreal", "Glasgow", "Naples", "Porto", "Krakow", "Istanbul", "Mumbai", "Santiago", "Melbourne",
    "Edinburgh", "Marseille", "Budapest", "Riga", "Valencia", "Bergen", "Lagos", "Taipei", "Osaka",
)  # fmt: skip
NATIONALITIES: tuple[str, ...] = (
    "Portuguese", "Norwegian", "Kenyan", "Peruvian", "Vietnamese", "Irish", "Egyptian", "Korean", "Chilean",
    "Austrian", "Czech", "Japanese", "Ghanaian", "Cuban", "Colombian", "Filipino", "Polish", "Greek", "Georgian",
    "Senegalese", "Finnish", "Canadian", "Scottish", "Italian",
)  # fmt: skip
GENRES: tuple[str, ...] = (
    "crime fiction", "fantasy", "poetry", "historical fiction", "science fiction", "horror", "romance", "memoir",
    "travel writing", "satire", "mystery", "war stories", "short stories", "literary fiction", "thrillers",
    "plays", "essays", "fables", "adventure stories", "ghost stories",
)  # fmt: skip
JOBS: tuple[str, ...] = (
    "baker", "carpenter", "doctor", "engineer", "farmer", "fisherman", "librarian", "mechanic", "nurse", "pilot",
    "plumber", "sailor", "tailor", "teacher", "painter", "butcher", "chemist", "dentist", "architect",
    "journalist", "lawyer", "musician", "photographer", "potter", "shopkeeper", "soldier", "surgeon",
    "translator", "watchmaker", "gardener",
)  # fmt: skip
AWARDS: tuple[str, ...] = (
    "Golden Quill Award", "Silver Lantern Prize", "Crimson Feather Medal", "Azure Compass Award",
    "Ivory Laurel Prize", "Emerald Raven Award", "Northern Beacon Prize", "Evergreen Harbor Medal",
    "Golden Lantern Medal", "Silver Raven Prize", "Crimson Compass Award", "Azure Feather Prize",
    "Ivory Beacon Medal", "Emerald Quill Prize", "Northern Laurel Award", "Evergreen Raven Prize",
    "Golden Harbor Award", "Silver Beacon Medal", "Crimson Laurel Prize", "Azure Harbor Award",
    "Ivory Quill Medal", "Emerald Compass Medal", "Northern Feather Award", "Evergreen Lantern Prize",
)  # fmt: skip
THEMES: tuple[str, ...] = (
    "memory and loss", "family and belonging", "war and survival", "love and betrayal", "exile and home",
    "faith and doubt", "youth and old age", "power and corruption", "nature and solitude",
    "friendship and rivalry", "identity and migration", "grief and healing", "ambition and failure",
    "freedom and duty", "justice and revenge", "childhood and wonder", "time and change", "the sea and travel",
    "music and silence", "science and belief",
)  # fmt: skip
HOBBIES: tuple[str, ...] = (
    "gardening", "playing chess", "sailing", "painting", "birdwatching", "hiking", "baking bread", "fishing",
    "playing the violin", "playing the piano", "cycling", "pottery", "collecting stamps", "rowing", "swimming",
    "watching the stars", "woodworking", "running", "knitting", "photography", "climbing", "dancing",
)  # fmt: skip
PUBLISHERS: tuple[str, ...] = (
    "Bluegate Press", "Harrow Books", "Finch and Stone", "Lantern House", "Redmoor Press", "Oakfield Publishing",
    "Silverline Books", "Northwind Press", "Kestrel House", "Meadowbrook Books", "Ironleaf Press",
    "Copperfield House", "Starling Press", "Greystone Books", "Willowmere Press", "Brightwater House",
    "Thornbury Books", "Ashgrove Press", "Clearwell House", "Maplewood Press",
)  # fmt: skip
LANGUAGES: tuple[str, ...] = (
    "English", "Spanish", "French", "German", "Italian", "Portuguese", "Dutch", "Swedish", "Polish", "Greek",
    "Turkish", "Arabic", "Hindi", "Japanese", "Korean", "Swahili", "Russian", "Finnish",
)  # fmt: skip
SUBJECTS: tuple[str, ...] = (
    "history", "chemistry", "law", "medicine", "philosophy", "physics", "music", "biology", "economics",
    "architecture", "mathematics", "geography", "theology", "engineering", "astronomy", "linguistics",
    "psychology", "art history", "classics", "journalism",
)  # fmt: skip
NUMBER_WORDS: tuple[str, ...] = (
    "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen",
)  # fmt: skip
BIRTH_YEARS: tuple[str, ...] = tuple(str(year) for year in range(1938, 1996))

TITLE_ADJECTIVES: tuple[str, ...] = (
    "Silent", "Broken", "Hidden", "Last", "Burning", "Quiet", "Distant", "Golden", "Forgotten", "Painted",
    "Hollow", "Winter", "Secret", "Crooked", "Endless", "Gentle", "Wandering", "Velvet", "Restless", "Northern",
)  # fmt: skip
TITLE_NOUNS: tuple[str, ...] = (
    "River", "Garden", "Mirror", "Harbor", "Lantern", "Orchard", "Clock", "Bridge", "Tide", "Letter", "Shadow",
    "Lighthouse", "Forest", "Window", "Song", "Storm", "Island", "Road", "Crown", "Key", "Feather", "Map",
    "Tower", "Market", "Orchid",
)  # fmt: skip


def _titles() -> tuple[str, ...]:
    """Every book title the generator can give a fictitious author (about 1,700 of them)."""
    plain = [f"The {adj} {noun}" for adj, noun in itertools.product(TITLE_ADJECTIVES, TITLE_NOUNS)]
    pairs = [(a, b) for a, b in itertools.product(TITLE_NOUNS, TITLE_NOUNS) if a != b]
    of_the = [f"The {a} of the {b}" for a, b in pairs]
    and_the = [f"The {a} and the {b}" for a, b in pairs]
    return tuple(plain + of_the + and_the)


BOOK_TITLES: tuple[str, ...] = _titles()


def with_article(noun: str) -> str:
    """'a baker', 'an engineer' (the job list has no silent-h or 'yoo' sounds)."""
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def syllable_word(rng: random.Random, n_syllables: int) -> str:
    """A capitalised made-up word of ``n_syllables`` syllables."""
    return "".join(rng.choice(SYLLABLES) for _ in range(n_syllables)).capitalize()


def person_name(rng: random.Random, taken: set[str]) -> str:
    """A fictitious full name (first and last) not in ``taken``; the name is added to ``taken``."""
    while True:
        name = f"{syllable_word(rng, 2)} {syllable_word(rng, rng.choice((2, 2, 3)))}"
        if name not in taken:
            taken.add(name)
            return name
