"""Greedy generation: verified drafts first, then a KV-cache decoding loop that drops rows as they finish.

Greedy decoding is deterministic, so a teacher-forced pass over a guess (a *draft*: the ground-truth answer) tells
how far the greedy output follows it: while the argmax after ``prompt + draft[:t]`` equals ``draft[t]`` the output
is the draft, and at the first disagreement the output token is that argmax. The likelihood pass already computed
these argmaxes (``SampleStatistics.argmax_ids``), so a model that reproduces its training answers needs no decoding
step at all; other rows continue from where the draft left them. A draft whose argmaxes are not known yet (a
*guess*) rides along in the first decoding forward instead: the batch's prefill runs over prompt + guess, the row
keeps the guessed tokens up to the first the model disagrees with, and the cache columns of the rest are masked out.
The output is the same token sequence as plain greedy decoding (up to float rounding in near-ties, as between any two
batchings).

A row may also carry a *stop check* (its stop strings): it leaves the batch as soon as the text of its output holds
one. The text the caller keeps, cut at the earliest stop string, is the same as if it had decoded to its budget, so a
check may be late but never early: :func:`stop_string_check` looks at the text of the last few tokens each step and
decodes the whole output only to confirm what it sees there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from unlearn_core.chunked.deferred import chunk_rows
from unlearn_core.evaluation import model_calls
from unlearn_core.evaluation.static_decoding import decode_batch_static
from unlearn_core.progress import Progress

StopCheck = Callable[[Sequence[int]], bool]
"""Whether a row's output tokens so far end its generation (their text holds one of its stop strings)."""
STOP_WINDOW_SLACK = 4
"""Tokens a stop check decodes besides one per character of the longest stop string (their text may be rendered
otherwise at the window's start than inside the whole output)."""
CACHES = ("dynamic", "static")
"""``generation.cache``: this module's loop, which drops finished rows from a growing cache, or transformers'
``generate`` with a static cache (``static_decoding``: fixed shapes, compiled by transformers on CUDA)."""


@dataclass
class DecodingCounters:
    """Work done by generation: calls to the model, decoding steps, rows settled by their draft."""

    generate_calls: int = 0
    model_calls: int = 0
    decoded_rows: int = 0
    draft_rows: int = 0
    guessed_tokens: int = 0
    """Output tokens that guesses settled in decoding's first forward, beyond the one every first forward gives."""


def stop_string_check(decode: Callable[[list[int]], str], stops: Sequence[str]) -> StopCheck | None:
    """A stop check for ``stops`` (None when there are none, empty strings ignored); ``decode`` turns ids to text.

    Each step it decodes only the output's last tokens, one per character of the longest stop string and
    :data:`STOP_WINDOW_SLACK` more, and confirms a hit there on the whole output's text. A stop string that the
    window misses (its tokens may render otherwise alone) only lets the row decode longer; no row ends early.
    """
    stops = tuple(stop for stop in stops if stop)
    if not stops:
        return None
    window = max(len(stop) for stop in stops) + STOP_WINDOW_SLACK

    def ended(ids: Sequence[int]) -> bool:
        if len(ids) > window and not any(stop in decode(list(ids[-window:])) for stop in stops):
            return False
        return any(stop in decode(list(ids)) for stop in stops)

    return ended


def accept_draft(
    draft: Sequence[int], argmax_ids: Sequence[int], max_new: int, eos_id: int | None
) -> tuple[list[int], bool]:
    """Greedy tokens implied by ``argmax_ids`` (teacher-forced along ``draft``) and whether generation is over.

    ``argmax_ids[t]`` is the greedy choice after ``prompt + draft[:t]``; it is the output token at step ``t`` as long
    as the earlier outputs equal the draft. Generation is over at EOS or after ``max_new`` tokens.
    """
    out: list[int] = []
    for want, got in zip(draft, argmax_ids):
        if len(out) >= max_new:
            return out, True
        out.append(int(got))
        if (eos_id is not None and got == eos_id) or len(out) >= max_new:
            return out, True
        if got != want:
            return out, False
    return out, len(out) >= max_new


