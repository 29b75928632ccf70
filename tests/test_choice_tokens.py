"""lm-evaluation-harness's token rule for multiple-choice continuations, on a tokenizer whose every id is known."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import pytest

from unlearn_core import choice_tokens
from unlearn_core.choice_tokens import choice_sequences, context_ids, context_length
from unlearn_core.errors import DataError


class GreedyTokenizer:
    """Longest-match tokenizer over a fixed vocabulary; BOS is added unless asked not to."""

    VOCAB = ["<s>", "</s>", "Answer", ":", "Answer: ", " A", " B", "A", "B", "Q", "\n", " "]
    bos_token_id, eos_token_id, name_or_path = 0, 1, "greedy"

    def _one(self, text: str, special: bool) -> list[int]:
        ids = [self.bos_token_id] if special else []
        while text:
            token = max((t for t in self.VOCAB if text.startswith(t)), key=len)
            ids.append(self.VOCAB.index(token))
            text = text[len(token) :]
        return ids

    def __call__(self, texts: list[str] | str, add_special_tokens: bool = True) -> dict[str, list]:
        if isinstance(texts, str):
            return {"input_ids": self._one(texts, add_special_tokens)}
        return {"input_ids": [self._one(t, add_special_tokens) for t in texts]}

    def decode(self, ids: list[int]) -> str:
        return "".join(self.VOCAB[i] for i in ids)


V = {token: i for i, token in enumerate(GreedyTokenizer.VOCAB)}


def test_continuation_is_the_joint_encoding_after_the_contexts_own_tokens():
    # "Q\nAnswer" + " A": the context with BOS is [<s>, Q, \n, Answer]; the joint one adds " A"
    (seq,) = choice_sequences(GreedyTokenizer(), ["Q\nAnswer"], [" A"])
    assert seq.prompt_ids == (V["<s>"], V["Q"], V["\n"], V["Answer"]) and seq.target_ids == (V[" A"],)


def test_trailing_space_of_the_context_moves_to_the_continuation():
    (seq,) = choice_sequences(GreedyTokenizer(), ["Q\nAnswer "], ["A"])
    assert seq.prompt_ids == (V["<s>"], V["Q"], V["\n"], V["Answer"]) and seq.target_ids == (V[" A"],)


def test_text_that_starts_with_the_bos_text_gets_no_second_bos():
    (seq,) = choice_sequences(GreedyTokenizer(), ["<s>Q"], [" B"])
    assert seq.prompt_ids == (V["<s>"], V["Q"]) and seq.target_ids == (V[" B"],)


def test_an_empty_context_is_the_prefix_token():
    (seq,) = choice_sequences(GreedyTokenizer(), [""], [" A"])
    assert seq.prompt_ids == (V["<s>"],) and seq.target_ids == (V[" A"],)


def test_a_merged_space_leaves_an_empty_continuation_which_is_encoded_on_its_own(monkeypatch):
    # "Answer:" alone is [<s>, Answer, :]; "Answer: A" is [<s>, "Answer: ", A]: as many tokens, nothing after them
    monkeypatch.setattr(choice_tokens, "_warned", set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first, second = choice_sequences(GreedyTokenizer(), ["Answer:", "Answer:"], [" A", " B"])
    assert first.prompt_ids == (V["<s>"], V["Answer"], V[":"]) and first.target_ids == (V[" A"],)
    assert second.target_ids == (V[" B"],)
    assert len(caught) == 1 and "encoded on their own" in str(caught[0].message)


def test_context_and_continuation_are_cut_from_the_left_to_the_context_length_plus_one():
    # 5 context ids + 1 continuation id, limit 3: keep the last 4 ids
    (seq,) = choice_sequences(GreedyTokenizer(), ["QQQQ"], [" A"], limit=3)
    assert seq.prompt_ids == (V["Q"],) * 3 and seq.target_ids == (V[" A"],)
    with pytest.raises(DataError, match="longer than the model's 1 positions"):
        choice_sequences(GreedyTokenizer(), ["Q"], [" A A"], limit=1)


def test_context_ids_and_context_length():
    assert context_ids(GreedyTokenizer(), ["Q "]) == [[V["<s>"], V["Q"]]]
    model = SimpleNamespace(config=SimpleNamespace(max_position_embeddings=512))
    assert context_length(model, SimpleNamespace(model_max_length=77)) == 512
    assert context_length(SimpleNamespace(config=None), SimpleNamespace(model_max_length=77)) == 77
    unset = SimpleNamespace(model_max_length=choice_tokens.UNSET_TOKENIZER_LENGTH)
    assert context_length(SimpleNamespace(), unset) == 2048
