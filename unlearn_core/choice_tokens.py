"""Token ids of multiple-choice continuations, by the rule lm-evaluation-harness scores them with.

A multiple-choice question is one context (the prompt up to ``Answer:``) and one continuation per choice (``" A"``
... ``" D"``); a choice's log-likelihood is the sum of its continuation tokens' log-probabilities after the context.
The harness builds the token ids like this, and so do we, so that accuracies agree:

- Whitespace at the end of the context moves to the start of the continuation.
- The context is encoded alone and context + continuation are encoded together, each with the tokenizer's own
  special tokens (BOS for Llama-like tokenizers), unless the text already starts with the BOS text. The
  continuation's tokens are the joint encoding's tokens after as many tokens as the context alone has.
- An empty context is the prefix token (BOS, else EOS) alone, followed by the continuation encoded on its own.
- Context + continuation are cut from the left to the model's context length plus one token.

With a BPE that merges the space into the token before it (``"Answer:Ġ"``), the joint encoding can be as long as the
context's own, which leaves an empty continuation; the harness fails there. We then encode the continuation on its
own, and say so once per process.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from unlearn_core.data import Tokenized
from unlearn_core.errors import DataError

CONTEXT_LENGTH_ATTRIBUTES = ("n_positions", "max_position_embeddings", "n_ctx")
"""Model config attributes that give its context length, in the order the harness reads them."""
DEFAULT_CONTEXT_LENGTH = 2048
UNSET_TOKENIZER_LENGTH = 1000000000000000019884624838656
"""What transformers puts in ``model_max_length`` when a tokenizer does not know its model's length."""
_warned: set[str] = set()


def context_length(model: Any, tokenizer: Any) -> int:
    """The model's context length as the harness resolves it: the (text) config's length attributes, then the
    tokenizer's ``model_max_length``, then 2048."""
    config = getattr(model, "config", None)
    config = getattr(config, "text_config", None) or config
    for name in CONTEXT_LENGTH_ATTRIBUTES:
        value = getattr(config, name, None)
        if value is not None:
            return int(value)
    known = getattr(tokenizer, "model_max_length", None)
    if known is not None and known != UNSET_TOKENIZER_LENGTH:
        return int(known)
    return DEFAULT_CONTEXT_LENGTH


def choice_sequences(
    tokenizer: Any, contexts: Sequence[str], continuations: Sequence[str], limit: int | None = None
) -> list[Tokenized]:
    """One ``Tokenized(context ids, continuation ids, k)`` per (context, continuation) pair, by the harness's rule
    (module docstring); ``limit``: the model's context length (None: no cut)."""
    pairs = [_move_space(c, t) for c, t in zip(contexts, continuations)]
    joint = _encode(tokenizer, [c + t for c, t in pairs if c])
    alone = _encode(tokenizer, [c for c, _ in pairs if c])
    out: list[Tokenized] = []
    k = 0
    for index, (context, continuation) in enumerate(pairs):
        if not context:
            prompt, target = _empty_context(tokenizer, continuation)
        else:
            prompt, target = alone[k], joint[k][len(alone[k]) :]
            k += 1
            if not target:
                target = _own_ids(tokenizer, continuation)
                _say_once(tokenizer, context, continuation)
        out.append(Tokenized(*_cut(prompt, target, limit, index), index))
    return out


def context_ids(tokenizer: Any, contexts: Sequence[str]) -> list[list[int]]:
    """The ids of each context alone, as the rule encodes it (trailing whitespace left to the continuation)."""
    return _encode(tokenizer, [c.rstrip() for c in contexts])


def _move_space(context: str, continuation: str) -> tuple[str, str]:
    stripped = context.rstrip()
    return stripped, context[len(stripped) :] + continuation


def _prefix_id(tokenizer: Any) -> int:
    return tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id


def _encode(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    """Each text with the tokenizer's special tokens, except texts that already start with the BOS text."""
    if not texts:
        return []
    bos_text = tokenizer.decode([_prefix_id(tokenizer)])
    out: list[list[int] | None] = [None] * len(texts)
    for special in (True, False):
        chosen = [i for i, t in enumerate(texts) if (bool(bos_text) and t.startswith(bos_text)) != special]
        if chosen:
            ids = tokenizer([texts[i] for i in chosen], add_special_tokens=special)["input_ids"]
            for i, row in zip(chosen, ids):
                out[i] = list(row)
    return [row or [] for row in out]


def _own_ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _empty_context(tokenizer: Any, continuation: str) -> tuple[list[int], list[int]]:
    """The prefix token as context; a continuation that starts with it gives it up instead."""
    ids = _own_ids(tokenizer, continuation)
    prefix = _prefix_id(tokenizer)
    return ([prefix], ids) if not ids or ids[0] != prefix else (ids[:1], ids[1:])


def _cut(prompt: list[int], target: list[int], limit: int | None, index: int) -> tuple[tuple[int, ...], ...]:
    if not target:
        raise DataError(f"multiple-choice continuation {index} has no tokens")
    if limit is not None:
        if len(target) > limit:
            raise DataError(f"multiple-choice continuation {index} is longer than the model's {limit} positions")
        excess = len(prompt) + len(target) - (limit + 1)
        prompt = prompt[max(excess, 0) :]
    return tuple(prompt), tuple(target)


def _say_once(tokenizer: Any, context: str, continuation: str) -> None:
    name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
    if name in _warned:
        return
    _warned.add(name)
    warnings.warn(
        f"tokenizer {name} merges the start of {continuation!r} into the end of the context ({context[-12:]!r}): "
        "such continuations are encoded on their own (lm-evaluation-harness would stop here)",
        stacklevel=3,
    )
