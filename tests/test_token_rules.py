"""Exact token ids and labels of ``unlearn_core.token_rules`` against the reference's rules (spec/DATASETS.md,
"Text formats"; open-unlearning ``src/data/utils.py``), checkable by hand.

The tokenizers are tiny byte-level BPEs built here: the 256 byte symbols, plus one token for each word in
``MERGED_WORDS`` (reached by a chain of merges), plus each family's special tokens. Token strings are written the
byte-level way: ``Ġ`` is a space and ``Ċ`` a newline, so " Paris" is the one token ``ĠParis`` while "Paris" (no merge)
is the five tokens ``P a r i s``. Chat templates are the models' public ones (tests/fixtures/chat_templates).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from unlearn_core.data import Tokenized
from unlearn_core.default_plugins.models import GEMMA, LLAMA2_CHAT, LLAMA3, QWEN
from unlearn_core.models.presets import TEMPLATE_DEFAULTS
from unlearn_core.token_rules import PromptTemplate

TEMPLATES = Path(__file__).parent / "fixtures" / "chat_templates"
MERGED_WORDS = [
    # words after a space first, so that no merge of a bare word ("assistant") splits one of them ("Ġassistant")
    *["Ġwrote", "ĠHamlet", "ĠParis", "Ġof", "ĠFrance", "Ġare", "Ġhelpful", "Ġassistant"],
    *["ĠKnowledge", "ĠDate", "ĠDecember", "Ġ2023", "Ġ10", "ĠApr", "Ġ2025"],
    *["Question", "Answer", "Who", "Capital", "Shakespeare", "You", "Cutting", "Today"],
    *["system", "user", "assistant", "model", "INST"],
]
# family: (special tokens, BOS the tokenizer adds or None, EOS as the real model sets it, chat template)
FAMILIES = {
    "llama2": (["<s>", "</s>"], "<s>", "</s>", "llama2_chat.jinja"),
    "llama3": (
        ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
        "<|begin_of_text|>",
        "<|eot_id|>",
        "llama3.jinja",
    ),
    "qwen": (["<|endoftext|>", "<|im_start|>", "<|im_end|>"], None, "<|im_end|>", "qwen2_5.jinja"),
    "gemma": (["<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>"], "<bos>", "<eos>", "gemma.jinja"),
}
RAW = dict(TEMPLATE_DEFAULTS)  # Llama-2-7b-hf / phi-1_5: "Question: ", "\n", "Answer: ", "\n\n"
HAMLET, SHAKESPEARE = "Who wrote Hamlet?", "Shakespeare"
FRANCE, PARIS = "Capital of France?", "Paris"


@cache
def tokenizer(family: str) -> PreTrainedTokenizerFast:
    """The family's tiny byte-level BPE with its special tokens, BOS rule, EOS and chat template."""
    specials, bos, eos, template = FAMILIES[family]
    vocab = sorted(pre_tokenizers.ByteLevel.alphabet())
    merges: list[tuple[str, str]] = []
    for word in MERGED_WORDS:  # "Ġof" <- ("Ġ", "o"), ("Ġo", "f")
        for end in range(2, len(word) + 1):
            if word[:end] not in vocab:
                vocab.append(word[:end])
                merges.append((word[: end - 1], word[end - 1]))
    backend = Tokenizer(models.BPE({token: i for i, token in enumerate(vocab)}, merges))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens(specials)
    if bos is not None:
        backend.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, backend.token_to_id(bos))]
        )
    pad = {"qwen": "<|endoftext|>", "gemma": "<pad>"}.get(family)
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=bos, eos_token=eos, pad_token=pad)
    tok.chat_template = (TEMPLATES / template).read_text()
    return tok


def ids(family: str, *tokens: str) -> list[int]:
    """Ids of token strings, each of which must be in the vocabulary."""
    out = tokenizer(family).convert_tokens_to_ids(list(tokens))
    assert None not in out and len(set(out)) == len(set(tokens)), tokens
    return out


