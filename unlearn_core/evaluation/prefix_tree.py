"""Scoring answers along a prefix tree: every shared prefix (a prompt, then a common answer beginning) runs once.

The answers scored after one prompt often start alike (TOFU's paraphrased and perturbed answers all begin with
"This author's full name is ..."). A level holds a KV cache for some rows and, per row, the logit row predicting the
next token (or its final hidden state when the head is applied to target rows only: ``model_calls.head_projection``).
Answers continuing a row are split into *stems* (the longest common beginning of two or more answers with the same
next token, run once and cached as a new level) and *leaves* (run after the cache, each on its own row). A target's
logit row is the one after its preceding token, exactly as in a plain forward over the whole sequence; position ids
and attention masks come from real lengths, padding columns are masked.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from unlearn_core.chunked.statistics import projected_token_statistics
from unlearn_core.evaluation import model_calls
from unlearn_core.metrics.statistics import SampleStatistics, TokenStatistics, samples_from_token_statistics

CACHE_BUDGETS = 4
"""A call may cache (prefix + new tokens) up to this many plain batches' tokens: cached columns cost no logits."""


@dataclass
class _Level:
    """Rows sharing a KV cache: attention mask over its columns, real lengths, and next-token logit rows."""

    cache: Any
    mask: Tensor
    length: Tensor
    next_rows: Tensor


@dataclass
class _Item:
    """The part of one answer still to score, continuing row ``row`` of a level."""

    answer: int
    row: int
    tokens: tuple[int, ...]
    offset: int


