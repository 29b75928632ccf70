"""Scoring a prompt and all its answers in ONE row: the answers' prefix tree, packed, with a tree attention mask.

Per group the prompt and the answers form a prefix tree (answers that begin alike share their beginning). The row
holds the prompt (left padded) and then every tree node that has a child, once; each node attends to itself and its
ancestors only (an additive 4D mask), at position id = its depth. A target token's logit row is its parent node's,
exactly as in a plain forward over prompt + answer. One forward per chunk of groups, no KV cache. The model must
accept an explicit 4D additive mask (HF ``sdpa`` and ``eager`` attention do); ``check`` compares the first chunk
with plain full sequences, and the caller falls back to the cached prefix tree when it does not match.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from unlearn_core.chunked.statistics import projected_token_statistics
from unlearn_core.evaluation import model_calls
from unlearn_core.evaluation.plain import score_plain
from unlearn_core.metrics.statistics import SampleStatistics, samples_from_token_statistics


@dataclass
class _Tree:
    """One group as a packed tree: input nodes (token, parent, depth) after the prompt, and each answer's edges."""

    prompt: tuple[int, ...]
    tokens: list[int] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)  # -1: the prompt's last token
    depths: list[int] = field(default_factory=list)
    edges: list[tuple[int, int]] = field(default_factory=list)  # (predicting node or -1, target token)
    paths: list[list[int]] = field(default_factory=list)  # per answer: its edge indices in target order


def build_tree(prompt: tuple[int, ...], answers: tuple[tuple[int, ...], ...]) -> _Tree:
    """The packed tree of one group. Each answer token is a target (an edge from the node before it); it is an input
    node only when a later token of some answer is predicted from it (an answer's last token usually is not)."""
    tree = _Tree(prompt)
    nodes: dict[tuple[int, int], int] = {}
    edges: dict[tuple[int, int], int] = {}
    for answer in answers:
        path, parent = [], -1
        for j, token in enumerate(answer):
            key = (parent, token)
            if key not in edges:
                edges[key] = len(tree.edges)
                tree.edges.append(key)
            path.append(edges[key])
            if j == len(answer) - 1:
                break
            if key not in nodes:
                nodes[key] = len(tree.tokens)
                tree.tokens.append(token)
                tree.parents.append(parent)
                tree.depths.append(tree.depths[parent] + 1 if parent >= 0 else 0)
            parent = nodes[key]
        tree.paths.append(path)
    return tree


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
        trees = [build_tree(g.prompt, g.answers) for g in groups]
        order = sorted(range(len(groups)), key=lambda k: (len(trees[k].prompt), len(trees[k].tokens)))
        out: list[list[SampleStatistics]] = [[] for _ in groups]
        with torch.no_grad():
            for chunk in self._chunks(groups, trees, order):
                stats = self._run([groups[k] for k in chunk], [trees[k] for k in chunk])
                if self.check:
                    self._check([groups[k] for k in chunk[:2]], stats[:2])
                    self.check = False
                for k, group_stats in zip(chunk, stats):
                    out[k] = group_stats
        return out

    def _chunks(self, groups: list[Any], trees: list[_Tree], order: list[int]) -> list[list[int]]:
        """Groups per forward: as many rows as fit in the tokens of a plain batch of ``batch_size`` sequences."""
        chunks: list[list[int]] = []
        start = 0
        while start < len(order):
            first = [groups[k] for k in order[start : start + self.batch_size]]
            longest = max((len(a) for g in first for a in g.answers), default=0)
            budget = self.batch_size * (max(len(g.prompt) for g in first) + longest)
            prompt, nodes = len(trees[order[start]].prompt), len(trees[order[start]].tokens)
            end = start + 1
            while end < len(order):
                tree = trees[order[end]]
                wider = max(prompt, len(tree.prompt)), max(nodes, len(tree.tokens))
                if (end + 1 - start) * sum(wider) > budget:
                    break
                (prompt, nodes), end = wider, end + 1
            chunks.append(order[start:end])
            start = end
        return chunks

    def _inputs(self, trees: list[_Tree]) -> tuple[Tensor, Tensor, Tensor, int]:
        """Input ids, position ids and the additive tree mask of a chunk; the prompts end at column ``prompt_width``."""
        prompt_width = max(len(t.prompt) for t in trees)
        width = prompt_width + max(len(t.tokens) for t in trees)
        ids = np.full((len(trees), width), self.pad_id, dtype=np.int64)
        positions = np.zeros((len(trees), width), dtype=np.int64)
        allowed = np.zeros((len(trees), width, width), dtype=bool)
        allowed[:, np.arange(width), np.arange(width)] = True  # padding attends to itself only
        for r, t in enumerate(trees):
            p, start = len(t.prompt), prompt_width - len(t.prompt)
            ids[r, start:prompt_width] = t.prompt
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

    def _run(self, groups: list[Any], trees: list[_Tree]) -> list[list[SampleStatistics]]:
        """One forward for the chunk, then the statistics of every distinct (node, next token) edge once."""
        ids, positions, mask, prompt_width = self._inputs(trees)
        keep = ids.shape[1] - prompt_width + 1  # the prompts' last column and every node after it
        hidden = self.head is not None
        ids, mask, positions = ids.to(self.device), mask.to(self.device), positions.to(self.device)
        logits = model_calls.run_masked(self.model, ids, mask, positions, keep, hidden)
        self.counters.add("packed", len(trees), sum(len(t.prompt) + len(t.tokens) for t in trees))
        rows, targets, z_rows, offsets = [], [], [], []
        for r, (group, t) in enumerate(zip(groups, trees)):
            offsets.append(len(targets))
            wants = [False] * len(t.edges)
            for a, path in enumerate(t.paths):
                if group.wants_z(a):
                    for e in path:
                        wants[e] = True
            rows += [(r, parent + 1) for parent, _ in t.edges]  # kept column 0 is the prompt's last token
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
        with_z = [g.wants_z(a) for g in groups for a in range(len(g.answers))]
        picked = torch.tensor(index, dtype=torch.long)
        samples = samples_from_token_statistics(tuple(v[picked] for v in flat_all), counts, with_z)  # type: ignore[arg-type]
        out, n = [], 0
        for g in groups:
            out.append(samples[n : n + len(g.answers)])
            n += len(g.answers)
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
