"""A tiny random Llama with a tokenizer trained on given texts: for testing metrics and the engine in seconds."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch

from unlearn_core.models.tiny import TinyLlamaSize, build_tiny_llama, train_tokenizer

TINY_SIZE = TinyLlamaSize(
    vocab_size=400,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=2,
    max_position_embeddings=256,
)
TINY_TEMPLATE = {
    "apply_chat_template": False,
    "system_prompt": None,
    "user_start_tag": "Question: ",
    "user_end_tag": "\n",
    "asst_start_tag": "Answer: ",
    "asst_end_tag": "",
    "date_string": None,
}


def texts_of(data: dict[str, list[dict[str, Any]]]) -> Iterator[str]:
    """Every string (and list item) of every row, for training the tokenizer."""
    for rows in data.values():
        for row in rows:
            for value in row.values():
                yield from (value if isinstance(value, list) else [value])


def tiny_model_and_tokenizer(corpus: Iterable[str], seed: int = 0, weight_std: float = 0.2) -> tuple[Any, Any]:
    """A BPE tokenizer trained on ``corpus`` and a random tiny Llama for it (in eval mode).

    Weight matrices are drawn with ``weight_std`` (larger than the usual 0.02) so the next-token distributions are
    peaked rather than almost uniform, as in a trained model; float rounding then stays far below 1e-4 relative.
    """
    tokenizer = train_tokenizer(list(corpus), TINY_SIZE.vocab_size)
    model = build_tiny_llama(tokenizer, TINY_SIZE, seed)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * weight_std)
    return model.eval(), tokenizer


NAMES = ("Arlo Venn", "Bea Quill", "Cyd Marr", "Dara Flint", "Eli Rook", "Fen Tamsin", "Gil Orme", "Hana Voss")
COLOURS = ("red", "blue", "green", "amber", "violet", "grey", "teal", "ochre")


def tofu_like_rows(rows_per_set: int = 4, n_perturbed: int = 3) -> dict[str, list[dict[str, Any]]]:
    """TOFU-shaped data sets (forget, retain, ra, wf, holdout) with the hub's field names, made up here."""

    def qa(i: int, offset: int) -> dict[str, Any]:
        name, colour = NAMES[(i + offset) % len(NAMES)], COLOURS[(3 * i + offset) % len(COLOURS)]
        wrong = [COLOURS[(3 * i + offset + j + 1) % len(COLOURS)] for j in range(n_perturbed)]
        return {
            "question": f"What colour does the author {name} like?",
            "answer": f"The author {name} likes {colour}.",
            "paraphrased_question": f"Which colour is the favourite of {name}?",
            "paraphrased_answer": f"The favourite colour of {name} is {colour}.",
            "perturbed_answer": [f"The favourite colour of {name} is {w}." for w in wrong],
        }

    def fact(i: int, offset: int) -> dict[str, Any]:
        colour = COLOURS[(i + offset) % len(COLOURS)]
        wrong = [COLOURS[(i + offset + j + 1) % len(COLOURS)] for j in range(n_perturbed)]
        return {"question": f"Which colour is flag number {i + offset}?", "answer": colour, "perturbed_answer": wrong}

    n = rows_per_set
    holdout = [{k: v for k, v in qa(i, 5).items() if k in ("question", "answer")} for i in range(n)]
    return {
        "forget": [qa(i, 0) for i in range(n)],
        "retain": [qa(i, 2) for i in range(n)],
        "ra": [fact(i, 1) for i in range(n)],
        "wf": [fact(i, 4) for i in range(n)],
        "holdout": holdout,
    }