class PrefixTreeScorer:
    """Scores groups of (prompt, answers) for one model, recording the work in ``counters``."""

    def __init__(self, model: torch.nn.Module, pad_id: int, batch_size: int, counters: Any) -> None:
        self.model = model
        self.pad_id = pad_id
        self.batch_size = batch_size
        self.counters = counters
        self.device = next(model.parameters()).device
        self.head = model_calls.head_projection(model)
        """The head applied to target rows only, chunk by chunk (None: levels and calls keep logits)."""
        self._segments: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
        self._parts: list[TokenStatistics] = []
        self._rows_seen = 0
        self._with_z: list[bool] = []

    def score(self, groups: list[Any]) -> list[list[SampleStatistics]]:
        """Statistics of every answer of every group (the same nesting)."""
        answers = [(g, a) for g, group in enumerate(groups) for a in range(len(group.answers))]
        ids = {pair: n for n, pair in enumerate(answers)}
        self._with_z = [groups[g].wants_z(a) for g, a in answers]
        order = sorted(range(len(groups)), key=lambda k: len(groups[k].prompt))
        with torch.no_grad():
            for batch in self._group_batches(groups, order):
                chunk = [groups[k] for k in batch]
                level = self._prefill([g.prompt for g in chunk])
                items = [
                    _Item(ids[(k, a)], r, answer, 0)
                    for r, k in enumerate(batch)
                    for a, answer in enumerate(groups[k].answers)
                    if answer
                ]
                self._descend(level, items, self._budget(chunk[: self.batch_size]))
        return self._assemble(groups, answers)

    def _budget(self, groups: list[Any]) -> int:
        """New tokens per model call: as many as a plain batch of ``batch_size`` full sequences of these groups."""
        longest = max((len(a) for g in groups for a in g.answers), default=0)
        return self.batch_size * (max(len(g.prompt) for g in groups) + longest)

    def _group_batches(self, groups: list[Any], order: list[int]) -> list[list[int]]:
        """Groups prefilled together (``order`` sorts them by prompt length): at least ``batch_size``, more while
        their prompts fit in the token budget of a plain batch."""
        batches: list[list[int]] = []
        start = 0
        while start < len(order):
            budget = self._budget([groups[k] for k in order[start : start + self.batch_size]])
            end = min(start + self.batch_size, len(order))
            while end < len(order) and (end + 1 - start) * len(groups[order[end]].prompt) <= budget:
                end += 1
            batches.append(order[start:end])
            start = end
        return batches

    # ---- levels -----------------------------------------------------------------------------------------------------
    def _prefill(self, prompts: list[tuple[int, ...]]) -> _Level:
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            ids[row, width - len(prompt) :] = torch.tensor(prompt)
            mask[row, width - len(prompt) :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = model_calls.positions_from_mask(mask)
        logits, cache = model_calls.run(
            self.model, ids, mask, positions, keep_cache=True, last_logits_only=True, hidden=self.head is not None
        )
        self.counters.add("prefill", len(prompts), int(mask.sum()))
        return _Level(cache, mask, mask.sum(dim=1), logits[:, -1])

    def _descend(self, level: _Level, items: list[_Item], budget: int) -> None:
        leaves, stems = _split(items)
        cached = level.mask.shape[1]
        leaves.sort(key=lambda it: len(it.tokens))
        for chunk in _chunks(leaves, [len(it.tokens) for it in leaves], budget, cached):
            self._leaves(level, chunk)
        stems.sort(key=lambda s: len(s[1]))
        for chunk in _chunks(stems, [len(s[1]) for s in stems], budget, cached):
            child, rebased = self._stems(level, chunk)
            self._descend(child, rebased, budget)

    def _run_after(self, level: _Level, rows: list[int], inputs: list[tuple[int, ...]], keep: bool) -> Any:
        """Run right-padded ``inputs`` after the level's cache rows ``rows``: (logits, cache, mask of the result)."""
        width = max(len(s) for s in inputs)
        ids = torch.tensor([list(s) + [self.pad_id] * (width - len(s)) for s in inputs], device=self.device)
        lengths = torch.tensor([len(s) for s in inputs], device=self.device)
        mask = (torch.arange(width, device=self.device).unsqueeze(0) < lengths.unsqueeze(1)).long()
        src = torch.tensor(rows, dtype=torch.long, device=self.device)
        cache = model_calls.select_rows(level.cache, src, copy_first=True)
        positions = level.length[src].unsqueeze(1) + torch.arange(width, device=self.device).unsqueeze(0)
        full_mask = torch.cat([level.mask[src], mask], dim=1)
        logits, cache = model_calls.run(
            self.model, ids, full_mask, positions, cache, keep_cache=keep, hidden=self.head is not None
        )
        self.counters.add("stems" if keep else "answers", len(inputs), int(mask.sum()))
        return logits, cache, full_mask

    def _record(
        self,
        level: _Level,
        rows: list[int],
        targets: list[tuple[int, ...]],
        logits: Tensor | None,
        z: list[bool],
        owners: list[list[_Item]],
    ) -> None:
        """Statistics of ``targets[k]`` (first from the level, later from ``logits[k]``), recorded for ``owners[k]``.

        One set of row statistics per call (first rows, then the later rows sample after sample); each answer keeps
        (offset in the answer, start in that set, length) references, gathered once in :meth:`_assemble`.
        """
        src = torch.tensor(rows, dtype=torch.long, device=self.device)
        want_z = torch.tensor(z, dtype=torch.bool, device=self.device)
        firsts = torch.tensor([t[0] for t in targets], dtype=torch.long, device=self.device)
        first_rows = level.next_rows[src]
        predicting, target_ids, z_rows = [first_rows], [firsts], [want_z]
        counts = [len(t) - 1 for t in targets]
        if logits is not None:
            widths = torch.arange(logits.shape[1], device=self.device).unsqueeze(0)
            later_mask = widths < torch.tensor(counts, device=self.device).unsqueeze(1)
            predicting.append(logits[later_mask])
            target_ids.append(
                torch.tensor([tok for t in targets for tok in t[1:]], dtype=torch.long, device=self.device)
            )
            z_rows.append(want_z.unsqueeze(1).expand_as(later_mask)[later_mask])
        rows_all = torch.cat(predicting) if len(predicting) > 1 else first_rows
        project, vocab = self.head if self.head is not None else (None, 0)
        stats = projected_token_statistics(rows_all, project, torch.cat(target_ids), torch.cat(z_rows), vocab)
        base = self._rows_seen
        self._parts.append(tuple(v.cpu() for v in stats))  # type: ignore[arg-type]
        self._rows_seen += int(stats[0].numel())
        later_start = base + len(targets)
        for k, items in enumerate(owners):
            for it in items:
                self._segments[it.answer].append((it.offset, base + k, 1))
                if logits is not None and counts[k]:
                    self._segments[it.answer].append((it.offset + 1, later_start, counts[k]))
            later_start += counts[k] if logits is not None else 0

    def _leaves(self, level: _Level, chunk: list[_Item]) -> None:
        """Answers that share nothing more with a neighbour: one row each after the level's cache.

        The last target needs no position of its own (nothing after it is predicted), so a one-token remainder is
        scored from the level's next-token row alone.
        """
        z = [self._with_z[it.answer] for it in chunk]
        single = [k for k, it in enumerate(chunk) if len(it.tokens) == 1]
        longer = [k for k, it in enumerate(chunk) if len(it.tokens) > 1]
        if single:
            pick = [chunk[k] for k in single]
            self._record(
                level,
                [it.row for it in pick],
                [it.tokens for it in pick],
                None,
                [z[k] for k in single],
                [[it] for it in pick],
            )
        if longer:
            pick = [chunk[k] for k in longer]
            logits, _, _ = self._run_after(level, [it.row for it in pick], [it.tokens[:-1] for it in pick], keep=False)
            self._record(
                level,
                [it.row for it in pick],
                [it.tokens for it in pick],
                logits,
                [z[k] for k in longer],
                [[it] for it in pick],
            )

    def _stems(
        self, level: _Level, chunk: list[tuple[int, tuple[int, ...], list[_Item]]]
    ) -> tuple[_Level, list[_Item]]:
        """Run shared answer beginnings once, record their statistics for every answer sharing them, and cache them."""
        rows, stems = [row for row, _, _ in chunk], [stem for _, stem, _ in chunk]
        z = [any(self._with_z[it.answer] for it in members) for _, _, members in chunk]
        logits, cache, mask = self._run_after(level, rows, stems, keep=True)
        self._record(level, rows, stems, logits, z, [members for _, _, members in chunk])
        src = torch.tensor(rows, dtype=torch.long, device=self.device)
        last = torch.tensor([len(s) - 1 for s in stems], dtype=torch.long, device=self.device)
        lengths = torch.tensor([len(s) for s in stems], dtype=torch.long, device=self.device)
        child = _Level(
            cache, mask, level.length[src] + lengths, logits[torch.arange(len(stems), device=self.device), last]
        )
        rebased = [
            _Item(it.answer, c, it.tokens[len(stem) :], it.offset + len(stem))
            for c, (_, stem, members) in enumerate(chunk)
            for it in members
        ]
        return child, rebased

    def _assemble(self, groups: list[Any], answers: list[tuple[int, int]]) -> list[list[SampleStatistics]]:
        """Gather each answer's rows in target order and split them into per-sample statistics."""
        flat_parts = tuple(torch.cat([part[v] for part in self._parts]) for v in range(4)) if self._parts else None
        index: list[int] = []
        counts = []
        for n in range(len(answers)):
            before = len(index)
            for _, start, length in sorted(self._segments.get(n, [])):
                index.extend(range(start, start + length))
            counts.append(len(index) - before)
        if flat_parts is None:
            flat_parts = (
                torch.zeros(0),
                torch.zeros(0, dtype=torch.bool),
                torch.zeros(0),
                torch.zeros(0, dtype=torch.long),
            )
        picked = torch.tensor(index, dtype=torch.long)
        flat = tuple(v[picked] for v in flat_parts)
        stats = samples_from_token_statistics(flat, counts, self._with_z)  # type: ignore[arg-type]
        out: list[list[SampleStatistics]] = [[] for _ in groups]
        for (g, _), st in zip(answers, stats):
            out[g].append(st)
        return out


def _split(items: list[_Item]) -> tuple[list[_Item], list[tuple[int, tuple[int, ...], list[_Item]]]]:
    """Leaves, and stems (row, common beginning, answers sharing it) of items with the same row and next token."""
    clusters: dict[tuple[int, int], list[_Item]] = defaultdict(list)
    for it in items:
        clusters[(it.row, it.tokens[0])].append(it)
    leaves: list[_Item] = []
    stems = []
    for (row, _), members in clusters.items():
        shortest = min(len(m.tokens) for m in members)
        size = 0
        while size < shortest - 1 and len({m.tokens[size] for m in members}) == 1:
            size += 1
        if len(members) < 2 or size == 0:
            leaves += members
        else:
            stems.append((row, members[0].tokens[:size], members))
    return leaves, stems


def _chunks(things: list[Any], lengths: list[int], budget: int, cached: int = 0) -> list[list[Any]]:
    """Consecutive chunks of length-sorted things: rows x longest length within ``budget`` new tokens (the logits),
    and rows x (cached columns + longest length) within ``CACHE_BUDGETS`` x ``budget`` (the KV cache a call holds)."""
    chunks: list[list[Any]] = []
    current: list[Any] = []
    for thing, length in zip(things, lengths):
        rows, longest = len(current) + 1, max(length, 1)
        if current and (rows * longest > budget or rows * (cached + longest) > CACHE_BUDGETS * budget):
            chunks.append(current)
            current = []
        current.append(thing)
    return chunks + [current] if current else chunks
