"""Evaluate one model state: lazily computed, cached statistics and generations shared by all metrics."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch

from unlearn_core.data import PromptTemplate, Tokenized, collate, collate_prompts
from unlearn_core.errors import ConfigError, ReferenceLogError
from unlearn_core.evaluation.suite import EvalDataset, EvalSuite, MetricEntry
from unlearn_core.metrics.rouge import cut_at_stop_strings
from unlearn_core.metrics.statistics import SampleStatistics, compute_sample_statistics
from unlearn_core.suggest import unknown_message


class EvaluationEngine:
    """Computes the metric entries of a suite for one model.

    Per (data set, answer field) the engine runs ONE forward pass per sample and keeps every primitive statistic
    (``SampleStatistics``); per (data set, generation settings) it generates once. Metrics read these caches.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        template: PromptTemplate,
        suite: EvalSuite,
        metrics: Any,
        *,
        batch_size: int,
        generation: dict[str, Any],
        reference_logs: dict[str, Any] | None = None,
        reference_model: torch.nn.Module | None = None,
        progress: bool = True,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.template = template
        self.suite = suite
        self.metrics = metrics
        self.batch_size = batch_size
        self.generation = generation
        self.reference_logs = reference_logs
        self.reference_model = reference_model
        self.progress = progress
        self._stats: dict[tuple[str, str, int], list[Any]] = {}
        self._generations: dict[tuple[Any, ...], list[str]] = {}
        self._results: dict[str, dict[str, Any]] = {}
        self.timings: dict[str, float] = {}
        self.forward_passes = 0

    @property
    def device(self) -> torch.device:
        """Where the model's parameters live."""
        return next(self.model.parameters()).device

    def dataset(self, name: str) -> EvalDataset:
        """An evaluation data set of the suite by name."""
        if name not in self.suite.datasets:
            raise ConfigError(unknown_message("evaluation data set", name, self.suite.datasets))
        return self.suite.datasets[name]

    # ---- tokenisation -------------------------------------------------------------------------------------------
    def _prompt(self, ds: EvalDataset, row: dict[str, Any]) -> list[int]:
        if ds.kind == "text":
            ids = list(self.tokenizer(row[ds.question_field], add_special_tokens=True)["input_ids"])
            return ids[: self.template.max_length - 1]
        return self.template.prompt_ids(row[ds.question_field], ds.few_shot)

    def _samples(self, ds: EvalDataset, field: str) -> list[tuple[int, int, Tokenized]]:
        out = []
        for i, row in enumerate(ds.rows):
            if field not in row:
                raise ConfigError(f"evaluation set '{ds.name}' has no field '{field}' (row {i})")
            answers = row[field] if isinstance(row[field], list) else [row[field]]
            for j, answer in enumerate(answers):
                if ds.kind == "text" and field == ds.question_field:
                    bos = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
                    ids = list(self.tokenizer(answer, add_special_tokens=False)["input_ids"])
                    sample = Tokenized(tuple(bos), tuple(ids[: self.template.max_length - len(bos)]), i)
                elif ds.kind == "text":
                    prompt = self._prompt(ds, row)
                    ids = list(self.tokenizer(answer, add_special_tokens=False)["input_ids"])
                    sample = Tokenized(tuple(prompt), tuple(ids[: self.template.max_length - len(prompt)]), i)
                else:
                    sample = self.template.qa(row[ds.question_field], answer, i, ds.few_shot)
                out.append((i, j, sample))
        return out

    # ---- statistics ---------------------------------------------------------------------------------------------
    def stats(self, dataset: str, field: str, model: torch.nn.Module | None = None) -> list[Any]:
        """Per-sample statistics of ``field`` (a list of them per sample when the field holds a list of answers)."""
        which = 1 if model is not None else 0
        key = (dataset, field, which)
        if key not in self._stats:
            start = time.perf_counter()
            self._stats[key] = self._compute_stats(self.dataset(dataset), field, model or self.model)
            self.timings[f"forward:{dataset}:{field}"] = time.perf_counter() - start
        return self._stats[key]

    def _compute_stats(self, ds: EvalDataset, field: str, model: torch.nn.Module) -> list[Any]:
        items = self._samples(ds, field)
        order = sorted(range(len(items)), key=lambda k: items[k][2].length)
        flat: list[SampleStatistics | None] = [None] * len(items)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        device = next(model.parameters()).device
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                batch = collate([items[k][2] for k in chunk], pad)
                logits = model(
                    input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)
                ).logits
                self.forward_passes += len(chunk)
                for k, st in zip(chunk, compute_sample_statistics(logits, batch["labels"].to(device))):
                    flat[k] = st
        per_row: list[Any] = [None] * len(ds.rows)
        for (i, _j, _s), st in zip(items, flat):
            if isinstance(ds.rows[i][field], list):
                per_row[i] = (per_row[i] or []) + [st]
            else:
                per_row[i] = st
        return per_row

    def gradnorm_scores(self, dataset: str, field: str) -> list[float]:
        """Per-sample gradient-norm MIA scores (no side effects on the model's gradients or mode)."""
        from unlearn_core.metrics.mia import gradnorm_scores

        items = self._samples(self.dataset(dataset), field)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        scores: list[float] = []
        for start in range(0, len(items), self.batch_size):
            batch = collate([s for _, _, s in items[start : start + self.batch_size]], pad)
            scores += gradnorm_scores(self.model, {k: v.to(self.device) for k, v in batch.items()})
        return scores

    def texts(self, dataset: str, field: str) -> list[Any]:
        """The raw values of ``field`` per row."""
        return [row[field] for row in self.dataset(dataset).rows]

    # ---- generation ---------------------------------------------------------------------------------------------
    def generations(self, dataset: str, max_new_tokens: int | None = None, stop: Sequence[str] = ()) -> list[str]:
        """Greedy continuations of every prompt of ``dataset``, computed once per settings, in input order."""
        max_new = max_new_tokens or self.generation["max_new_tokens"]
        key = (dataset, max_new, tuple(stop))
        if key not in self._generations:
            start = time.perf_counter()
            self._generations[key] = self._generate(self.dataset(dataset), max_new, stop)
            self.timings[f"generate:{dataset}"] = time.perf_counter() - start
        return self._generations[key]

    def _generate(self, ds: EvalDataset, max_new: int, stop: Sequence[str]) -> list[str]:
        prompts = [self._prompt(ds, row) for row in ds.rows]
        order = sorted(range(len(prompts)), key=lambda k: len(prompts[k]))
        outputs: list[str] = [""] * len(prompts)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        eos = self.tokenizer.eos_token_id
        bs = self.generation["batch_size"]
        with torch.inference_mode():
            for start in range(0, len(order), bs):
                chunk = order[start : start + bs]
                batch = {k: v.to(self.device) for k, v in collate_prompts([prompts[k] for k in chunk], pad).items()}
                generated = self.model.generate(
                    **batch, max_new_tokens=max_new, do_sample=False, pad_token_id=pad, eos_token_id=eos
                )
                new_tokens = generated[:, batch["input_ids"].shape[1] :]
                for k, ids in zip(chunk, new_tokens.tolist()):
                    if eos is not None and eos in ids:
                        ids = ids[: ids.index(eos)]
                    text = self.tokenizer.decode(ids, skip_special_tokens=True)
                    outputs[k] = cut_at_stop_strings(text, stop).strip()
        return outputs

    # ---- results ------------------------------------------------------------------------------------------------
    def result(self, key: str) -> dict[str, Any]:
        """The result of entry ``key`` (computed on first use, then cached)."""
        if key not in self._results:
            if key not in self.suite.entries:
                raise ConfigError(unknown_message("metric", key, self.suite.entries))
            entry: MetricEntry = self.suite.entries[key]
            metric = self.metrics.get(entry.metric)
            if metric.needs_reference_logs and self.reference_logs is None:
                raise ReferenceLogError(
                    f"metric '{key}' needs reference logs: pass retain_logs_path=<retain model's "
                    f"{self.suite.benchmark.upper()}_EVAL.json> or drop it with eval.metrics=[...]"
                )
            start = time.perf_counter()
            self._results[key] = metric.compute(self, entry)
            self.timings[f"metric:{key}"] = time.perf_counter() - start
        return self._results[key]

    def reference(self, key: str) -> dict[str, Any]:
        """Entry ``key`` of the reference (retain model) logs; a missing key is an error naming it."""
        if self.reference_logs is None:
            raise ReferenceLogError(f"'{key}' needs reference logs (retain_logs_path)")
        if key not in self.reference_logs:
            raise ReferenceLogError(
                f"reference logs have no '{key}' entry; they hold: {', '.join(self.reference_logs)}"
            )
        return self.reference_logs[key]

    def run(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Compute ``keys`` (and what they depend on); returns every computed entry in the reference layout."""
        for key in keys:
            self.result(key)
        return dict(self._results)
