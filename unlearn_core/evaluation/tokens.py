"""Token ids of evaluation prompts and answers, computed once per (data set, field) and shared by every pass."""

from __future__ import annotations

from typing import Any

from unlearn_core.data import PromptTemplate
from unlearn_core.errors import ConfigError
from unlearn_core.evaluation.suite import EvalDataset

Prompt = tuple[int, ...]
Target = tuple[int, ...]


class EvalTokens:
    """Tokenises each prompt and answer once; the same ids feed scoring, drafts and generation."""

    def __init__(self, tokenizer: Any, template: PromptTemplate) -> None:
        self.tokenizer = tokenizer
        self.template = template
        self._prompts: dict[tuple[str, str, str], list[Prompt]] = {}
        self._targets: dict[tuple[str, str], list[list[tuple[Prompt, Target]]]] = {}
        self._raw: dict[str, tuple[int, ...]] = {}

    def _encode(self, text: str) -> tuple[int, ...]:
        if text not in self._raw:
            self._raw[text] = tuple(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return self._raw[text]

    def _end_tag(self) -> str:
        """What ``PromptTemplate.answer_ids`` appends to an answer before tokenising it."""
        return "" if self.template.args.get("apply_chat_template") else self.template.args.get("asst_end_tag", "")

    def _encode_all(self, texts: list[str], *, qa: bool) -> None:
        """Tokenise many answers in one tokenizer call (the per-answer calls then hit the cache)."""
        end = self._end_tag() if qa else ""
        todo = sorted({t + end for t in texts} - set(self._raw))
        if todo:
            for text, ids in zip(todo, self.tokenizer(todo, add_special_tokens=False)["input_ids"]):
                self._raw[text] = tuple(ids)

    def _answer_ids(self, answer: str) -> tuple[int, ...]:
        """``PromptTemplate.answer_ids``: the answer and end tag, then EOS (from the batch-tokenised cache)."""
        eos = self.tokenizer.eos_token_id
        return self._encode(answer + self._end_tag()) + ((eos,) if eos is not None else ())

    def _bos(self) -> Prompt:
        bos = self.tokenizer.bos_token_id
        return (bos,) if bos is not None else ()

    def prompts(self, ds: EvalDataset, question_field: str | None = None, *, for_scoring: bool = False) -> list[Prompt]:
        """Prompt ids per row: the template around ``question_field`` (raw text with BOS for text sets)."""
        question = question_field or ds.question_field
        key = (ds.name, question, "score" if for_scoring else "generate")
        if key not in self._prompts:
            out = []
            for i, row in enumerate(ds.rows):
                if question not in row:
                    raise ConfigError(f"evaluation set '{ds.name}' has no field '{question}' (row {i})")
                if ds.kind == "text":
                    ids = tuple(self.tokenizer(row[question], add_special_tokens=True)["input_ids"])
                    out.append(ids[: self.template.max_length - 1])
                else:
                    ids = self._template_prompts(ds, question)[i]
                    out.append(ids[: self.template.max_length - 1] if for_scoring else ids)
            self._prompts[key] = out
        return self._prompts[key]

    def _template_prompts(self, ds: EvalDataset, question: str) -> list[Prompt]:
        """``PromptTemplate.prompt_ids`` of every row, in one tokenizer call when the template is plain tags."""
        key = (ds.name, question, "template")
        if key in self._prompts:
            return self._prompts[key]
        rows = [row[question] for row in ds.rows]
        out: list[Prompt] | None = None
        args = self.template.args
        if rows and not args.get("apply_chat_template"):
            shots = "".join(
                f"{args['user_start_tag']}{q}{args['user_end_tag']}{args['asst_start_tag']}{a}{args['asst_end_tag']}\n\n"
                for q, a in ds.few_shot
            )
            texts = [f"{shots}{args['user_start_tag']}{q}{args['user_end_tag']}{args['asst_start_tag']}" for q in rows]
            out = [tuple(ids) for ids in self.tokenizer(texts, add_special_tokens=True)["input_ids"]]
            if out[0] != tuple(self.template.prompt_ids(rows[0], ds.few_shot)):
                out = None  # the template changed: use it row by row
        if out is None:
            out = [tuple(self.template.prompt_ids(q, ds.few_shot)) for q in rows]
        self._prompts[key] = out
        return out

    def targets(self, ds: EvalDataset, field: str) -> list[list[tuple[Prompt, Target]]]:
        """Per row, one (prompt, target ids) per answer of ``field`` (a list field has several), as scored."""
        key = (ds.name, field)
        if key not in self._targets:
            out = []
            for i, row in enumerate(ds.rows):
                if field not in row:
                    raise ConfigError(f"evaluation set '{ds.name}' has no field '{field}' (row {i})")
                answers = row[field] if isinstance(row[field], list) else [row[field]]
                out.append(answers)
            self._encode_all([a for answers in out for a in answers], qa=ds.kind == "qa")
            self._targets[key] = [[self._target(ds, i, a, field) for a in answers] for i, answers in enumerate(out)]
        return self._targets[key]

    def _target(self, ds: EvalDataset, i: int, answer: str, field: str) -> tuple[Prompt, Target]:
        limit = self.template.max_length
        if ds.kind == "text" and field == ds.question_field:
            bos = self._bos()
            return bos, self._encode(answer)[: limit - len(bos)]
        prompt = self.prompts(ds, for_scoring=True)[i]
        if ds.kind == "text":
            return prompt, self._encode(answer)[: limit - len(prompt)]
        return prompt, self._answer_ids(answer)[: limit - len(prompt)]
