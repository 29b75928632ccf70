"""One forward for several parts of an unlearning batch, and logits only where a loss reads them: what the runner
offers to the methods that ask for it.

A method that reads the logits of several parts (the forget and the retain batch) calls ``part_logits(model, batch,
parts)`` instead of ``losses.model_logits`` once per part. How the parts go through the model is the run's setting
(the runner puts ``ForwardSettings`` in ``batch[FORWARD_KEY]``):

``trainer.args.forward_mode``:

- ``separate`` (the default, and without settings): one forward per part, exactly ``losses.model_output`` (whose
  chunked log-probabilities never hold the whole logits);
- ``joint``: the rows of every part in one right-padded batch, so a step runs one forward and one backward;
- ``grouped``: the rows of every part sorted by length and cut into forwards of ``GROUP_ROWS`` rows each, so
  rows of similar length share a forward and little is padding (for CPUs, where the work is proportional to the
  positions and a small forward costs little more than its share);
- ``packed``: the rows of every part laid end to end, ``PACK_ROWS`` to a row of the forward (balanced by length),
  with position ids that restart at each row; the model's packed-sequence mask keeps attention within each row
  (transformers detects the restarts when no attention mask is given). Little is padding, and attention spans a few
  rows rather than all of them.

``trainer.args.target_logits_only`` (default false): the output layer runs only on the positions that predict a
target token (``labels[:, t + 1] != -100``); the logits of every other position are zeros. The hidden states are
selected by a pre-hook on the model's output embeddings, so wrappers (DDP, DeepSpeed, PEFT) still run their forward.

The modes other than ``separate`` read the rows as right-padded (as the runner's batches are; others are refused)
and rely on the model's causal attention: a position never attends to the padding after it.

Each part's logits come back with the part's own shape ``[rows, width, vocab]``, so losses are computed from them as
before. At the target positions the values are those of the plain forward up to float rounding; a method that reads
logits elsewhere (at prompt or padding positions) must not use ``target_logits_only``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from unlearn_core.chunked.deferred import DeferredLogits, model_output
from unlearn_core.losses import IGNORE_INDEX, mean_token_nll, sequence_nll
from unlearn_core.losses import retain_loss as losses_retain_loss
from unlearn_core.normalization import share

FORWARD_MODES: tuple[str, ...] = ("separate", "joint", "grouped", "packed")
"""The values of ``trainer.args.forward_mode``."""
GROUP_ROWS = 8
"""Rows of each forward in ``grouped`` mode."""
PACK_ROWS = 2
"""Rows laid end to end in each row of a ``packed`` forward."""
FORWARD_KEY = "forward"
"""Where the runner puts the run's ``ForwardSettings`` in an ``UnlearnBatch``."""


@dataclass(frozen=True)
class ForwardSettings:
    """How ``part_logits`` runs the model: ``mode`` (one of ``FORWARD_MODES``) and ``targets_only``."""

    mode: str = "separate"
    targets_only: bool = False

    def __post_init__(self) -> None:
        if self.mode not in FORWARD_MODES:
            raise ValueError(f"unknown forward_mode '{self.mode}'; valid choices: {', '.join(FORWARD_MODES)}")

    @classmethod
    def of(cls, train_args: Mapping[str, Any]) -> ForwardSettings:
        """The settings of ``trainer.args``."""
        return cls(train_args.get("forward_mode") or "separate", bool(train_args.get("target_logits_only")))


def part_logits(model: torch.nn.Module, batch: Mapping[str, Any], parts: Sequence[str]) -> dict[str, torch.Tensor]:
    """Logits of ``model`` on each of ``parts`` (keys of ``batch`` holding padded causal-LM batches), by part name,
    computed as ``batch[FORWARD_KEY]`` says (one plain forward per part without it)."""
    outputs = {name: out.logits() for name, out in part_outputs(model, batch, parts).items()}
    return {name: out.logits() if isinstance(out, DeferredLogits) else out for name, out in outputs.items()}


def part_outputs(model: torch.nn.Module, batch: Mapping[str, Any], parts: Sequence[str]) -> dict[str, PartOutput]:
    """The model's output on each of ``parts``, by part name, computed as ``batch[FORWARD_KEY]`` says: what the
    shared losses read (``PartOutput``), from the logits at target positions only with ``targets_only``."""
    settings = batch.get(FORWARD_KEY) or ForwardSettings()
    batches = [batch[name] for name in parts]
    if settings.mode == "separate" or len(parts) < 2:
        if not settings.targets_only:
            return {name: PartOutput(b["labels"], model_output(model, b)) for name, b in zip(parts, batches)}
        logits = [_run(model, [b], "separate", True)[0] for b in batches]
    else:
        logits = _run(model, batches, settings.mode, settings.targets_only)
    return {
        name: PartOutput(b["labels"], out, compact=settings.targets_only)
        for name, b, out in zip(parts, batches, logits)
    }