def greedy_decode(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    budgets: Sequence[int],
    *,
    batch_size: int,
    pad_id: int,
    eos_id: int | None,
    counters: DecodingCounters,
    on_rows: Callable[[int], None] | None = None,
    stop_checks: Sequence[StopCheck | None] | None = None,
    cache: str = "dynamic",
    guesses: Sequence[Sequence[int]] | None = None,
) -> list[list[int]]:
    """Greedy continuation of each prompt, at most ``budgets[i]`` tokens, stopping at EOS (which is kept) or when
    ``stop_checks[i]`` says so; ``on_rows(n)`` is told as each batch of ``n`` rows is done; ``cache`` is one of
    ``CACHES``; ``guesses[i]``: tokens row ``i`` may follow, checked in the first forward (the dynamic loop only)."""
    checks = list(stop_checks) if stop_checks is not None else [None] * len(prompts)
    hints = [tuple(g) for g in guesses] if guesses is not None and cache != "static" else [()] * len(prompts)
    outputs: list[list[int]] = [[] for _ in prompts]
    todo = [k for k in range(len(prompts)) if budgets[k] > 0]
    todo.sort(key=lambda k: len(prompts[k]) + min(len(hints[k]), budgets[k]))
    if on_rows is not None and len(todo) < len(prompts):
        on_rows(len(prompts) - len(todo))
    with torch.no_grad():
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            rows = ([prompts[k] for k in chunk], [budgets[k] for k in chunk], [checks[k] for k in chunk])
            if cache == "static":
                decoded = decode_batch_static(model, *rows, (pad_id, eos_id), counters)
            else:
                decoded = _decode_batch(model, *rows, (pad_id, eos_id), counters, [hints[k] for k in chunk])
            for k, out in zip(chunk, decoded):
                outputs[k] = out
            if on_rows is not None:
                on_rows(len(chunk))
    return outputs


def _decode_batch(
    model: torch.nn.Module,
    prompts: list[Sequence[int]],
    budgets: list[int],
    checks: list[StopCheck | None],
    special: tuple[int, int | None],
    counters: DecodingCounters,
    guesses: list[tuple[int, ...]],
) -> list[list[int]]:
    """Decode one batch of left-padded prompts; finished rows leave the batch (and the KV cache). ``special`` is
    (pad id, EOS id). The first forward runs over each prompt and its guess (see the module's description)."""
    eos_id = special[1]
    outputs, cache, mask = _prefill(model, prompts, budgets, special, counters, guesses)
    active = [(row, row) for row, out in enumerate(outputs) if not _ended(out, budgets[row], checks[row], eos_id)]
    device = mask.device
    next_position = mask.sum(dim=1)
    chosen = torch.tensor([out[-1] for out in outputs], dtype=torch.long, device=device)
    while active:
        if len(active) < len(chosen):
            rows = torch.tensor([row for row, _ in active], dtype=torch.long, device=device)
            cache = model_calls.select_rows(cache, rows, copy_first=False)
            mask, next_position, chosen = mask[rows], next_position[rows], chosen[rows]
            active = [(row, k) for row, (_, k) in enumerate(active)]
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
        logits, cache = model_calls.run(
            model, chosen.unsqueeze(1), mask, next_position.unsqueeze(1), cache, keep_cache=True
        )
        counters.model_calls += 1
        next_position = next_position + 1
        chosen = logits[:, -1].argmax(dim=-1)
        for (_, k), token in zip(active, chosen.tolist()):
            outputs[k].append(token)
        active = [(row, k) for row, k in active if not _ended(outputs[k], budgets[k], checks[k], eos_id)]
    return outputs


def _prefill(
    model: torch.nn.Module,
    prompts: list[Sequence[int]],
    budgets: list[int],
    special: tuple[int, int | None],
    counters: DecodingCounters,
    guesses: list[tuple[int, ...]],
) -> tuple[list[list[int]], Any, torch.Tensor]:
    """The first forward, over each prompt and its guess: every row's first output tokens, the cache and the
    attention mask, a guess's columns past the tokens kept masked out."""
    pad_id, eos_id = special
    guesses = [guess[:budget] for guess, budget in zip(guesses, budgets)]
    longest = max(len(guess) for guess in guesses)
    device = next(model.parameters()).device
    ids, mask = model_calls.left_padded([[*p, *g] for p, g in zip(prompts, guesses)], pad_id, device)
    head = model_calls.head_projection(model) if longest else None
    positions = model_calls.positions_from_mask(mask)
    values, cache = model_calls.run(
        model, ids, mask, positions, keep_cache=True, keep_last=longest + 1, hidden=head is not None
    )
    counters.model_calls += 1
    counters.decoded_rows += len(prompts)
    choices = _argmaxes(values, head)
    outputs: list[list[int]] = []
    for row, guess in enumerate(guesses):
        out = _follow_guess(guess, choices[row][longest - len(guess) :], budgets[row], eos_id)
        counters.guessed_tokens += len(out) - 1
        if len(out) - 1 < len(guess):  # the guess's columns past the tokens kept are not the row's
            mask[row, mask.shape[1] - len(guess) + len(out) - 1 :] = 0
        outputs.append(out)
    return outputs, cache, mask


