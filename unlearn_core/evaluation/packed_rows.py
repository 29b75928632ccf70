"""Which groups share a packed row, and the row's prefix tree.

A packed row holds a *prefix* (a prompt beginning, run causally) and then *nodes*, each attending to itself and its
ancestors only. A row usually holds one group: its prompt is the prefix and the nodes are the answers' prefix tree
(answers that begin alike share their beginning). Groups whose prompts begin alike (MUSE's few-shot questions all
start with the same solved examples) share one row instead: the prefix is their common beginning, run once, and each
prompt's remainder becomes a chain of nodes from which its answers' tree grows. Every token still sees exactly the
tokens before it in its own prompt + answer, at the same position, so its statistics are those of a plain forward.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MIN_SHARED = 8
"""Prompts share a row only when they begin with at least this many common tokens."""
MAX_ROW_WIDTH = 2048
"""No merged row grows wider than this (its attention mask is width x width)."""


@dataclass
class PackedRow:
    """One row: its prefix, its nodes (token, parent, depth; parent -1 is the prefix's last token), every distinct
    (predicting node, target token) edge, and per answer of each of its groups (in order) its edges."""

    prefix: tuple[int, ...]
    groups: list[int] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    depths: list[int] = field(default_factory=list)
    edges: list[tuple[int, int]] = field(default_factory=list)
    paths: list[list[int]] = field(default_factory=list)

    @property
    def width(self) -> int:
        """Columns the row takes in a forward."""
        return len(self.prefix) + len(self.tokens)


def build_row(prefix: tuple[int, ...], members: Sequence[tuple[int, Any]]) -> PackedRow:
    """The row of ``members`` ((group index, group) pairs whose prompts all begin with ``prefix``).

    A prompt's remainder after the prefix becomes nodes (a chain, shared where remainders begin alike); each answer
    token is a target, an edge from the node before it, and becomes a node only when a later token of some answer is
    predicted from it (an answer's last token usually is not).
    """
    row = PackedRow(prefix)
    nodes: dict[tuple[int, int], int] = {}
    edges: dict[tuple[int, int], int] = {}

    def node(parent: int, token: int) -> int:
        key = (parent, token)
        if key not in nodes:
            nodes[key] = len(row.tokens)
            row.tokens.append(token)
            row.parents.append(parent)
            row.depths.append(row.depths[parent] + 1 if parent >= 0 else 0)
        return nodes[key]

    for index, group in members:
        row.groups.append(index)
        end = -1
        for token in group.prompt[len(prefix) :]:
            end = node(end, token)
        for answer in group.answers:
            path, parent = [], end
            for j, token in enumerate(answer):
                key = (parent, token)
                if key not in edges:
                    edges[key] = len(row.edges)
                    row.edges.append(key)
                path.append(edges[key])
                if j < len(answer) - 1:
                    parent = node(parent, token)
            row.paths.append(path)
    return row


class _NodeCount:
    """The columns a row of some groups takes, kept up to date as groups join it, without building the row.

    A row's prefix (the prompts' common beginning) and its nodes are the distinct beginnings of the groups'
    sequences: each prompt, and each answer after its prompt but for the answer's last token. In a tree of those
    beginnings, the prefix is the chain every group shares, so the row's width is the tree's size, whatever the
    prefix is.
    """

    def __init__(self) -> None:
        self.root: dict[int, dict] = {}
        self.size = 0

    def add(self, group: Any) -> None:
        """Add ``group``'s beginnings."""
        end = self._walk(self.root, group.prompt)
        for answer in group.answers:
            self._walk(end, answer[:-1])

    def _walk(self, node: dict[int, dict], tokens: Sequence[int]) -> dict[int, dict]:
        for token in tokens:
            if token not in node:
                node[token] = {}
                self.size += 1
            node = node[token]
        return node


def pack_rows(groups: Sequence[Any], hidden_size: int) -> list[PackedRow]:
    """Every group in a row, groups with a long common prompt beginning in shared rows.

    Groups are taken in prompt order (so prompts that begin alike are neighbours) and a group joins the current row
    when the merged row costs less than the two apart (see :func:`_cost`), they share at least ``MIN_SHARED`` tokens
    and the row stays within ``MAX_ROW_WIDTH`` columns. Widths come from :class:`_NodeCount`; each row is built once,
    when it is complete.
    """
    order = sorted(range(len(groups)), key=lambda k: groups[k].prompt)
    rows: list[PackedRow] = []
    members: list[tuple[int, Any]] = []
    prefix: tuple[int, ...] = ()
    current = _NodeCount()
    for k in order:
        group = groups[k]
        alone = _NodeCount()
        alone.add(group)
        if members:
            shared = prefix[: _common_length(prefix, group.prompt)]
            if len(shared) >= MIN_SHARED:
                apart = _cost(current.size, hidden_size) + _cost(alone.size, hidden_size)
                current.add(group)  # kept only if the group joins: otherwise the row is complete
                if current.size <= MAX_ROW_WIDTH and _cost(current.size, hidden_size) < apart:
                    prefix = shared
                    members.append((k, group))
                    continue
            rows.append(build_row(prefix, members))
        current, prefix, members = alone, group.prompt, [(k, group)]
    if members:
        rows.append(build_row(prefix, members))
    return rows


def _common_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _cost(width: int, hidden_size: int) -> int:
    """Relative work of a row of ``width`` columns: per column the layers' matrix products (about 12 d^2 for hidden
    size d) and attention over the row (about 2 d W), so W (6 d + W) up to a constant factor."""
    return width * (6 * hidden_size + width)