class PartOutput:
    """The model's output on one part of a batch: its logits ``[rows, width, vocab]``, or with ``compact`` only
    those of the positions that predict a target token, ``[N, vocab]`` in row-major order of the targets."""

    def __init__(self, labels: torch.Tensor, logits: torch.Tensor | DeferredLogits, *, compact: bool = False) -> None:
        self.labels, self._logits, self.compact = labels, logits, compact

    def logits(self) -> torch.Tensor | DeferredLogits:
        """Logits ``[rows, width, vocab]`` (zeros where no target is predicted when compact), or in the ``separate``
        mode the chunked ``DeferredLogits`` of ``losses.model_output`` (the head applied to target rows only)."""
        return _spread(self._logits, _predicts_target(self.labels)) if self.compact else self._logits

    def _target_nll(self) -> tuple[torch.Tensor, torch.Tensor]:
        """NLL of each target token ``[N]`` (float32) and the row of each ``[N]``, from the compact logits."""
        mask = self.labels[:, 1:] != IGNORE_INDEX
        targets = self.labels[:, 1:][mask]
        rows = torch.arange(self.labels.shape[0], device=self.labels.device).unsqueeze(1).expand_as(mask)[mask]
        return torch.nn.functional.cross_entropy(self._logits.float(), targets, reduction="none"), rows

    def sequence_nll(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``losses.sequence_nll``: per-row NLL summed over target tokens ``[rows]`` and target counts ``[rows]``."""
        if not self.compact:
            return sequence_nll(self._logits, self.labels)
        nll, rows = self._target_nll()
        sums = nll.new_zeros(self.labels.shape[0]).index_add(0, rows, nll)
        return sums, (self.labels[:, 1:] != IGNORE_INDEX).sum(dim=-1)

    def mean_token_nll(self, count: float | None = None) -> torch.Tensor:
        """``losses.mean_token_nll``: mean NLL over the part's target tokens, or their sum divided by ``count``."""
        if not self.compact:
            return mean_token_nll(self._logits, self.labels, count)
        nll, _ = self._target_nll()
        return nll.sum() / nll.shape[0] if count is None else share(nll.sum(), count)


Row = tuple[int, int]
"""A row of one of the parts: (part number, row number)."""


def _run(model: torch.nn.Module, batches: list[Mapping[str, Any]], mode: str, targets_only: bool) -> list[torch.Tensor]:
    """The forwards of ``mode`` over every row of ``batches``; each batch's logits in its own padded shape."""
    masks = [_mask_of(b).bool() for b in batches]
    for mask in masks:
        if not torch.equal(mask, torch.arange(mask.shape[1], device=mask.device) < mask.sum(-1, keepdim=True)):
            raise ValueError("forward_mode joint, grouped and packed need right-padded rows (as collate makes them)")
    if mode == "joint" and not targets_only:
        return _joint(model, batches, masks)
    keeps = [_predicts_target(b["labels"]) if targets_only else m for b, m in zip(batches, masks)]
    lengths = {(k, r): int(n) for k, m in enumerate(masks) for r, n in enumerate(m.sum(-1).tolist())}
    chunks: dict[Row, torch.Tensor] = {}
    for group in _groups(lengths, mode):
        ids = [batches[k]["input_ids"][r, : lengths[k, r]] for k, r in group]
        keep = [keeps[k][r, : lengths[k, r]] for k, r in group]
        flat = _forward_rows(model, ids, keep, packed=mode == "packed", targets_only=targets_only)
        counts = [int(x.sum()) for x in keep]
        chunks.update(zip(group, flat.split(counts)))
    compact = [torch.cat([chunks[k, r] for r in range(keep.shape[0])]) for k, keep in enumerate(keeps)]
    return compact if targets_only else [_spread(rows, keep) for rows, keep in zip(compact, keeps)]


def _spread(rows: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``[rows, width, vocab]``: the logits ``rows`` ``[N, vocab]`` at the True positions of ``keep``, zeros
    elsewhere."""
    return rows.new_zeros((*keep.shape, rows.shape[-1])).masked_scatter(keep.unsqueeze(-1), rows)


def _groups(lengths: dict[Row, int], mode: str) -> list[list[Row]]:
    """The rows of each forward: all of them (``joint``, ``packed``), or length-sorted groups of ``GROUP_ROWS``."""
    rows = list(lengths)
    if mode != "grouped":
        return [rows]
    rows.sort(key=lambda row: lengths[row])
    return [rows[i : i + GROUP_ROWS] for i in range(0, len(rows), GROUP_ROWS)]


def _forward_rows(
    model: torch.nn.Module, ids: list[torch.Tensor], keep: list[torch.Tensor], *, packed: bool, targets_only: bool
) -> torch.Tensor:
    """Logits ``[N, vocab]`` of the kept positions of rows ``ids`` (real tokens only), row by row, from one forward:
    of the rows packed ``PACK_ROWS`` to a row with restarting position ids (``packed``), or right-padded."""
    order = _bins(ids) if packed else [[i] for i in range(len(ids))]
    width = max(sum(len(ids[i]) for i in b) for b in order)
    inputs: dict[str, Any] = {
        "input_ids": torch.stack([_pad_right(torch.cat([ids[i] for i in b]), width) for b in order])
    }
    if packed:  # each row's positions restart at 0; the padding at the end of a bin is a sequence of its own
        positions = [torch.cat([torch.arange(len(ids[i]), device=ids[i].device) for i in b]) for b in order]
        inputs["position_ids"] = torch.stack(
            [torch.cat([p, torch.arange(width - len(p), device=p.device)]) for p in positions]
        )
    # no attention mask: under causal attention no real position sees the padding after it
    kept = torch.stack([_pad_right(torch.cat([keep[i] for i in b]), width) for b in order])
    with _output_rows(model, kept if targets_only else None):
        logits = model(**inputs, use_cache=False).logits
    flat = logits if targets_only else logits[kept]
    rows = [i for b in order for i in b]
    pieces = dict(zip(rows, flat.split([int(keep[i].sum()) for i in rows])))
    return torch.cat([pieces[i] for i in range(len(ids))])


def _bins(ids: list[torch.Tensor]) -> list[list[int]]:
    """Rows ``ids`` spread over ``ceil(len / PACK_ROWS)`` bins of similar total length (longest row first, each into
    the shortest bin so far)."""
    bins: list[list[int]] = [[] for _ in range(-(-len(ids) // PACK_ROWS))]
    sizes = [0] * len(bins)
    for i in sorted(range(len(ids)), key=lambda i: -len(ids[i])):
        target = sizes.index(min(sizes))
        bins[target].append(i)
        sizes[target] += len(ids[i])
    return bins


def _joint(model: torch.nn.Module, batches: list[Mapping[str, Any]], masks: list[torch.Tensor]) -> list[torch.Tensor]:
    """One right-padded forward of every row; each part's logits cut back to its rows and width."""
    width = max(b["input_ids"].shape[1] for b in batches)
    ids = torch.cat([_pad_right(b["input_ids"], width) for b in batches])
    mask = torch.cat([_pad_right(m.long(), width) for m in masks])
    logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
    out, start = [], 0
    for b in batches:
        rows, part_width = b["input_ids"].shape
        out.append(logits[start : start + rows, :part_width])
        start += rows
    return out


@contextlib.contextmanager
def _output_rows(model: torch.nn.Module, keep: torch.Tensor | None) -> Iterator[None]:
    """While active, the model's output embeddings see only the hidden states at the True positions of ``keep``
    (``[rows, width]``), so the model's logits are ``[N, vocab]`` for those N positions in order."""
    if keep is None:
        yield
        return
    inner = getattr(model, "module", model)  # DDP and DeepSpeed wrap the model
    head = inner.get_output_embeddings()
    if head is None:
        raise ValueError("target_logits_only needs a model with output embeddings (get_output_embeddings())")
    handle = head.register_forward_pre_hook(lambda _module, args: (args[0][keep], *args[1:]))
    try:
        yield
    finally:
        handle.remove()


def _predicts_target(labels: torch.Tensor) -> torch.Tensor:
    """``[rows, width]``: True where the position predicts a target token (the next label is not -100)."""
    select = torch.zeros_like(labels, dtype=torch.bool)
    select[:, :-1] = labels[:, 1:] != IGNORE_INDEX
    return select


def _mask_of(batch: Mapping[str, Any]) -> torch.Tensor:
    mask = batch.get("attention_mask")
    return mask if mask is not None else torch.ones_like(batch["input_ids"])


def _pad_right(tensor: torch.Tensor, width: int) -> torch.Tensor:
    """``tensor`` ``[..., w]`` with zeros (False) appended up to ``width`` columns (masked out: their value is
    unused)."""
    if tensor.dtype == torch.bool:
        return torch.nn.functional.pad(tensor.to(torch.uint8), (0, width - tensor.shape[-1])).bool()
    return torch.nn.functional.pad(tensor, (0, width - tensor.shape[-1]))


def retain_loss(
    kind: str,
    model: torch.nn.Module,
    output: PartOutput,
    retain_batch: Mapping[str, Any],
    reference: Any,
    count: float | None = None,
) -> torch.Tensor:
    """``losses.retain_loss`` from the model's ``output`` on ``retain_batch`` (``part_outputs``)."""
    if kind == "NLL":
        return output.mean_token_nll(count)
    return losses_retain_loss(kind, model, dict(retain_batch), reference, count, logits=output.logits())
