"""Turn questions/answers or raw text into token ids with the model's template, and collate padded batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

IGNORE_INDEX = -100


@dataclass(frozen=True)
class Tokenized:
    """One sample: prompt ids (never trained on) followed by target ids (answer, end tag and EOS)."""

    prompt_ids: tuple[int, ...]
    target_ids: tuple[int, ...]
    index: int

    @property
    def length(self) -> int:
        """Total sequence length."""
        return len(self.prompt_ids) + len(self.target_ids)


class PromptTemplate:
    """Formats prompts and answers as the model expects: a chat template or raw user/assistant tags."""

    def __init__(self, tokenizer: Any, template_args: dict[str, Any], max_length: int) -> None:
        self.tokenizer = tokenizer
        self.args = template_args
        self.max_length = max_length

    def _messages(self, question: str, few_shot: Sequence[tuple[str, str]] = ()) -> list[dict[str, str]]:
        messages = []
        if self.args.get("system_prompt"):
            messages.append({"role": "system", "content": self.args["system_prompt"]})
        for q, a in few_shot:
            messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        messages.append({"role": "user", "content": question})
        return messages

    def prompt_ids(self, question: str, few_shot: Sequence[tuple[str, str]] = ()) -> list[int]:
        """Token ids of the prompt up to where the answer starts (generation starts here)."""
        if self.args.get("apply_chat_template"):
            kwargs = {"date_string": self.args["date_string"]} if self.args.get("date_string") else {}
            ids = self.tokenizer.apply_chat_template(
                self._messages(question, few_shot), tokenize=True, add_generation_prompt=True, **kwargs
            )
            return list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)
        a = self.args
        text = "".join(
            f"{a['user_start_tag']}{q}{a['user_end_tag']}{a['asst_start_tag']}{ans}{a['asst_end_tag']}\n\n"
            for q, ans in few_shot
        )
        text += f"{a['user_start_tag']}{question}{a['user_end_tag']}{a['asst_start_tag']}"
        return list(self.tokenizer(text, add_special_tokens=True)["input_ids"])

    def answer_ids(self, answer: str) -> list[int]:
        """Token ids of the answer followed by the end-of-turn tag and EOS (the training targets)."""
        end = "" if self.args.get("apply_chat_template") else self.args.get("asst_end_tag", "")
        ids = list(self.tokenizer(answer + end, add_special_tokens=False)["input_ids"])
        eos = self.tokenizer.eos_token_id
        if eos is not None:
            ids.append(eos)
        return ids

    def qa(self, question: str, answer: str, index: int, few_shot: Sequence[tuple[str, str]] = ()) -> Tokenized:
        """Prompt + answer, truncated to ``max_length`` (the prompt keeps priority)."""
        prompt = self.prompt_ids(question, few_shot)[: self.max_length - 1]
        target = self.answer_ids(answer)[: self.max_length - len(prompt)]
        return Tokenized(tuple(prompt), tuple(target), index)

    def text_chunks(self, text: str, start_index: int = 0) -> list[Tokenized]:
        """Pretraining-style chunks of raw text: every token after BOS is a target; no decode/re-encode."""
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        bos = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
        size = self.max_length - len(bos)
        return [
            Tokenized(tuple(bos), tuple(ids[i : i + size]), start_index + n)
            for n, i in enumerate(range(0, max(len(ids), 1), size))
            if ids[i : i + size]
        ]


def collate(samples: Sequence[Tokenized], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded batch with labels (-100 on prompt and padding) and a mask built from real lengths."""
    import torch

    width = max(s.length for s in samples)
    input_ids = torch.full((len(samples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(samples), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(samples), width), dtype=torch.long)
    for row, s in enumerate(samples):
        ids = s.prompt_ids + s.target_ids
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, len(s.prompt_ids) : len(ids)] = torch.tensor(s.target_ids)
        mask[row, : len(ids)] = 1
    index = torch.tensor([s.index for s in samples], dtype=torch.long)
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels, "index": index}


def collate_prompts(prompts: Sequence[Sequence[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Left-padded prompts for batched generation, mask from real lengths."""
    import torch

    width = max(len(p) for p in prompts)
    input_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, p in enumerate(prompts):
        if p:
            input_ids[row, width - len(p) :] = torch.tensor(list(p))
            mask[row, width - len(p) :] = 1
    return {"input_ids": input_ids, "attention_mask": mask}
