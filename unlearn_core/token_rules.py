"""The token rules of the reference implementation, exactly (spec/DATASETS.md, "Text formats").

Scores are comparable with published ones only when the token ids are equal, so every sequence is built the way the
reference builds it:

- **QA, raw tags.** Few-shot pairs ``user_start + q + user_end + asst_start + a + asst_end`` (the end tag goes
  only between few-shot pairs, never after the scored answer), then ``user_start + q + user_end + asst_start`` is
  the prompt. The scored sequence is ``tokenizer(prompt + answer)``, one joint call with special tokens, truncated
  to ``max_length``, with EOS appended when its last id is not EOS. The first ``len(tokenizer(prompt))`` positions
  are never targets, also when the prompt's own tokens are not a prefix of the joint ones (a tag ending in a space
  that a byte-level BPE merges into the answer's first word): that token is then not scored.
- **QA, chat template.** The whole chat (system prompt, few-shot turns, the answer) rendered with
  ``add_generation_prompt=False`` against ``chat[:-1]`` rendered with ``add_generation_prompt=True``; EOS appended
  when the last id is not EOS, so templates that end a turn with a newline after the end-of-turn token (Qwen2.5,
  Gemma) score end-of-turn, newline and EOS. Chat sequences are not truncated.
- **Completion** (verbatim continuations, documents): ``tokenizer(prefix + [" "] + text)`` truncated to
  ``len(prefix ids) + max_length``; the prefix's positions, and position 0 always, are not targets; no EOS.
- **Pretraining chunks** (unlearning on raw documents): every text joined with ``"\\n\\n"``, tokenised without
  special tokens, cut into ``max_length`` pieces, each decoded and scored as a completion of an empty prefix.

The generation prompt is the prompt's own ids (``tokenizer(prompt)`` or the chat up to the generation prompt).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from unlearn_core.data import Tokenized

FewShot = Sequence[tuple[str, str]]


class PromptTemplate:
    """Builds prompts, scored QA sequences and completions for one tokenizer and ``model.template_args``."""

    def __init__(self, tokenizer: Any, template_args: dict[str, Any], max_length: int) -> None:
        self.tokenizer = tokenizer
        self.args = template_args
        self.max_length = max_length

    @property
    def chat(self) -> bool:
        """Whether the tokenizer's chat template formats the QA pairs."""
        return bool(self.args.get("apply_chat_template"))

    # ---- QA ---------------------------------------------------------------------------------------------------------
    def qa(self, question: str, answer: str, index: int, few_shot: FewShot = ()) -> Tokenized:
        """The scored sequence of one QA pair: the prompt's positions, then the targets."""
        return self.qa_many([question], [answer], few_shot, start_index=index)[0]

    def qa_many(
        self, questions: Sequence[str], answers: Sequence[str], few_shot: FewShot = (), *, start_index: int = 0
    ) -> list[Tokenized]:
        """``qa`` for many pairs with two tokenizer calls (the same ids as one call per pair)."""
        if self.chat:
            full_texts = [self._chat_text(q, few_shot, a) for q, a in zip(questions, answers)]
            sequences = self._encode(full_texts, special=False)
        else:
            full_texts = [self._raw_prompt(q, few_shot) + a for q, a in zip(questions, answers)]
            sequences = self._encode(full_texts, special=True, truncate=True)
        prompts = self.prompt_ids_many(questions, few_shot)
        eos = self.tokenizer.eos_token_id
        out = []
        for k, (ids, prompt) in enumerate(zip(sequences, prompts)):
            if eos is not None and (not ids or ids[-1] != eos):
                ids = [*ids, eos]
            cut = len(prompt)
            out.append(Tokenized(tuple(ids[:cut]), tuple(ids[cut:]), start_index + k))
        return out

    def qa_with_extras(
        self, questions: Sequence[str], answers: Sequence[str], extras: Mapping[str, Sequence[str]]
    ) -> list[Tokenized]:
        """``qa_many`` whose samples also carry other answers to the same questions (``Tokenized.extras``, by field
        name: an "I don't know" answer, a paraphrase), each scored by the same rule with the sample's index."""
        samples = self.qa_many(questions, answers)
        if not extras:
            return samples
        by_field = {name: self.qa_many(questions, texts) for name, texts in extras.items()}
        return [s.with_extras({name: rows[k] for name, rows in by_field.items()}) for k, s in enumerate(samples)]

    def prompt_ids(self, question: str, few_shot: FewShot = ()) -> list[int]:
        """Token ids of the prompt up to where the answer starts (generation starts here)."""
        return self.prompt_ids_many([question], few_shot)[0]

    def prompt_ids_many(self, questions: Sequence[str], few_shot: FewShot = ()) -> list[list[int]]:
        """``prompt_ids`` of many questions in one tokenizer call."""
        if self.chat:
            return self._encode([self._chat_text(q, few_shot) for q in questions], special=False)
        return self._encode([self._raw_prompt(q, few_shot) for q in questions], special=True, truncate=True)

    def _raw_prompt(self, question: str, few_shot: FewShot) -> str:
        a = self.args
        text = a.get("system_prompt_with_special_tokens") or ""
        for q, ans in few_shot:
            text += f"{a['user_start_tag']}{q}{a['user_end_tag']}{a['asst_start_tag']}{ans}{a['asst_end_tag']}"
        return text + f"{a['user_start_tag']}{question}{a['user_end_tag']}{a['asst_start_tag']}"

    def _chat_text(self, question: str, few_shot: FewShot, answer: str | None = None) -> str:
        """The rendered chat: up to the generation prompt, or (with ``answer``) the whole conversation."""
        messages = []
        if self.args.get("system_prompt"):
            messages.append({"role": "system", "content": self.args["system_prompt"]})
        for q, a in few_shot:
            messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        messages.append({"role": "user", "content": question})
        if answer is not None:
            messages.append({"role": "assistant", "content": answer})
        kwargs = {"date_string": self.args["date_string"]} if self.args.get("date_string") is not None else {}
        return self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=answer is None, **kwargs
        )

    def _encode(self, texts: list[str], *, special: bool, truncate: bool = False) -> list[list[int]]:
        if not texts:
            return []
        kwargs: dict[str, Any] = {"max_length": self.max_length, "truncation": True} if truncate else {}
        return [list(ids) for ids in self.tokenizer(texts, add_special_tokens=special, **kwargs)["input_ids"]]

    # ---- completions and documents ------------------------------------------------------------------------------
    def completion(self, prefix: str, text: str, index: int, *, insert_space: bool = False) -> Tokenized:
        """``text`` scored after ``prefix`` (an empty prefix scores a whole document after BOS)."""
        return self.completion_many([prefix], [text], insert_space=insert_space, start_index=index)[0]

    def completion_many(
        self, prefixes: Sequence[str], texts: Sequence[str], *, insert_space: bool = False, start_index: int = 0
    ) -> list[Tokenized]:
        """``completion`` for many rows with two tokenizer calls."""
        space = " " if insert_space else ""
        full = self._encode([p + space + t for p, t in zip(prefixes, texts)], special=True)
        out = []
        for k, (ids, prefix) in enumerate(zip(full, self.prefix_ids_many(prefixes))):
            ids = ids[: len(prefix) + self.max_length]
            cut = max(len(prefix), 1)  # position 0 is never a target
            out.append(Tokenized(tuple(ids[:cut]), tuple(ids[cut:]), start_index + k))
        return out

    def prefix_ids_many(self, prefixes: Sequence[str]) -> list[list[int]]:
        """Token ids of completion prefixes with special tokens (the generation prompts of completions)."""
        return self._encode(list(prefixes), special=True)

    def pretraining_chunks(self, texts: Sequence[str], start_index: int = 0) -> list[Tokenized]:
        """Documents joined with a blank line, cut into ``max_length``-token pieces, each a completion of "".

        A piece is decoded and tokenised again (with BOS), as the reference does; an empty last piece (the joined
        text's length a multiple of ``max_length``) has no target and is left out.
        """
        ids = self.tokenizer("\n\n".join(texts), add_special_tokens=False)["input_ids"]
        size = self.max_length
        pieces = [self.tokenizer.decode(ids[i * size : (i + 1) * size]) for i in range(len(ids) // size + 1)]
        pieces = [p for p in pieces if p]
        return self.completion_many([""] * len(pieces), pieces, start_index=start_index)

    def text_chunks(self, text: str, start_index: int = 0) -> list[Tokenized]:
        """One document cut into ``max_length`` pieces after BOS, ids kept as they are (the embedded recipes'
        own training format: no document spills into another)."""
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        bos = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
        size = self.max_length - len(bos)
        return [
            Tokenized(tuple(bos), tuple(ids[i : i + size]), start_index + n)
            for n, i in enumerate(range(0, max(len(ids), 1), size))
            if ids[i : i + size]
        ]

    # ---- text as the reference reports it -------------------------------------------------------------------------
    def decode(self, ids: Sequence[int]) -> str:
        """Text as the reference reports prompts, ground truths and generations: special tokens skipped, and the
        tokenizer's clean-up of spaces before punctuation asked for (transformers skips it for BPE models)."""
        return self.tokenizer.decode(list(ids), skip_special_tokens=True, clean_up_tokenization_spaces=self._clean_up)

    @property
    def _clean_up(self) -> bool:
        """False where transformers would ignore the clean-up anyway (BPE models), which it says in a warning."""
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        skipped = type(getattr(backend, "model", None)).__name__ == "BPE" and not getattr(
            self.tokenizer, "clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output", False
        )
        return not skipped