def split(word: str) -> list[str]:
    """A word with no merge: one byte-level token per character ("Paris" -> P a r i s)."""
    return list(word)


def labels(row: Tokenized) -> list[int]:
    """The training labels of a row: -100 over the prompt positions, then the targets."""
    return [-100] * len(row.prompt_ids) + list(row.target_ids)


def template(family: str, args: dict, max_length: int = 512) -> PromptTemplate:
    return PromptTemplate(tokenizer(family), {**TEMPLATE_DEFAULTS, **args}, max_length)


def test_each_merged_word_is_one_token() -> None:
    tok = tokenizer("llama2")
    for word in MERGED_WORDS:
        assert tok.tokenize(word.replace("Ġ", " ")) == [word]
    assert tok.tokenize("Paris") == split("Paris")


# ---- QA, raw tags ----------------------------------------------------------------------------------------------------
RAW_HAMLET_PROMPT = ["<s>", "Question", ":", "Ġ", "Who", "Ġwrote", "ĠHamlet", "?", "Ċ", "Answer", ":", "Ġ"]


def test_raw_qa_is_one_joint_tokenisation_with_bos_and_eos() -> None:
    tok = tokenizer("llama2")
    row = template("llama2", RAW).qa(HAMLET, SHAKESPEARE, index=7)
    assert row.prompt_ids == tuple(ids("llama2", *RAW_HAMLET_PROMPT))
    assert row.target_ids == tuple(ids("llama2", "Shakespeare", "</s>"))
    assert row.index == 7
    assert labels(row) == [-100] * 12 + ids("llama2", "Shakespeare", "</s>")
    joint = tok("Question: Who wrote Hamlet?\nAnswer: Shakespeare")["input_ids"]
    assert list(row.prompt_ids + row.target_ids) == [*joint, tok.eos_token_id]


def test_raw_qa_space_merged_into_the_answer_is_not_a_target() -> None:
    # "Answer: " alone ends in "Ġ" (12 tokens), but "Answer: Paris" ends in "ĠParis": the first 12 joint positions
    # are masked (the reference's rule), so "ĠParis" is never scored and EOS is the only target.
    pt = template("llama2", RAW)
    row = pt.qa(FRANCE, PARIS, index=0)
    head = ["<s>", "Question", ":", "Ġ", "Capital", "Ġof", "ĠFrance", "?", "Ċ", "Answer", ":"]
    assert row.prompt_ids == tuple(ids("llama2", *head, "ĠParis"))
    assert row.target_ids == tuple(ids("llama2", "</s>"))
    assert pt.prompt_ids(FRANCE) == ids("llama2", *head, "Ġ")  # generation still starts after "Answer: "


def test_raw_qa_tag_without_trailing_space_keeps_the_prompt_a_prefix() -> None:
    pt = template("llama2", {"asst_start_tag": "Answer:"})
    row = pt.qa(FRANCE, PARIS, index=0)
    prompt = ["<s>", "Question", ":", "Ġ", "Capital", "Ġof", "ĠFrance", "?", "Ċ", "Answer", ":"]
    assert row.prompt_ids == tuple(ids("llama2", *prompt))
    assert row.target_ids == tuple(ids("llama2", *split("Paris"), "</s>"))
    assert pt.prompt_ids(FRANCE) == list(row.prompt_ids)  # the generation prompt is exactly the masked part


def test_raw_qa_truncates_the_joint_sequence_then_appends_eos() -> None:
    answer = "Shakespeare wrote Hamlet"  # Shakespeare Ġwrote ĠHamlet: 12 + 3 = 15 joint tokens
    row = template("llama2", RAW, max_length=14).qa(HAMLET, answer, index=0)
    assert row.prompt_ids == tuple(ids("llama2", *RAW_HAMLET_PROMPT))
    assert row.target_ids == tuple(ids("llama2", "Shakespeare", "Ġwrote", "</s>"))
    # a prompt longer than max_length is cut too: both cut at 10, EOS is the only target
    short = template("llama2", RAW, max_length=10).qa(HAMLET, answer, index=0)
    assert short.prompt_ids == tuple(ids("llama2", *RAW_HAMLET_PROMPT[:10]))
    assert short.target_ids == tuple(ids("llama2", "</s>"))


