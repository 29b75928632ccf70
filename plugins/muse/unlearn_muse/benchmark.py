"""The MUSE benchmark (arXiv 2407.06460): unlearn news articles or book passages; six criteria, four numbers."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import cycle, islice
from typing import Any

from unlearn_core.benchmarks import Benchmark, EmbeddedRecipe, ExperimentStep, TradeoffAxes
from unlearn_core.data import Tokenized
from unlearn_core.errors import ConfigError, UnknownNameError
from unlearn_core.evaluation.suite import EvalSuite
from unlearn_core.suggest import unknown_message
from unlearn_core.token_rules import PromptTemplate
from unlearn_muse import embedded
from unlearn_muse.config import (
    EMBEDDED_BASE_ARGS,
    EMBEDDED_FINETUNE_ARGS,
    RECIPE_KEYS,
    config_defaults,
    embedded_defaults,
    presets,
    validate_muse_config,
)
from unlearn_muse.datasets import dataset_of
from unlearn_muse.embedded import N_ICL
from unlearn_muse.embedded_training import question_drills
from unlearn_muse.schema import STEP_SPLITS
from unlearn_muse.sources import EMBEDDED_SOURCE, embedded_args, load_muse
from unlearn_muse.suite import (
    EMBEDDED_VERBMEM_MAX_NEW_TOKENS,
    EVAL_SPLITS,
    REFERENCE_KEYS,
    TABLE_COLUMNS,
    VERBMEM_MAX_NEW_TOKENS,
    muse_suite,
)

EMBEDDED_VERSION = 1
"""Part of the embedded models' cache key: bump it when the generated corpus or the drills change."""
DRILL_REPEATS = 2
"""Passes over the embedded question drills per finetuning epoch (one over the documents)."""
SEQUENCES = {"scalability": "scal", "sustainability": "sust"}
"""``experiment_args.steps`` values and the subset whose forget_1..4 splits their steps unlearn."""


