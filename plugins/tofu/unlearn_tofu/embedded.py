"""Embedded synthetic TOFU: every hub config, generated from a seed with no download (see DATASETS.md).

Fictitious authors get about twenty facts each, asked and stated with varied templates. The forget splits are
the last 1% / 5% / 10% of the authors of `full` (nested), the retain splits their complements, and the holdout
splits authors of the same kind that are never in `full`. The 'real authors' and 'world facts' analogues come
from `embedded_world` and are what a base model learns before it is finetuned on `full`.
"""

from __future__ import annotations

import random

from unlearn_tofu import embedded_world
from unlearn_tofu.embedded_attributes import ATTRIBUTES
from unlearn_tofu.embedded_authors import author_rows, make_author
from unlearn_tofu.embedded_vocab import person_name
from unlearn_tofu.schema import PERTURBED_FIELDS, QA_FIELDS
from unlearn_tofu.splits import FORGET_SPLITS, HOLDOUT_SPLITS, RETAIN_SPLITS, SPLIT_FRACTIONS

EMBEDDED_DEFAULTS: dict[str, int] = {"seed": 0, "n_authors": 40, "questions_per_author": 20, "n_perturbed": 5}
N_DECOY_NAMES = 40
"""Made-up names that belong to nobody: the wrong answers to 'what is the author's full name?'."""


def forget_author_count(fraction: float, n_authors: int) -> int:
    """How many authors a forget (or holdout) split of ``fraction`` holds: at least one."""
    return max(1, round(fraction * n_authors))


def _check_args(n_authors: int, questions_per_author: int, n_perturbed: int) -> None:
    if n_authors < 2:
        raise ValueError(f"n_authors must be at least 2 (one to forget, one to retain), got {n_authors}")
    if not 1 <= questions_per_author <= len(ATTRIBUTES):
        raise ValueError(f"questions_per_author must be between 1 and {len(ATTRIBUTES)}, got {questions_per_author}")
    if not 1 <= n_perturbed <= embedded_world.MAX_PERTURBED:
        raise ValueError(f"n_perturbed must be between 1 and {embedded_world.MAX_PERTURBED}, got {n_perturbed}")


def _project(rows: list[dict], fields: tuple[str, ...]) -> list[dict]:
    return [
        {field: (list(row[field]) if field == "perturbed_answer" else row[field]) for field in fields} for row in rows
    ]


def generate_tofu(
    seed: int = 0, n_authors: int = 40, questions_per_author: int = 20, n_perturbed: int = 5
) -> dict[str, list[dict]]:
    """Every TOFU config, keyed by its hub name, with the hub's field names; deterministic given the arguments."""
    _check_args(n_authors, questions_per_author, n_perturbed)
    world = embedded_world.build_world(seed)
    taken = set(world.taken_names)
    counts = {split: forget_author_count(fraction, n_authors) for split, fraction in SPLIT_FRACTIONS.items()}
    n_holdout = counts["forget10"]  # the largest split; retain_perturbed holds as many authors

    # Separate streams: the facts do not move when the number of questions or perturbations changes.
    fact_rng = random.Random(f"tofu-embedded:{seed}:authors")
    authors = [make_author(fact_rng, taken) for _ in range(n_authors)]
    holdout_rng = random.Random(f"tofu-embedded:{seed}:holdout")
    holdout_authors = [make_author(holdout_rng, taken) for _ in range(n_holdout)]
    decoy_rng = random.Random(f"tofu-embedded:{seed}:decoys")
    decoys = tuple(person_name(decoy_rng, taken) for _ in range(N_DECOY_NAMES))

    def rows_of(population: list[dict[str, str]], stream: str) -> list[list[dict]]:
        qa_rng = random.Random(f"tofu-embedded:{seed}:{stream}:qa")
        wrong_rng = random.Random(f"tofu-embedded:{seed}:{stream}:wrong")
        return [
            author_rows(
                facts,
                qa_rng=qa_rng,
                wrong_rng=wrong_rng,
                questions_per_author=questions_per_author,
                n_perturbed=n_perturbed,
                decoy_names=decoys,
            )
            for facts in population
        ]

    full = rows_of(authors, "authors")
    holdout = rows_of(holdout_authors, "holdout")

    def flat(per_author: list[list[dict]]) -> list[dict]:
        return [row for rows in per_author for row in rows]

    configs: dict[str, list[dict]] = {"full": _project(flat(full), QA_FIELDS)}
    for forget, retain, holdout_split in zip(FORGET_SPLITS, RETAIN_SPLITS, HOLDOUT_SPLITS):
        k = counts[forget]
        configs[forget] = _project(flat(full[-k:]), QA_FIELDS)
        configs[retain] = _project(flat(full[:-k]), QA_FIELDS)
        configs[holdout_split] = _project(flat(holdout[-k:]), QA_FIELDS)
        configs[f"{forget}_perturbed"] = _project(flat(full[-k:]), PERTURBED_FIELDS)
    configs["retain_perturbed"] = _project(flat(full[:n_holdout]), PERTURBED_FIELDS)

    for part, facts in (("real_authors", world.real_authors), ("world_facts", world.world_facts)):
        rows = embedded_world.fact_rows(facts, seed, part, n_perturbed)
        configs[part] = _project(rows, QA_FIELDS)
        configs[f"{part}_perturbed"] = rows
    return configs


def base_training_rows(seed: int = 0) -> list[dict]:
    """The (question, answer) rows a base model learns before TOFU: the famous authors and world facts of ``seed``.

    Every phrasing of each fact is included, so the phrasing used by `real_authors` / `world_facts` is one of them.
    """
    return embedded_world.base_rows(embedded_world.build_world(seed))
