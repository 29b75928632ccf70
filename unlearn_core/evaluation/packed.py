"""Scoring a prompt and all its answers in ONE row: the answers' prefix tree, packed, with a tree attention mask.

Per group the prompt and the answers form a prefix tree (answers that begin alike share their beginning); groups whose
prompts begin alike share a row, their common beginning run once (``packed_rows``). The row holds the prefix (left
padded) and then every tree node, once; each node attends to itself and its ancestors only (an additive 4D mask), at
position id = prefix length + its depth. A target token's logit row is its parent node's, exactly as in a plain
forward over prompt + answer. One forward per chunk of rows, no KV cache. The model must accept an explicit 4D
additive mask (HF ``sdpa`` and ``eager`` attention do); ``check`` compares the first chunk with plain full sequences,
and the caller falls back to the cached prefix tree when it does not match.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from unlearn_core.chunked.statistics import projected_token_statistics
from unlearn_core.evaluation import model_calls
from unlearn_core.evaluation.packed_rows import PackedRow, pack_rows
from unlearn_core.evaluation.plain import score_plain
from unlearn_core.metrics.statistics import SampleStatistics, samples_from_token_statistics


class PackingUnsupported(RuntimeError):
    """The model does not honour an explicit tree attention mask (its packed scores differ from plain ones)."""


def supports_packing(model: torch.nn.Module) -> bool:
    """Whether ``model`` may take a 4D additive mask: HF ``sdpa`` or ``eager`` attention with position ids, and no
    sliding window (a given 4D mask would replace it)."""
    config = getattr(model, "config", None)
    implementation = getattr(config, "_attn_implementation", None)
    sliding = getattr(config, "sliding_window", None) or getattr(config, "attention_chunk_size", None)
    return implementation in ("sdpa", "eager") and not sliding and model_calls.accepts(model, "position_ids")


class PackedScorer:
    """Scores groups of (prompt, answers) for one model, one packed row per group (see the module docstring)."""

    def __init__(self, model: torch.nn.Module, pad_id: int, batch_size: int, counters: Any, check: bool = True) -> None:
        self.model = model
        self.pad_id = pad_id
        self.batch_size = batch_size
        self.counters = counters
        self.check = check
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        self.head = model_calls.head_projection(model)
        """The head applied to target rows only, chunk by chunk (None: the model's logits are used)."""

    def score(self, groups: list[Any]) -> list[list[SampleStatistics]]:
        """Statistics of every answer of every group (the same nesting); PackingUnsupported if the check fails."""
        hidden_size = int(getattr(getattr(self.model, "config", None), "hidden_size", 0) or 1024)
        rows = pack_rows(groups, hidden_size)
        rows.sort(key=lambda row: (len(row.prefix), len(row.tokens)))
        out: list[list[SampleStatistics]] = [[] for _ in groups]
        with torch.no_grad():
            for chunk in self._chunks(groups, rows):
                stats = self._run(groups, chunk)
                if self.check:
                    first = chunk[0].groups[:2]
                    self._check([groups[k] for k in first], [stats[k] for k in first])
                    self.check = False
                for k, group_stats in stats.items():
                    out[k] = group_stats
        return out

    def _chunks(self, groups: list[Any], rows: list[PackedRow]) -> list[list[PackedRow]]:
        """Rows per forward: as many as fit in the tokens of a plain batch of ``batch_size`` sequences."""
        chunks: list[list[PackedRow]] = []
        start = 0
        while start < len(rows):
            first = [groups[k] for row in rows[start : start + self.batch_size] for k in row.groups]
            longest = max((len(a) for g in first for a in g.answers), default=0)
            budget = self.batch_size * (max(len(g.prompt) for g in first) + longest)
            prefix, nodes = len(rows[start].prefix), len(rows[start].tokens)
            end = start + 1
            while end < len(rows):
                wider = max(prefix, len(rows[end].prefix)), max(nodes, len(rows[end].tokens))
                if (end + 1 - start) * sum(wider) > budget:
                    break
                (prefix, nodes), end = wider, end + 1
            chunks.append(rows[start:end])
            start = end
        return chunks

    def _inputs(self, trees: list[PackedRow]) -> tuple[Tensor, Tensor, Tensor, int]:
        """Input ids, position ids and the additive tree mask of a chunk; prefixes end at column ``prompt_width``."""
        prompt_width = max(len(t.prefix) for t in trees)
        width = prompt_width + max(len(t.tokens) for t in trees)
        ids = np.full((len(trees), width), self.pad_id, dtype=np.int64)
        positions = np.zeros((len(trees), width), dtype=np.int64)
        allowed = np.zeros((len(trees), width, width), dtype=bool)
        allowed[:, np.arange(width), np.arange(width)] = True  # padding attends to itself only
        for r, t in enumerate(trees):
            p, start = len(t.prefix), prompt_width - len(t.prefix)
            ids[r, start:prompt_width] = t.prefix
            positions[r, start:prompt_width] = np.arange(p)
            allowed[r, start:prompt_width, start:prompt_width] = np.tri(p, dtype=bool)
            n = len(t.tokens)
            ids[r, prompt_width : prompt_width + n] = t.tokens
            positions[r, prompt_width : prompt_width + n] = p + np.asarray(t.depths, dtype=np.int64)
            block = allowed[r]
            for i, parent in enumerate(t.parents):  # parents come first: copy the parent's ancestors, add itself
                column = prompt_width + i
                block[column] = block[prompt_width + parent if parent >= 0 else prompt_width - 1]
                block[column, column] = True
        mask = torch.zeros(allowed.shape, dtype=self.dtype).masked_fill_(
            ~torch.from_numpy(allowed), torch.finfo(self.dtype).min
        )
        return torch.from_numpy(ids), torch.from_numpy(positions), mask.unsqueeze(1), prompt_width

    def _run(self, groups: list[Any], trees: list[PackedRow]) -> dict[int, list[SampleStatistics]]:
        """One forward for the chunk, then the statistics of every distinct (node, next token) edge once; by group."""
        ids, positions, mask, prompt_width = self._inputs(trees)
        keep = ids.shape[1] - prompt_width + 1  # the prefixes' last column and every node after it
        hidden = self.head is not None
        ids, mask, positions = ids.to(self.device), mask.to(self.device), positions.to(self.device)
        logits = model_calls.run_masked(self.model, ids, mask, positions, keep, hidden)
        self.counters.add("packed", len(trees), sum(t.width for t in trees))
        rows, targets, z_rows, offsets = [], [], [], []
        with_z = [groups[k].wants_z(a) for t in trees for k in t.groups for a in range(len(groups[k].answers))]
        answer = 0
        for r, t in enumerate(trees):
            offsets.append(len(targets))
            wants = [False] * len(t.edges)
            for path in t.paths:
                if with_z[answer]:
                    for e in path:
                        wants[e] = True
                answer += 1
            rows += [(r, parent + 1) for parent, _ in t.edges]  # kept column 0 is the prefix's last token
            targets += [token for _, token in t.edges]
            z_rows += wants
        if rows:
            where = torch.tensor(rows, dtype=torch.long, device=self.device)
            project, vocab = self.head if self.head is not None else (None, 0)
            stats = projected_token_statistics(
                logits[where[:, 0], where[:, 1]],
                project,
                torch.tensor(targets, dtype=torch.long, device=self.device),
                torch.tensor(z_rows, dtype=torch.bool, device=self.device),
                vocab,
            )
            flat_all = tuple(v.cpu() for v in stats)
        else:
            flat_all = (
                torch.zeros(0),
                torch.zeros(0, dtype=torch.bool),
                torch.zeros(0),
                torch.zeros(0, dtype=torch.long),
            )
        index = [offsets[r] + e for r, t in enumerate(trees) for path in t.paths for e in path]
        counts = [len(path) for t in trees for path in t.paths]
        picked = torch.tensor(index, dtype=torch.long)
        samples = samples_from_token_statistics(tuple(v[picked] for v in flat_all), counts, with_z)  # type: ignore[arg-type]
        out, n = {}, 0
        for t in trees:
            for k in t.groups:
                out[k] = samples[n : n + len(groups[k].answers)]
                n += len(groups[k].answers)
        return out

    def _check(self, groups: list[Any], packed: list[list[SampleStatistics]]) -> None:
        """Compare a few groups with plain full-sequence scoring; PackingUnsupported when they differ."""
        plain = score_plain(
            self.model, groups, batch_size=self.batch_size, pad_id=self.pad_id, counters=self.counters, kind="check"
        )
        tolerance = max(1e-4, 8 * torch.finfo(self.dtype).eps)  # two orders of summation in the model's dtype
        for ours, theirs in zip(packed, plain):
            for a, b in zip(ours, theirs):
                if a.num_targets != b.num_targets or (
                    a.num_targets and not math.isclose(a.avg_loss, b.avg_loss, rel_tol=tolerance, abs_tol=1e-6)
                ):
                    raise PackingUnsupported(f"packed avg_loss {a.avg_loss} != plain {b.avg_loss}")
