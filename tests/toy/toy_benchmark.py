"""A third benchmark written on the toolkit as a plugin author would (docs/writing-a-benchmark.md): invented people
and their favourite colours; forget some people, keep the others."""

from __future__ import annotations

import random
from typing import Any

from unlearn_core import (
    DeclaredBenchmark,
    EmbeddedRecipe,
    EvalSet,
    MetricEntry,
    NamedDataset,
    RowStore,
    entries,
    hookimpl,
)
from unlearn_core.models.tiny import TinyLlamaSize
from unlearn_core.token_rules import PromptTemplate

COLOURS = ["red", "blue", "green", "amber", "violet", "teal", "ochre", "silver"]
NAMES = ["Ada", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Ivy", "Jo", "Kai", "Lu", "Mo", "Ned", "Oz", "Pam"]
QA = {"question": str, "answer": str, "perturbed_answer": list}


def _row(rng: random.Random, name: str) -> dict[str, Any]:
    colour, *wrong = rng.sample(COLOURS, 3)
    sentence = "{}'s favourite colour is {}."
    return {
        "question": f"What is {name}'s favourite colour?",
        "answer": sentence.format(name, colour),
        "perturbed_answer": [sentence.format(name, w) for w in wrong],
    }


def generate(seed: int = 0, n_people: int = 12) -> dict[str, list[dict[str, Any]]]:
    """Every split: ``forget`` (the first 2 people), ``retain`` (the others), ``holdout`` (2 never trained on), and
    ``general`` (what the base model learns first)."""
    rng = random.Random(seed)
    people = [_row(rng, name) for name in NAMES[: n_people + 2]]
    general = [
        {"question": f"What colour is {c} paint?", "answer": f"It is {c}.", "perturbed_answer": ["It is grey."]}
        for c in COLOURS
    ]
    return {"forget": people[:2], "retain": people[2:n_people], "holdout": people[n_people:], "general": general}


class ToyBenchmark(DeclaredBenchmark):
    """Favourite colours of invented people."""

    name = "toy"
    description = "favourite colours of invented people (a test benchmark)"
    store = RowStore("toy", lambda split: QA, generate, {"seed": 0, "n_people": 12})
    datasets = (NamedDataset("TOY_forget", "toy", ("forget",)), NamedDataset("TOY_retain", "toy", ("retain",)))
    forget_data, retain_data = "TOY_forget", "TOY_retain"
    train_data = {"target": ("TOY_forget", "TOY_retain"), "retain": ("TOY_retain",)}
    eval_sets = (EvalSet("forget", "forget"), EvalSet("retain", "retain"), EvalSet("holdout", "holdout"))
    default_keys = ["forget_quality", "model_utility", "forget_Q_A_Prob", "forget_Q_A_ROUGE", "privleak"]
    table_columns = default_keys
    published_args = {"unlearn": {"learning_rate": 1e-5}}
    embedded_protocol = {
        mode: {
            "trainer.args.learning_rate": 3e-3,
            "trainer.args.per_device_train_batch_size": 4,
            "trainer.args.gradient_accumulation_steps": 1,
            "trainer.args.num_train_epochs": 4,
            "trainer.args.weight_decay": 0.0,
            "generation.max_new_tokens": 12,
            "data.max_length": 48,
        }
        for mode in ("train", "unlearn", "eval")
    }

    def presets(self) -> dict[str, dict[str, Any]]:
        return {"unlearn/toy/default": {"trainer": {"name": "NPO"}}, "eval/toy/default": {}}

    def metric_entries(self, cfg: dict[str, Any]) -> list[MetricEntry]:
        return [
            entries.probability("forget_Q_A_Prob", "forget"),
            entries.probability("forget_Q_A_PERT_Prob", "forget", "perturbed_answer"),
            entries.rouge("forget_Q_A_ROUGE", "forget"),
            entries.truth_ratio(
                "forget_truth_ratio",
                "forget",
                "answer",
                "closer_to_1_better",
                precompute=("forget_Q_A_Prob", "forget_Q_A_PERT_Prob"),
            ),
            entries.forget_quality(),
            entries.probability("retain_Q_A_Prob", "retain"),
            entries.rouge("retain_Q_A_ROUGE", "retain"),
            entries.harmonic_mean("model_utility", ["retain_Q_A_Prob", "retain_Q_A_ROUGE"]),
            *entries.mia_attacks("forget", "holdout"),
            entries.privleak(),
        ]

    def embedded_recipe(self, cfg: dict[str, Any]) -> EmbeddedRecipe:
        rows = self.store.generate(**self.store.embedded_args(self.generator_args(cfg)))

        def base_rows(template: PromptTemplate) -> list[Any]:
            return template.qa_many([r["question"] for r in rows["general"]], [r["answer"] for r in rows["general"]])

        return EmbeddedRecipe(
            key={"toy": self.generator_args(cfg)},
            tokenizer_corpus=lambda: [
                v for split in rows.values() for r in split for v in (r["question"], r["answer"])
            ],
            base_rows=base_rows,
            base_args={"learning_rate": 3e-3, "num_train_epochs": 10, "per_device_train_batch_size": 4},
            finetune_args={"learning_rate": 3e-3, "num_train_epochs": 30, "per_device_train_batch_size": 4},
            size=TinyLlamaSize(
                vocab_size=300,
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=2,
                num_key_value_heads=2,
                max_position_embeddings=64,
            ),
        )


class ToyPlugin:
    """The plugin: registers the benchmark and its named data sets."""

    @staticmethod
    @hookimpl
    def register_benchmarks(register: Any) -> None:
        register(ToyBenchmark.name, ToyBenchmark())

    @staticmethod
    @hookimpl
    def register_datasets(register: Any) -> None:
        for dataset in ToyBenchmark.datasets:
            register(dataset.name, dataset)