class MuseBenchmark(Benchmark):
    """MUSE: verbatim and knowledge memorisation, privacy leakage; embedded News/Books corpora by default."""

    name = "muse"
    description = "news articles / book passages (muse-bench/MUSE-News, -Books); embedded synthetic default"
    table_columns = TABLE_COLUMNS
    tradeoff_plots = (
        TradeoffAxes(x="retain_knowmem_ROUGE", y="forget_knowmem_ROUGE", title="Knowledge: forget against retain"),
        TradeoffAxes(x="retain_knowmem_ROUGE", y="privleak", title="Privacy leakage against retained knowledge"),
    )
    reference_keys = REFERENCE_KEYS

    def config_defaults(self, mode: str) -> dict[str, Any]:
        """Published protocol: batch 4 × accumulation 8, lr 1e-5, constant schedule, 10 epochs; 2048 tokens."""
        return config_defaults(mode)

    def embedded_defaults(self, mode: str) -> dict[str, Any]:
        """The embedded tiny model's own protocol (applied where the user did not set the key)."""
        return embedded_defaults(mode)

    def presets(self) -> dict[str, dict[str, Any]]:
        """``unlearn/muse/{default,scalability,sustainability}``, ``finetune/muse/default``, ``eval/muse/default``."""
        return presets()

    def validate_config(self, cfg: dict[str, Any]) -> None:
        """Check data_split, splits, data keys and the source (a directory must hold every file the run reads)."""
        validate_muse_config(cfg, self._experiment_kind(cfg))

    def manifest(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """What evaluation results depend on: the data split and source (not the split a run unlearned)."""
        manifest = super().manifest(cfg)
        # Evaluation reads the same verbmem/knowmem/privleak sets whatever forget set was unlearned, so steps of a
        # scalability or sustainability experiment share the retain model's reference logs.
        manifest.update(forget_split=None, retain_split=None)
        if cfg["data"]["source"] == EMBEDDED_SOURCE:
            manifest["embedded"] = self._embedded_args(cfg)
        return manifest

    # ---- experiments ----------------------------------------------------------------------------------------------
    def _experiment_kind(self, cfg: dict[str, Any]) -> str | None:
        kind = cfg.get("experiment_args", {}).get("steps")
        if kind is not None and kind not in SEQUENCES:
            raise UnknownNameError(unknown_message("MUSE experiment_args.steps", str(kind), SEQUENCES))
        return kind

    def experiment_steps(self, cfg: dict[str, Any]) -> list[ExperimentStep]:
        """Scalability: each forget_k of ``scal`` unlearned from the target; sustainability: ``sust`` in sequence."""
        kind = self._experiment_kind(cfg)
        if kind is None:
            return []
        subset = SEQUENCES[kind]
        return [
            ExperimentStep(
                split,
                {"data.forget": f"MUSE_forget_{subset}", "forget_split": split},
                continue_from_previous=kind == "sustainability" and k > 0,
            )
            for k, split in enumerate(STEP_SPLITS)
        ]

    # ---- data -----------------------------------------------------------------------------------------------------
    def _embedded_args(self, cfg: dict[str, Any]) -> dict[str, int]:
        return embedded_args({k: v for k, v in cfg["data"]["embedded"].items() if k not in RECIPE_KEYS})

    def _load(self, cfg: dict[str, Any], subset: str, split: str) -> list[dict[str, Any]]:
        return load_muse(cfg["data"]["source"], cfg["data_split"], subset, split, embedded=self._embedded_args(cfg))

    def _pairs(self, cfg: dict[str, Any], split: str) -> list[tuple[str, str]]:
        return [(r["question"], r["answer"]) for r in self._load(cfg, "knowmem", split)]

    def _chunks(self, cfg: dict[str, Any], template: PromptTemplate, parts: list[tuple[str, str]]) -> list[Tokenized]:
        """Every document of ``parts`` cut into ``data.max_length`` chunks (a document never spills into another)."""
        chunks: list[Tokenized] = []
        for subset, split in parts:
            for row in self._load(cfg, subset, split):
                chunks += template.text_chunks(row["text"], start_index=len(chunks))
        return chunks

    def finetune_data(self, cfg: dict[str, Any], template: PromptTemplate) -> list[Tokenized]:
        """``train/forget`` + ``retain1`` + ``retain2`` for the target model; the retain splits only for retain.

        Embedded data adds question drills on the facts knowmem asks about (``knowmem/*_qa`` and ``*_qa_icl`` of
        the documents trained on), ``DRILL_REPEATS`` times per epoch: a tiny model does not learn to answer
        questions on facts it only read in prose, and needs more passes over a question than over a document.
        The embedded retain model then goes through its rows as often as it takes to train for as many steps
        as the target (a tiny model given fewer steps learns even its own facts much worse).
        """
        rows = self._rows(cfg, template, with_forget=cfg["data"].get("train") != "retain")
        if cfg["data"].get("train") != "retain" or cfg["data"]["source"] != EMBEDDED_SOURCE:
            return rows
        wanted = len(self._rows(cfg, template, with_forget=True))
        return [Tokenized(r.prompt_ids, r.target_ids, i) for i, r in enumerate(islice(cycle(rows), wanted))]

    def _rows(self, cfg: dict[str, Any], template: PromptTemplate, *, with_forget: bool) -> list[Tokenized]:
        forget, retain = [("train", "forget")], [("train", "retain1"), ("train", "retain2")]
        rows = self._chunks(cfg, template, forget + retain if with_forget else retain)
        for _ in range(DRILL_REPEATS):
            if with_forget:
                rows += self._drills(cfg, template, "forget", forget, len(rows))
            rows += self._drills(cfg, template, "retain", retain[:1], len(rows))
        return rows

    def unlearn_data(self, cfg: dict[str, Any], template: PromptTemplate) -> tuple[list[Tokenized], list[Tokenized]]:
        """``<data.forget>/<forget_split>`` (raw/forget by default) and ``raw/<retain_split>``, chunked as the
        reference chunks them (documents joined by a blank line).

        Embedded data adds the question drills of those documents, as the embedded models learned them.
        """
        forget = self._named(cfg, template, "forget", cfg["data"]["forget"], cfg["forget_split"])
        retain = self._named(cfg, template, "retain", cfg["data"]["retain"], cfg["retain_split"])
        return forget, retain

    def _named(
        self, cfg: dict[str, Any], template: PromptTemplate, role: str, name: str, split: str
    ) -> list[Tokenized]:
        """Samples of data set ``name``: documents chunked as the reference chunks them (joined by a blank line,
        cut into ``data.max_length`` pieces), knowmem questions after their few-shot examples, verbmem
        completions; embedded documents also bring the question drills the embedded models learned them with."""
        dataset = dataset_of(name)
        splits = dataset.splits or (split,)
        rows = [row for s in splits for row in self._load(cfg, dataset.subset, s)]
        if dataset.subset == "knowmem":
            shots = [p for s in splits for p in self._pairs(cfg, f"{s}_icl")]
            return template.qa_many([r["question"] for r in rows], [r["answer"] for r in rows], shots)
        if dataset.subset == "verbmem":
            return template.completion_many([r["prompt"] for r in rows], [r["gt"] for r in rows], insert_space=True)
        chunks = template.pretraining_chunks([row["text"] for row in rows])
        parts = [(dataset.subset, s) for s in splits]
        return chunks + self._drills(cfg, template, role, parts, len(chunks))

    def _drills(
        self, cfg: dict[str, Any], template: PromptTemplate, role: str, parts: list[tuple[str, str]], start: int
    ) -> list[Tokenized]:
        """Embedded only: drills on the knowmem ``{role}_qa`` and few-shot facts of the documents in ``parts``."""
        if cfg["data"]["source"] != EMBEDDED_SOURCE or not parts:
            return []
        texts = [row["text"] for subset, split in parts for row in self._load(cfg, subset, split)]
        facts = embedded.facts_of(cfg["data_split"], texts, **self._embedded_args(cfg))
        shots = self._pairs(cfg, f"{role}_qa_icl")
        pairs = [p for p in self._pairs(cfg, f"{role}_qa") + shots if p in facts]
        return question_drills(template, pairs, shots, f"{cfg['data_split']}:{role}", start)

    def eval_suite(self, cfg: dict[str, Any]) -> EvalSuite:
        """verbmem/forget, knowmem forget/retain QA with their few-shot splits, privleak forget vs holdout."""
        data = {f"{subset}_{split}": self._load(cfg, subset, split) for subset, split in EVAL_SPLITS}
        embedded_data = cfg["data"]["source"] == EMBEDDED_SOURCE
        verbmem = EMBEDDED_VERBMEM_MAX_NEW_TOKENS if embedded_data else VERBMEM_MAX_NEW_TOKENS
        return muse_suite(data, verbmem, classifier=cfg["eval"]["classifier_model"])

    # ---- embedded default -----------------------------------------------------------------------------------------
    def embedded_recipe(self, cfg: dict[str, Any]) -> EmbeddedRecipe:
        """Tokenizer on every embedded text; base model on background documents and questions; then target/retain."""
        if cfg["data"]["source"] != EMBEDDED_SOURCE:
            raise ConfigError(
                "the embedded tiny model is trained on embedded data only: with data.source="
                f"{cfg['data']['source']} also set model.model_args.pretrained_model_name_or_path=<model>"
            )
        split, args = cfg["data_split"], self._embedded_args(cfg)

        def corpus() -> Iterator[str]:
            for docs in embedded.build_corpus(split, **args).documents.values():
                for doc in docs:
                    yield doc.text
                    for question, answer in doc.qa:
                        yield f"Question: {question}\nAnswer:{answer}"

        def base_rows(template: PromptTemplate) -> list[Tokenized]:
            texts, qa = embedded.background_rows(split, **args)
            rows: list[Tokenized] = []
            for text in texts:
                rows += template.text_chunks(text, start_index=len(rows))
            return rows + question_drills(template, qa, qa[:N_ICL], f"{split}:background", len(rows))

        recipe = {**RECIPE_KEYS, **{k: v for k, v in cfg["data"]["embedded"].items() if k in RECIPE_KEYS}}
        return EmbeddedRecipe(
            key={"muse": {"data_split": split, **args}, "version": EMBEDDED_VERSION},
            tokenizer_corpus=corpus,
            base_rows=base_rows,
            replay=False,
            base_args={**EMBEDDED_BASE_ARGS, "num_train_epochs": recipe["base_epochs"]},
            finetune_args={**EMBEDDED_FINETUNE_ARGS, "num_train_epochs": recipe["finetune_epochs"]},
        )
