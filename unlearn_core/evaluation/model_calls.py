"""Calls into a HuggingFace causal LM that work across transformers versions (cache argument, logits_to_keep).

Every forward of the evaluation goes through :func:`run` or :func:`run_masked` (a lockstep session of a
ZeRO-3-partitioned model votes before each, through its forward pre-hook: ``evaluation.lockstep``). With
``hidden=True`` they return the final hidden states instead of the logits, and the scorers apply the head
(:func:`head_projection`) to the rows that predict a target only, chunk by chunk (``unlearn_core.chunked``).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import torch
from torch import Tensor

from unlearn_core.chunked.deferred import chunking_enabled, final_hidden_states, head_of


@lru_cache(maxsize=32)
def _forward_parameters(forward_type: type) -> frozenset[str]:
    """Names of the keyword parameters of a model class's ``forward``."""
    try:
        return frozenset(inspect.signature(forward_type.forward).parameters)
    except (TypeError, ValueError):
        return frozenset()


def _parameters(model: torch.nn.Module) -> frozenset[str]:
    return _forward_parameters(type(model))


def accepts(model: torch.nn.Module, name: str) -> bool:
    """Whether the model's forward takes keyword ``name``."""
    return name in _parameters(model)


def cache_argument(model: torch.nn.Module) -> str | None:
    """The keyword that passes a KV cache to ``model`` (``cache`` in transformers 5, ``past_key_values`` before)."""
    params = _parameters(model)
    for name in ("cache", "past_key_values"):
        if name in params:
            return name
    return None


def supports_shared_prefix(model: torch.nn.Module) -> bool:
    """Whether ``model`` takes a KV cache and explicit position ids (needed to score answers after one prefill)."""
    return cache_argument(model) is not None and "position_ids" in _parameters(model)


def head_projection(model: torch.nn.Module) -> tuple[torch.nn.Module, int] | None:
    """The output head and vocabulary size when the scorers may run the model to its hidden states and apply the head
    themselves (chunking on, a model that allows it, not ZeRO-3 partitions); None: they take the logits."""
    found = head_of(model) if chunking_enabled() else None
    return None if found is None else (found[1], found[2])


def _forward(model: torch.nn.Module, kwargs: dict[str, Any], hidden: bool) -> tuple[Tensor, Any]:
    """``model(**kwargs)``: its logits, or with ``hidden`` its final hidden states (only the last position's logits
    are made); and the output itself."""
    if not hidden:
        out = model(**kwargs)
        return (out.logits if hasattr(out, "logits") else out[0]), out
    found = head_of(model)
    if found is None:
        raise ValueError("this model cannot be run to its hidden states (see model_calls.head_projection)")
    with final_hidden_states(found[0]) as captured:
        out = model(**{**kwargs, "logits_to_keep": 1})
    return captured[-1], out


def left_padded(prompts: Sequence[Sequence[int]], pad_id: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Input ids and attention mask of ``prompts``, left-padded to the longest, on ``device``."""
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :] = torch.tensor(list(prompt))
        mask[row, width - len(prompt) :] = 1
    return ids.to(device), mask.to(device)


def positions_from_mask(mask: Tensor) -> Tensor:
    """Position ids of left-padded rows: 0 at each row's first real token (padding gets 0 too)."""
    return (mask.long().cumsum(-1) - 1).clamp_min(0)


def run(
    model: torch.nn.Module,
    input_ids: Tensor,
    attention_mask: Tensor,
    position_ids: Tensor | None = None,
    cache: Any = None,
    *,
    keep_cache: bool = False,
    last_logits_only: bool = False,
    hidden: bool = False,
    keep_last: int | None = None,
) -> tuple[Tensor, Any]:
    """One forward call; returns the logits (only the last position's when asked, or the last ``keep_last``
    positions'), or with ``hidden`` the final hidden states (likewise), and the cache (or None)."""
    if last_logits_only:
        keep_last = 1
    kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
    if position_ids is not None:
        kwargs["position_ids"] = position_ids
    name = cache_argument(model)
    if name is not None:
        if cache is not None:
            kwargs[name] = cache
        kwargs["use_cache"] = keep_cache or cache is not None
    trim_here = hidden
    if keep_last is not None and not hidden:
        if "logits_to_keep" in _parameters(model):
            kwargs["logits_to_keep"] = keep_last
        else:
            trim_here = True
    logits, out = _forward(model, kwargs, hidden)
    if trim_here and keep_last is not None:
        logits = logits[:, -keep_last:]
    if not keep_cache:
        return logits, None
    return logits, out["cache"] if "cache" in out else out.past_key_values


def run_masked(
    model: torch.nn.Module, input_ids: Tensor, mask: Tensor, position_ids: Tensor, keep_last: int, hidden: bool = False
) -> Tensor:
    """Forward with an explicit 4D additive attention mask, no cache; logits (or with ``hidden`` the final hidden
    states) of the last ``keep_last`` positions."""
    kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": mask, "position_ids": position_ids}
    if cache_argument(model) is not None:
        kwargs["use_cache"] = False
    if "logits_to_keep" in _parameters(model) and not hidden:
        kwargs["logits_to_keep"] = keep_last
    logits, _ = _forward(model, kwargs, hidden)
    return logits[:, -keep_last:]


def select_rows(cache: Any, rows: Tensor, *, copy_first: bool) -> Any:
    """The cache restricted (or expanded, with repeated indices) to batch ``rows``; the original is kept when
    ``copy_first`` (only the containers are copied: the row selection makes new tensors anyway)."""
    target = _shallow_copy(cache) if copy_first else cache
    target.reorder_cache(rows)
    return target


def _shallow_copy(cache: Any) -> Any:
    """A copy whose per-layer containers are new, so reordering it leaves ``cache`` untouched."""
    clone = copy.copy(cache)
    if isinstance(getattr(cache, "layers", None), list):
        clone.layers = [copy.copy(layer) for layer in cache.layers]
        return clone
    if isinstance(getattr(cache, "key_cache", None), list) and isinstance(getattr(cache, "value_cache", None), list):
        clone.key_cache, clone.value_cache = list(cache.key_cache), list(cache.value_cache)
        return clone
    return copy.deepcopy(cache)