def test_raw_qa_answer_already_ending_in_eos_gets_no_second_eos() -> None:
    pt = template("llama2", RAW)
    assert pt.qa(HAMLET, "Shakespeare</s>", index=0) == pt.qa(HAMLET, SHAKESPEARE, index=0)


def test_raw_few_shot_end_tag_follows_each_example_answer_only() -> None:
    pt = template("llama2", RAW)
    row = pt.qa(HAMLET, SHAKESPEARE, index=3, few_shot=[(FRANCE, PARIS)])
    example = ["<s>", "Question", ":", "Ġ", "Capital", "Ġof", "ĠFrance", "?", "Ċ", "Answer", ":", "ĠParis", "Ċ", "Ċ"]
    assert row.prompt_ids == tuple(ids("llama2", *example, *RAW_HAMLET_PROMPT[1:]))
    assert row.target_ids == tuple(ids("llama2", "Shakespeare", "</s>"))  # no "\n\n" after the scored answer
    assert pt.prompt_ids(HAMLET, [(FRANCE, PARIS)]) == list(row.prompt_ids)


def test_llama2_chat_raw_preset_tags() -> None:
    # "[INST] " + q + " [/INST]" + "" + a: "]" and "Shakespeare" are separate pre-tokens
    row = template("llama2", LLAMA2_CHAT).qa(HAMLET, SHAKESPEARE, index=0)
    inst = ["[", "INST", "]"]
    question = ["Ġ", "Who", "Ġwrote", "ĠHamlet", "?"]
    assert row.prompt_ids == tuple(ids("llama2", "<s>", *inst, *question, "Ġ", "[", "/", "INST", "]"))
    assert row.target_ids == tuple(ids("llama2", "Shakespeare", "</s>"))


def test_raw_system_prompt_with_special_tokens_is_prepended() -> None:
    # Qwen2.5's tags without its chat template: the reference's raw fallback (no BOS for Qwen)
    row = template("qwen", {**QWEN, "apply_chat_template": False}).qa(HAMLET, SHAKESPEARE, index=0)
    system = ["<|im_start|>", "system", "Ċ", "You", "Ġare", "Ġa", "Ġhelpful", "Ġassistant", ".", "<|im_end|>", "Ċ"]
    user = ["<|im_start|>", "user", "Ċ", "Who", "Ġwrote", "ĠHamlet", "?", "<|im_end|>", "Ċ"]
    assert row.prompt_ids == tuple(ids("qwen", *system, *user, "<|im_start|>", "assistant", "Ċ"))
    assert row.target_ids == tuple(ids("qwen", "Shakespeare", "<|im_end|>"))  # EOS appended


# ---- QA, chat templates ----------------------------------------------------------------------------------------------
def test_llama3_chat_ids_with_system_prompt_and_date_string() -> None:
    pt = template("llama3", LLAMA3)
    row = pt.qa(HAMLET, SHAKESPEARE, index=0)
    header = ["<|start_header_id|>", "system", "<|end_header_id|>", "Ċ", "Ċ"]
    dates = ["Cutting", "ĠKnowledge", "ĠDate", ":", "ĠDecember", "Ġ2023", "Ċ"]
    dates += ["Today", "ĠDate", ":", "Ġ10", "ĠApr", "Ġ2025", "Ċ", "Ċ"]  # date_string "10 Apr 2025"
    system = ["You", "Ġare", "Ġa", "Ġhelpful", "Ġassistant", ".", "<|eot_id|>"]
    user = ["<|start_header_id|>", "user", "<|end_header_id|>", "Ċ", "Ċ", "Who", "Ġwrote", "ĠHamlet", "?", "<|eot_id|>"]
    asst = ["<|start_header_id|>", "assistant", "<|end_header_id|>", "Ċ", "Ċ"]
    assert row.prompt_ids == tuple(ids("llama3", "<|begin_of_text|>", *header, *dates, *system, *user, *asst))
    # the turn ends with <|eot_id|>, which is EOS: nothing appended
    assert row.target_ids == tuple(ids("llama3", "Shakespeare", "<|eot_id|>"))
    assert pt.prompt_ids(HAMLET) == list(row.prompt_ids)


