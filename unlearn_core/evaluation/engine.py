"""Evaluate one model state: statistics and generations computed once and shared by every metric entry.

Per (model, data set) the engine scores every answer field that the selected entries need in ONE fused pass
(``scoring``: one prompt prefill, then all answer variants after it), and keeps the per-sample statistics. Per
(data set, prompt field, generation settings) it generates once (``decoding``), using the ground-truth answer as a
draft that the fused pass has already verified. Metrics read these caches. With a ``partial`` store the engine
saves every finished entry as it goes, and reuses the entries a previous, interrupted run already finished.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import torch

from unlearn_core.choice_tokens import context_length
from unlearn_core.data import Tokenized, collate
from unlearn_core.errors import ConfigError, RetainLogsError
from unlearn_core.evaluation import decoding, lockstep, needs, scoring, sharding
from unlearn_core.evaluation.metric import Generate, Score
from unlearn_core.evaluation.partial import PartialResults
from unlearn_core.evaluation.suite import EvalDataset, EvalSuite, MetricEntry
from unlearn_core.evaluation.tokens import EvalTokens
from unlearn_core.metrics.classifier import load_classifier
from unlearn_core.metrics.mia import gradnorm_scores
from unlearn_core.metrics.rouge import cut_at_stop_strings
from unlearn_core.progress import Progress
from unlearn_core.suggest import unknown_message
from unlearn_core.token_rules import PromptTemplate

ReferenceModel = torch.nn.Module | Callable[[], torch.nn.Module] | None


class EvaluationEngine:
    """Computes the metric entries of a suite for one model (see the module docstring).

    ``mia_reference`` (a model or a function loading one) serves ``mia_reference``; ``partial`` saves and
    reuses finished entries; ``use_drafts=False`` decodes every row (same output, slower; for tests).
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
        retain_logs: dict[str, Any] | None = None,
        mia_reference: ReferenceModel = None,
        progress: bool = True,
        partial: PartialResults | None = None,
        shard: bool = False,
        use_drafts: bool = True,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.template = template
        self.suite = suite
        self.metrics = metrics
        self.batch_size = batch_size
        self.generation = generation
        self.retain_logs = retain_logs
        self._mia_reference = mia_reference
        self.progress = progress
        self.shard = shard
        """Split scoring and decoding across the processes of a multi-process run (all of them call the engine)."""
        self.partial = partial
        self.use_drafts = use_drafts
        self.tokens = EvalTokens(tokenizer, template, context_length(model, tokenizer))
        self.plan = needs.Plan()
        self._stats: dict[tuple[str, str, bool], list[Any]] = {}
        self._generations: dict[tuple[Any, ...], list[str]] = {}
        self._results: dict[str, dict[str, Any]] = {}
        self._classifiers: dict[str, tuple[Any, Any]] = {}
        self.reused: list[str] = []
        self.timings: dict[str, float] = {}
        self.scoring = scoring.ScoringCounters()
        self.decoding = decoding.DecodingCounters()
        self.lockstep = lockstep.LockstepCounters()
        self.scored: Counter[tuple[str, str, bool]] = Counter()
        self.generated: Counter[tuple[Any, ...]] = Counter()
        if partial is not None:
            self._results.update(partial.reusable(suite))
            self.reused = list(self._results)

    @property
    def pad_id(self) -> int:
        """Padding id (masks never depend on it: they come from real lengths)."""
        return self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    @property
    def forward_passes(self) -> int:
        """Number of (sample, answer) sequences scored so far, each exactly once per model."""
        return sum(self.scored.values())

    def set_mia_reference(self, model: ReferenceModel) -> None:
        """The model (or a function loading it on first use) that ``mia_reference`` compares against."""
        self._mia_reference = model

    @property
    def mia_reference(self) -> torch.nn.Module | None:
        """The model ``mia_reference`` compares against (loaded on first use when given as a loader)."""
        if self._mia_reference is not None and not isinstance(self._mia_reference, torch.nn.Module):
            self._mia_reference = self._mia_reference()
        return self._mia_reference

    def classifier(self, path: str) -> tuple[Any, Any]:
        """A sequence classifier and its tokenizer (loaded once per path, on the evaluated model's device)."""
        if path not in self._classifiers:
            self._classifiers[path] = load_classifier(path, next(self.model.parameters()).device)
        return self._classifiers[path]

    def dataset(self, name: str) -> EvalDataset:
        """An evaluation data set of the suite by name."""
        if name not in self.suite.datasets:
            raise ConfigError(unknown_message("evaluation data set", name, self.suite.datasets))
        return self.suite.datasets[name]

    def texts(self, dataset: str, field: str) -> list[Any]:
        """The raw values of ``field`` per row."""
        return [row[field] for row in self.dataset(dataset).rows]

    def inputs(self, dataset: str, question_field: str | None = None) -> list[str]:
        """Each row's generation prompt as text, as the reference reports it."""
        return self.tokens.inputs(self.dataset(dataset), question_field)

    def ground_truths(self, dataset: str, field: str, question_field: str | None = None) -> list[Any]:
        """What ROUGE scores generations against, per row, derived from the scored ids as the reference does."""
        return self.tokens.ground_truths(self.dataset(dataset), field, question_field)

    def target_texts(self, dataset: str, field: str) -> list[Any]:
        """The scored targets of ``field`` decoded, per row (the text the zlib attack compresses)."""
        return self.tokens.target_texts(self.dataset(dataset), field)

    # ---- statistics ---------------------------------------------------------------------------------------------
    def stats(self, dataset: str, field: str, *, mia_reference: bool = False, need_z: bool = False) -> list[Any]:
        """Per-row statistics of ``field`` (a list per row for a list field); planned fields are scored together.

        ``mia_reference``: scored by the MIA's reference model. ``need_z``: the caller reads ``minkpp_z``; a field
        planned without z-scores is then scored again with them.
        """
        key = (dataset, field, mia_reference)
        if need_z and key in self._stats and not self.plan.wants_z(dataset, field, mia_reference):
            self.plan.z.add(key)
            del self._stats[key]
        if key not in self._stats:
            planned = self.plan.fields.get((dataset, mia_reference), [])
            fields = [field] + [f for f in planned if f != field and (dataset, f, mia_reference) not in self._stats]
            start = time.perf_counter()
            self._score(self.dataset(dataset), fields, mia_reference)
            self.timings[f"forward:{dataset}:{'+'.join(fields)}"] = time.perf_counter() - start
        return self._stats[key]

    def _score(self, ds: EvalDataset, fields: list[str], mia_reference: bool) -> None:
        """One fused pass over ``fields`` of ``ds``: per row, answers sharing a prompt form one group."""
        model = self.mia_reference if mia_reference else self.model
        if model is None:
            raise RetainLogsError("mia_reference needs a reference model (see docs/metrics.md, 'mia_reference')")
        groups: list[scoring.AnswerGroup] = []
        slots: list[tuple[int, list[tuple[str, int]]]] = []  # per group: its row, and (field, answer index) per answer
        for i in range(len(ds.rows)):
            by_prompt: dict[tuple[int, ...], list[tuple[str, int, tuple[int, ...]]]] = {}
            for f in fields:
                for j, (prompt, target) in enumerate(self.tokens.targets(ds, f)[i]):
                    by_prompt.setdefault(prompt, []).append((f, j, target))
            for prompt, answers in by_prompt.items():
                with_z = tuple(self.plan.wants_z(ds.name, f, mia_reference) for f, _, _ in answers)
                groups.append(scoring.AnswerGroup(prompt, tuple(t for _, _, t in answers), with_z))
                slots.append((i, [(f, j) for f, j, _ in answers]))
        per_field = {f: [[None] * len(row) for row in self.tokens.targets(ds, f)] for f in fields}
        was_training = model.training
        model.eval()
        try:
            results = self._map(
                lambda part: scoring.score_groups(
                    model, part, batch_size=self.batch_size, pad_id=self.pad_id, counters=self.scoring
                ),
                groups,
                model,
            )
        finally:
            model.train(was_training)
        for (i, where), stats in zip(slots, results):
            for (f, j), st in zip(where, stats):
                per_field[f][i][j] = st
        for f in fields:
            single = [not isinstance(row[f], list) for row in ds.rows]
            self._stats[(ds.name, f, mia_reference)] = [v[0] if s else v for v, s in zip(per_field[f], single)]
            self.scored[(ds.name, f, mia_reference)] += sum(len(v) for v in per_field[f])

    def _map(self, fn: Any, items: list[Any], model: torch.nn.Module) -> list[Any]:
        """``fn(items)``, split across processes when this engine shards (see ``evaluation.sharding``).

        ``fn`` runs ``model``; when that is ZeRO-3-partitioned its forwards run in lockstep across the processes
        (``evaluation.lockstep``), which lets each process work on its own share.
        """
        synced = lockstep.in_lockstep(model, self.pad_id, self.lockstep)
        if not (self.shard and sharding.can_shard()):
            with synced:
                return fn(items)
        return sharding.map_sharded(fn, items, synced)

    def gradnorm_scores(self, dataset: str, field: str) -> list[float]:
        """Per-sample gradient-norm MIA scores (no side effects on the model's gradients or mode).

        Gradients come from ``torch.autograd.grad``, which runs no ``AccumulateGrad`` node and so fires none of the
        gradient hooks a ZeRO-1/2 optimizer puts on the parameters. A ZeRO-3-partitioned model has no full local
        weights to differentiate: that is an error.
        """
        if lockstep.is_partitioned(self.model):
            raise ConfigError(
                "metric mia_gradnorm needs whole per-sample gradients, which ZeRO-3 partitions: evaluate the saved "
                "model in one process with `unlearn eval` (or launch with the ddp/zero2 config), or drop it from "
                "eval.metrics"
            )
        rows = self.tokens.targets(self.dataset(dataset), field)
        samples = [Tokenized(p, t, i) for i, row in enumerate(rows) for p, t in row]
        scores: list[float] = []
        device = next(self.model.parameters()).device
        for start in range(0, len(samples), self.batch_size):
            batch = collate(samples[start : start + self.batch_size], self.pad_id)
            scores += gradnorm_scores(self.model, {k: v.to(device) for k, v in batch.items()})
        return scores

    # ---- generation ---------------------------------------------------------------------------------------------
    def generations(self, request: Generate) -> list[str]:
        """Greedy continuations of the prompts of ``request.dataset``, computed once per settings, in input order.

        ``request.draft_field`` (a ground-truth answer field) only makes it faster: the result does not depend on it.
        """
        key = self._generation_key(request)
        if key not in self._generations:
            self._generate([request])
        return self._generations[key]

    def _generation_key(self, request: Generate) -> tuple[Any, ...]:
        """What a generation depends on: data set, prompt field, max_new_tokens, stop strings."""
        question = request.question_field or self.dataset(request.dataset).question_field
        max_new = request.max_new_tokens or self.generation["max_new_tokens"]
        return (request.dataset, question, max_new, tuple(request.stop))

    def _stop_check(self, stops: tuple[str, ...]) -> decoding.StopCheck | None:
        """A row ends once the text of its output holds one of ``stops`` (None without stop strings): what is kept,
        cut at the earliest stop string, is the same as after decoding to the budget."""
        return decoding.stop_string_check(self.template.decode, stops)

    def _generate(self, requests: list[Generate]) -> None:
        """Generate for all ``requests`` not cached yet in ONE pooled decoding (rows keep their own budgets)."""
        todo: dict[tuple[Any, ...], Generate] = {}
        for request in requests:
            key = self._generation_key(request)
            if key not in self._generations and key not in todo:
                todo[key] = request
        if not todo:
            return
        start = time.perf_counter()
        prompts: list[tuple[int, ...]] = []
        drafts: list[Any] = []
        budgets: list[int] = []
        checks: list[decoding.StopCheck | None] = []
        for (dataset, question, max_new, stops), request in todo.items():
            ds = self.dataset(dataset)
            rows = self.tokens.prompts(ds, question)
            prompts += rows
            drafts += self._drafts(ds, question, rows, request.draft_field, max_new)
            budgets += [max_new] * len(rows)
            checks += [self._stop_check(stops)] * len(rows)
        eos = self.tokenizer.eos_token_id
        was_training = self.model.training
        self.model.eval()
        try:
            rows = list(zip(prompts, drafts, budgets, checks))
            outputs = self._map(
                lambda part: decoding.generate_tokens(
                    self.model,
                    [p for p, _, _, _ in part],
                    [d for _, d, _, _ in part],
                    max_new_tokens=[b for _, _, b, _ in part],
                    stop_checks=[c for _, _, _, c in part],
                    cache=self.generation.get("cache", "dynamic"),
                    batch_size=self.generation["batch_size"],
                    pad_id=self.pad_id,
                    eos_id=eos,
                    counters=self.decoding,
                    progress=f"generate {self.suite.benchmark}" if self.progress else None,
                ),
                rows,
                self.model,
            )
        finally:
            self.model.train(was_training)
        offset = 0
        for key in todo:
            n = len(self.dataset(key[0]).rows)
            texts = []
            for ids in outputs[offset : offset + n]:
                if eos is not None and eos in ids:
                    ids = ids[: ids.index(eos)]
                texts.append(cut_at_stop_strings(self.template.decode(ids), key[3]).strip())
            self._generations[key] = texts
            self.generated[key] += 1
            offset += n
        self.timings[f"generate:{len(todo)} prompt sets"] = time.perf_counter() - start

    def _drafts(
        self, ds: EvalDataset, question: str, prompts: list[tuple[int, ...]], draft_field: str | None, budget: int
    ) -> list[Any]:
        """Per row what decoding may follow: (draft ids, teacher-forced argmax ids) when the draft is the answer
        already scored after the generation prompt (its statistics hold the argmaxes), else (draft ids cut to
        ``budget``, None): a guess the first decoding forward checks (``decoding.generate_tokens``). None for every
        row without drafts (``use_drafts=False``, no draft field)."""
        drafted = self.use_drafts and draft_field is not None and bool(ds.rows)
        if not drafted or not all(isinstance(r.get(draft_field), str) for r in ds.rows):
            return [None] * len(prompts)
        targets = [row[0] for row in self.tokens.targets(ds, draft_field)]
        drafts = self.tokens.drafts(ds, draft_field, question)
        scored = question == ds.question_field and all(p == t[0] for p, t in zip(prompts, targets))
        reused = scored and any(draft == target[1] for draft, target in zip(drafts, targets))
        stats = self.stats(ds.name, draft_field) if reused else None
        out: list[Any] = []
        for i, (target, draft) in enumerate(zip(targets, drafts)):
            if stats is not None and draft == target[1]:
                out.append((draft, stats[i].argmax_ids.tolist()))
            else:
                out.append((draft[:budget], None) if draft else None)
        return out

    # ---- results ------------------------------------------------------------------------------------------------
    def result(self, key: str) -> dict[str, Any]:
        """The result of entry ``key`` (computed on first use, then cached and saved to the partial store)."""
        if key not in self._results:
            if key not in self.suite.entries:
                raise ConfigError(unknown_message("metric", key, self.suite.entries))
            entry: MetricEntry = self.suite.entries[key]
            metric = self.metrics.get(entry.metric)
            metric.check(entry)
            if metric.needs_retain_logs(entry) and self.retain_logs is None:
                raise RetainLogsError(
                    f"metric '{key}' needs retain logs: pass retain_logs_path=<retain model's "
                    f"{self.suite.benchmark.upper()}_EVAL.json> or drop it with eval.metrics=[...]"
                )
            start = time.perf_counter()
            value = metric.compute(self, entry)
            self._results[key] = {**value, "definition": entry.definition()}
            self.timings[f"metric:{key}"] = time.perf_counter() - start
            if self.partial is not None:
                self.partial.save(self._results)
        return self._results[key]

    def retain_log(self, key: str) -> dict[str, Any]:
        """Entry ``key`` of the retain model's logs; a missing key is an error naming it."""
        if self.retain_logs is None:
            raise RetainLogsError(f"'{key}' needs retain logs (retain_logs_path)")
        if key not in self.retain_logs:
            raise RetainLogsError(f"retain logs have no '{key}' entry; they hold: {', '.join(self.retain_logs)}")
        return self.retain_logs[key]

    def run(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Compute ``keys`` (and what they depend on); returns every computed entry in the reference layout."""
        todo = needs.plan(self.suite, self.metrics, list(keys), done=set(self._results))
        for (dataset, mia_reference), fields in todo.fields.items():
            for f in fields:
                self.plan.add(Score(dataset, f, (dataset, f, mia_reference) in todo.z, mia_reference))
        if todo.generations:
            self._generate(todo.generations)  # all prompt sets in one pooled decoding
        # what an entry builds on first: it is written as an entry of its own
        pending = [k for k in dict.fromkeys([*todo.order, *keys]) if k not in self._results]
        with Progress(len(pending), f"evaluate {self.suite.benchmark}", unit="entry", enabled=self.progress) as bar:
            for key in pending:
                self.result(key)
                bar.update()
        return dict(self._results)
