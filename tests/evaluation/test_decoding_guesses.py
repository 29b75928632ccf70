"""Guesses checked in decoding's first forward never change a greedy output, and save steps when they are right;
the guess of a completion whose scored text has an inserted space is the answer as written after its prefix."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from support.tiny_setup import TINY_TEMPLATE, tiny_model_and_tokenizer

from unlearn_core.evaluation.decoding import DecodingCounters, generate_tokens, greedy_decode
from unlearn_core.evaluation.suite import EvalDataset
from unlearn_core.evaluation.tokens import EvalTokens
from unlearn_core.token_rules import PromptTemplate

CORPUS = [
    "The river town kept its records in the old hall.",
    "Officials later confirmed that the votes were counted twice.",
    "By the evening the market had sold its silver coins.",
]
BUDGET = 9


@pytest.fixture(scope="module")
def tiny() -> tuple[Any, Any]:
    return tiny_model_and_tokenizer(CORPUS * 4)


def _prompts(tokenizer: Any) -> list[list[int]]:
    return [tokenizer(text)["input_ids"][: 3 + i] for i, text in enumerate(CORPUS * 2)]


def _decode(model: Any, tokenizer: Any, prompts: list[list[int]], drafts: list[Any], **options: Any) -> Any:
    counters = DecodingCounters()
    outputs = generate_tokens(
        model,
        prompts,
        drafts,
        max_new_tokens=BUDGET,
        batch_size=4,
        pad_id=tokenizer.pad_token_id,
        eos_id=tokenizer.eos_token_id,
        counters=counters,
        **options,
    )
    return outputs, counters


def test_guesses_right_wrong_or_partly_right_give_the_plain_greedy_output(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    prompts = _prompts(tokenizer)
    plain, plain_counters = _decode(model, tokenizer, prompts, [None] * len(prompts))
    assert all(len(out) == BUDGET for out in plain)
    wrong = [(out[0] + 1) % len(tokenizer) for out in plain]
    guesses = [
        plain[0],  # right throughout
        plain[1][:4],  # right, then nothing more: the model's own token follows
        plain[2][:3] + [wrong[2]] * 5,  # right for three tokens
        [wrong[3]] * 6,  # wrong from the start
        [],  # none
        plain[5] + [wrong[5]] * 4,  # right and longer than the budget
    ]
    guessed, counters = _decode(model, tokenizer, prompts, [(guess, None) for guess in guesses])
    assert guessed == plain
    assert counters.guessed_tokens == (BUDGET - 1) + 4 + 3 + 0 + 0 + (BUDGET - 1)
    assert counters.model_calls < plain_counters.model_calls


def test_a_guess_after_a_verified_draft_and_the_static_loop_give_the_same_output(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    prompts = _prompts(tokenizer)[:3]
    plain, _ = _decode(model, tokenizer, prompts, [None] * 3)
    with torch.no_grad():
        static = greedy_decode(
            model,
            prompts,
            [BUDGET] * 3,
            batch_size=3,
            pad_id=tokenizer.pad_token_id,
            eos_id=tokenizer.eos_token_id,
            counters=DecodingCounters(),
            cache="static",
            guesses=plain,  # the static loop decodes without them
        )
    assert static == plain


def test_completion_guess_is_the_answer_as_written_after_its_prefix(tiny: tuple[Any, Any]) -> None:
    _, tokenizer = tiny
    rows = [
        {"prompt": "The river town kept its records.", "gt": " Officials later confirmed that."},
        {"prompt": "By the evening", "gt": "the market had sold."},  # no space of its own: the scored answer
    ]
    tokens = EvalTokens(tokenizer, PromptTemplate(tokenizer, TINY_TEMPLATE, 96))
    spaced = EvalDataset("verbmem", rows, "prompt", "text", insert_space=True)
    first_prompt = tuple(tokenizer(rows[0]["prompt"])["input_ids"])
    whole = tokenizer(rows[0]["prompt"] + rows[0]["gt"])["input_ids"]
    assert tuple(whole[: len(first_prompt)]) == first_prompt
    scored = [row[0][1] for row in tokens.targets(spaced, "gt")]
    drafts = tokens.drafts(spaced, "gt")
    assert drafts[0] == tuple(whole[len(first_prompt) :])
    assert scored[0] != drafts[0]  # scored with two spaces: "... records.  Officials ..."
    assert tokenizer.decode(list(scored[0])).startswith("  ")
    assert drafts[1] == scored[1]
    unspaced = EvalDataset("plain", rows, "prompt", "text")
    assert tokens.drafts(unspaced, "gt") == [row[0][1] for row in tokens.targets(unspaced, "gt")]