def test_qwen_chat_ids_score_end_of_turn_newline_and_eos() -> None:
    pt = template("qwen", QWEN)
    row = pt.qa(HAMLET, SHAKESPEARE, index=0)
    system = ["<|im_start|>", "system", "Ċ", "You", "Ġare", "Ġa", "Ġhelpful", "Ġassistant", ".", "<|im_end|>", "Ċ"]
    user = ["<|im_start|>", "user", "Ċ", "Who", "Ġwrote", "ĠHamlet", "?", "<|im_end|>", "Ċ"]
    assert row.prompt_ids == tuple(ids("qwen", *system, *user, "<|im_start|>", "assistant", "Ċ"))
    assert row.target_ids == tuple(ids("qwen", "Shakespeare", "<|im_end|>", "Ċ", "<|im_end|>"))
    assert pt.prompt_ids(HAMLET) == list(row.prompt_ids)
    assert pt.decode(row.target_ids) == "Shakespeare\n"  # special tokens skipped


def test_qwen_chat_without_system_prompt_uses_the_template_default() -> None:
    pt = template("qwen", {**QWEN, "system_prompt": None})
    text = tokenizer("qwen").decode(pt.prompt_ids(HAMLET))
    assert text.startswith("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.")


def test_gemma_chat_ids_have_one_bos_and_score_end_of_turn_newline_and_eos() -> None:
    pt = template("gemma", GEMMA)
    row = pt.qa(HAMLET, SHAKESPEARE, index=0)
    user = ["<start_of_turn>", "user", "Ċ", "Who", "Ġwrote", "ĠHamlet", "?", "<end_of_turn>", "Ċ"]
    # the template writes <bos>; the rendered text is tokenised without special tokens, so no second BOS
    assert row.prompt_ids == tuple(ids("gemma", "<bos>", *user, "<start_of_turn>", "model", "Ċ"))
    assert row.target_ids == tuple(ids("gemma", "Shakespeare", "<end_of_turn>", "Ċ", "<eos>"))
    assert pt.prompt_ids(HAMLET) == list(row.prompt_ids)


def test_llama2_chat_template_ending_in_eos_gets_nothing_appended() -> None:
    # not a reference preset (its Llama-2-chat preset uses raw tags); the template ends a turn with " </s>"
    row = template("llama2", {"apply_chat_template": True}).qa(HAMLET, SHAKESPEARE, index=0)
    inst = ["[", "INST", "]"]
    question = ["Ġ", "Who", "Ġwrote", "ĠHamlet", "?"]
    assert row.prompt_ids == tuple(ids("llama2", "<s>", *inst, *question, "Ġ", "[", "/", "INST", "]"))
    assert row.target_ids == tuple(ids("llama2", "Ġ", "Shakespeare", "Ġ", "</s>"))


def test_chat_few_shot_turns_come_before_the_question() -> None:
    row = template("gemma", GEMMA).qa(HAMLET, SHAKESPEARE, index=0, few_shot=[(FRANCE, PARIS)])
    example = ["<start_of_turn>", "user", "Ċ", "Capital", "Ġof", "ĠFrance", "?", "<end_of_turn>", "Ċ"]
    example += ["<start_of_turn>", "model", "Ċ", *split("Paris"), "<end_of_turn>", "Ċ"]
    user = ["<start_of_turn>", "user", "Ċ", "Who", "Ġwrote", "ĠHamlet", "?", "<end_of_turn>", "Ċ"]
    assert row.prompt_ids == tuple(ids("gemma", "<bos>", *example, *user, "<start_of_turn>", "model", "Ċ"))
    assert row.target_ids == tuple(ids("gemma", "Shakespeare", "<end_of_turn>", "Ċ", "<eos>"))