def _argmaxes(values: torch.Tensor, head: tuple[torch.nn.Module, int] | None) -> list[list[int]]:
    """Per row and position the greedy token: of the logits, or with ``head`` of the hidden states projected a
    chunk of positions at a time (a guess's positions' logits at once would be batch x guess x vocabulary)."""
    if head is None:
        return values.argmax(dim=-1).tolist()
    project, vocab = head
    flat = values.reshape(-1, values.shape[-1])
    step = chunk_rows(vocab)
    picks = torch.cat([project(flat[i : i + step]).argmax(dim=-1) for i in range(0, flat.shape[0], step)])
    return picks.view(values.shape[0], values.shape[1]).tolist()


def _follow_guess(guess: tuple[int, ...], argmaxes: list[int], budget: int, eos_id: int | None) -> list[int]:
    """The output tokens the first forward settles: the guess while the model agrees with it, then the model's own
    next token (``argmaxes[t]``: its choice after the prompt and ``guess[:t]``), short of EOS and the budget."""
    out, over = accept_draft(guess, argmaxes, budget, eos_id)
    if not over and len(out) == len(guess):  # the whole guess held: the model's token after it follows
        out.append(argmaxes[len(guess)])
    return out


def _ended(out: list[int], budget: int, check: StopCheck | None, eos_id: int | None) -> bool:
    """Whether a row is done: EOS, its budget, or its stop check."""
    return out[-1] == eos_id or len(out) >= budget or (check is not None and check(out))


def generate_tokens(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    drafts: Sequence[tuple[Sequence[int], Sequence[int] | None] | None],
    *,
    max_new_tokens: int | Sequence[int],
    batch_size: int,
    pad_id: int,
    eos_id: int | None,
    counters: DecodingCounters,
    progress: str | None = None,
    stop_checks: Sequence[StopCheck | None] | None = None,
    cache: str = "dynamic",
) -> list[list[int]]:
    """Greedy output tokens per prompt (EOS kept when reached): drafts settle what they can, decoding does the rest.

    A draft is (ids, their teacher-forced argmaxes), or (ids, None) for a guess that decoding's first forward
    checks. ``max_new_tokens`` is one budget for all prompts or one per prompt (prompt sets with different settings
    pooled); ``stop_checks`` (per prompt, None: none) end a row early once its output text holds a stop string;
    ``cache`` chooses the decoding loop (``CACHES``);
    ``progress`` names the phase under which the rows done are shown (see ``unlearn_core.progress``).
    """
    counters.generate_calls += 1
    budgets = [max_new_tokens] * len(prompts) if isinstance(max_new_tokens, int) else list(max_new_tokens)
    checks = list(stop_checks) if stop_checks is not None else [None] * len(prompts)
    outputs: list[list[int]] = [[] for _ in prompts]
    guesses: list[tuple[int, ...]] = [() for _ in prompts]
    pending: list[int] = []
    for k, draft in enumerate(drafts):
        if draft is None or draft[1] is None:
            guesses[k] = tuple(draft[0]) if draft is not None else ()
            pending.append(k)
            continue
        outputs[k], finished = accept_draft(draft[0], draft[1], budgets[k], eos_id)
        check = checks[k]
        if finished or (check is not None and check(outputs[k])):
            counters.draft_rows += 1
        else:
            pending.append(k)
    with Progress(len(prompts), progress or "generate", unit="prompt", enabled=progress is not None) as bar:
        bar.update(len(prompts) - len(pending))
        continued = greedy_decode(
            model,
            [list(prompts[k]) + outputs[k] for k in pending],
            [budgets[k] - len(outputs[k]) for k in pending],
            batch_size=batch_size,
            pad_id=pad_id,
            eos_id=eos_id,
            counters=counters,
            on_rows=bar.update,
            stop_checks=[_continuing(checks[k], outputs[k]) for k in pending],
            cache=cache,
            guesses=[guesses[k] for k in pending],
        )
    for k, tokens in zip(pending, continued):
        outputs[k] = outputs[k] + tokens
    return outputs


def _continuing(check: StopCheck | None, head: list[int]) -> StopCheck | None:
    """``check`` applied to ``head`` (the tokens a draft settled) followed by a continuation."""
    if check is None:
        return None
    return lambda tokens: check([*head, *tokens])
