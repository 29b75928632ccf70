"""Token ids and reported texts of an evaluation set, built once per (data set, field) with the reference's token
rules (``token_rules``) and shared by scoring, drafts, generation and the metrics."""

from __future__ import annotations

from typing import Any

from unlearn_core.choice_tokens import choice_sequences, context_ids
from unlearn_core.data import Tokenized
from unlearn_core.errors import ConfigError
from unlearn_core.evaluation.suite import EvalDataset
from unlearn_core.token_rules import PromptTemplate

Prompt = tuple[int, ...]
Target = tuple[int, ...]


class EvalTokens:
    """Tokenises each prompt and answer once; the same ids feed scoring, drafts and generation.

    A QA row is scored as the reference scores it (one joint tokenisation of prompt and answer, targets after the
    prompt's own token count) and generated from the prompt's own ids; a text row is a completion of its
    ``question_field`` (the data set's prefix; none when the scored field is the prefix field itself); a choice row
    scores each choice after its context as lm-evaluation-harness does, cut to ``context_limit`` tokens.
    """

    def __init__(self, tokenizer: Any, template: PromptTemplate, context_limit: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.template = template
        self.context_limit = context_limit
        self._prompts: dict[tuple[str, str], list[Prompt]] = {}
        self._sequences: dict[tuple[str, str, str], list[list[Tokenized]]] = {}

    def _field(self, ds: EvalDataset, name: str) -> list[Any]:
        values = []
        for i, row in enumerate(ds.rows):
            if name not in row:
                raise ConfigError(f"evaluation set '{ds.name}' has no field '{name}' (row {i})")
            values.append(row[name])
        return values

    def prompts(self, ds: EvalDataset, question_field: str | None = None) -> list[Prompt]:
        """Generation prompt ids per row: the templated question (QA) or the prefix with special tokens (text)."""
        question = question_field or ds.question_field
        key = (ds.name, question)
        if key not in self._prompts:
            values = self._field(ds, question)
            if ds.kind == "text":
                ids = self.template.prefix_ids_many(values)
            elif ds.kind == "choice":
                ids = context_ids(self.tokenizer, values)
            else:
                ids = self.template.prompt_ids_many(values, ds.few_shot)
            self._prompts[key] = [tuple(p) for p in ids]
        return self._prompts[key]

    def sequences(self, ds: EvalDataset, field: str, question_field: str | None = None) -> list[list[Tokenized]]:
        """Per row, the scored sequence of each answer of ``field`` (a list field has several)."""
        question = question_field or ds.question_field
        key = (ds.name, question, field)
        if key not in self._sequences:
            answers = [a if isinstance(a, list) else [a] for a in self._field(ds, field)]
            flat = [(i, a) for i, row in enumerate(answers) for a in row]
            if ds.kind == "choice":
                contexts = self._field(ds, question)
                delimiter = " " if ds.insert_space else ""
                done = choice_sequences(
                    self.tokenizer, [contexts[i] for i, _ in flat], [delimiter + a for _, a in flat], self.context_limit
                )
            elif ds.kind == "text":
                own = field == question  # the prefix field scored itself: a whole document after BOS
                prefixes = [""] * len(flat) if own else [self._field(ds, question)[i] for i, _ in flat]
                done = self.template.completion_many(prefixes, [a for _, a in flat], insert_space=ds.insert_space)
            else:
                questions = self._field(ds, question)
                done = self.template.qa_many([questions[i] for i, _ in flat], [a for _, a in flat], ds.few_shot)
            out: list[list[Tokenized]] = [[] for _ in answers]
            for (i, _), seq in zip(flat, done):
                out[i].append(seq)
            self._sequences[key] = out
        return self._sequences[key]

    def targets(self, ds: EvalDataset, field: str) -> list[list[tuple[Prompt, Target]]]:
        """Per row, one (positions before the targets, target ids) per answer of ``field``, as scored."""
        return [[(s.prompt_ids, s.target_ids) for s in row] for row in self.sequences(ds, field)]

    def drafts(self, ds: EvalDataset, field: str, question_field: str | None = None) -> list[Target]:
        """Per row, the ids a greedy continuation of its generation prompt is guessed to follow (a list field: its
        first answer). A guess only saves decoding steps (``evaluation.decoding``); it never changes an output.

        It is the answer as scored, except where the scored text differs from what the model read: a completion
        whose answer already begins with whitespace, scored with a space inserted before it (the reference's rule,
        MUSE's verbatim probe). There the model read prefix and answer as one text, so the guess is the answer
        tokenised on from the prefix as written, when the prefix's own ids begin that tokenisation.
        """
        question = question_field or ds.question_field
        answers = [a[0] if isinstance(a, list) else a for a in self._field(ds, field)]
        scored = [row[0].target_ids for row in self.sequences(ds, field, question)]
        if ds.kind != "text" or not ds.insert_space or field == question:
            return scored
        prefixes, prompts = self._field(ds, question), self.prompts(ds, question)
        written = [i for i, answer in enumerate(answers) if answer[:1].isspace()]
        joint = self.template.prefix_ids_many([prefixes[i] + answers[i] for i in written])
        drafts = list(scored)
        for i, ids in zip(written, joint):
            if len(ids) > len(prompts[i]) and tuple(ids[: len(prompts[i])]) == prompts[i]:
                drafts[i] = tuple(ids[len(prompts[i]) :])
        return drafts

    def inputs(self, ds: EvalDataset, question_field: str | None = None) -> list[str]:
        """The generation prompt of each row as text, the way the reference reports it."""
        return [self.template.decode(p) for p in self.prompts(ds, question_field)]

    def ground_truths(self, ds: EvalDataset, field: str, question_field: str | None = None) -> list[Any]:
        """What ROUGE compares generations with, per row (a list for a list field), derived as the reference does:
        the scored ids decoded (a QA row: the whole sequence) with the decoded prompt removed, stripped."""
        inputs = self.inputs(ds, question_field)
        out: list[Any] = []
        for i, row in enumerate(self.sequences(ds, field, question_field)):
            texts = []
            for seq in row:
                ids = seq.target_ids if ds.kind == "text" else seq.prompt_ids + seq.target_ids
                texts.append(self.template.decode(ids).replace(inputs[i], "").strip())
            out.append(texts if isinstance(ds.rows[i][field], list) else texts[0])
        return out

    def target_texts(self, ds: EvalDataset, field: str) -> list[Any]:
        """The scored target ids of each row decoded (special tokens skipped), as the zlib attack reads them."""
        out: list[Any] = []
        for i, row in enumerate(self.sequences(ds, field)):
            texts = [self.tokenizer.decode(list(seq.target_ids), skip_special_tokens=True) for seq in row]
            out.append(texts if isinstance(ds.rows[i][field], list) else texts[0])
        return out