@pytest.mark.parametrize("family, args", [("llama2", RAW), ("llama3", LLAMA3), ("qwen", QWEN), ("gemma", GEMMA)])
def test_qa_many_equals_one_call_per_pair(family: str, args: dict) -> None:
    pt = template(family, args)
    pairs = [(HAMLET, SHAKESPEARE), (FRANCE, PARIS)]
    many = pt.qa_many([q for q, _ in pairs], [a for _, a in pairs], start_index=5)
    assert many == [pt.qa(q, a, index=5 + k) for k, (q, a) in enumerate(pairs)]


# ---- completions and documents ---------------------------------------------------------------------------------------
def test_completion_masks_the_prefix_and_truncates_after_it() -> None:
    pt = template("llama2", RAW, max_length=1)
    row = pt.completion("Who wrote", "Hamlet?", index=2, insert_space=True)  # "Who wrote Hamlet?"
    assert row.prompt_ids == tuple(ids("llama2", "<s>", "Who", "Ġwrote"))
    assert row.target_ids == tuple(ids("llama2", "ĠHamlet"))  # len(prefix ids) + 1 kept; no EOS
    assert row.index == 2
    full = template("llama2", RAW).completion("Who wrote", "Hamlet?", index=2, insert_space=True)
    assert full.target_ids == tuple(ids("llama2", "ĠHamlet", "?"))
    assert pt.prefix_ids_many(["Who wrote"]) == [list(row.prompt_ids)]


def test_completion_of_an_empty_prefix_never_scores_position_zero() -> None:
    with_bos = template("llama2", RAW).completion("", HAMLET, index=0)
    assert with_bos.prompt_ids == tuple(ids("llama2", "<s>"))
    assert with_bos.target_ids == tuple(ids("llama2", "Who", "Ġwrote", "ĠHamlet", "?"))
    # no BOS (Qwen): the prefix has no ids, and still the first text token is not a target
    no_bos = template("qwen", QWEN).completion("", HAMLET, index=0)
    assert no_bos.prompt_ids == tuple(ids("qwen", "Who"))
    assert no_bos.target_ids == tuple(ids("qwen", "Ġwrote", "ĠHamlet", "?"))
    # insert_space applies to an empty prefix too (the reference inserts it unconditionally)
    spaced = template("llama2", RAW).completion("", HAMLET, index=0, insert_space=True)
    assert spaced.target_ids == tuple(ids("llama2", "Ġ", "Who", "Ġwrote", "ĠHamlet", "?"))


def test_pretraining_chunks_join_cut_decode_and_reencode() -> None:
    # "Who wrote Hamlet?\n\nShakespeare" -> Who Ġwrote ĠHamlet | ? Ċ Ċ | Shakespeare (7 ids, pieces of 3)
    rows = template("llama2", RAW, max_length=3).pretraining_chunks([HAMLET, SHAKESPEARE], start_index=4)
    assert [tokenizer("llama2").decode(r.target_ids) for r in rows] == ["Who wrote Hamlet", "?\n\n", "Shakespeare"]
    assert [r.prompt_ids for r in rows] == [tuple(ids("llama2", "<s>"))] * 3
    assert [r.target_ids for r in rows] == [
        tuple(ids("llama2", "Who", "Ġwrote", "ĠHamlet")),
        tuple(ids("llama2", "?", "Ċ", "Ċ")),
        tuple(ids("llama2", "Shakespeare")),
    ]
    assert [r.index for r in rows] == [4, 5, 6]


def test_pretraining_chunks_leave_out_an_empty_last_piece() -> None:
    # 7 ids and max_length 7: the reference's loop also decodes ids[7:14] == [], a row with no target
    rows = template("llama2", RAW, max_length=7).pretraining_chunks([HAMLET, SHAKESPEARE])
    assert len(rows) == 1
    assert rows[0].target_ids == tuple(ids("llama2", "Who", "Ġwrote", "ĠHamlet", "?", "Ċ", "Ċ", "Shakespeare"))
