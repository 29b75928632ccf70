"""Class probabilities of a sequence classifier over texts (the reference's ``classifier_prob``, used with a
gibberish detector on generations)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from unlearn_core.errors import DataError
from unlearn_core.models.loading import check_model_dir, looks_like_path


def class_probabilities(
    model: Any, tokenizer: Any, texts: Sequence[str], *, class_id: int, max_length: int, batch_size: int
) -> list[float]:
    """``softmax(logits)[class_id]`` per text; texts are truncated to ``max_length`` tokens and padded per batch."""
    device = next(model.parameters()).device
    out: list[float] = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            inputs = tokenizer(
                list(texts[start : start + batch_size]),
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=max_length,
                return_attention_mask=True,
            )
            logits = model(**{k: v.to(device) for k, v in inputs.items()}).logits
            out += torch.softmax(logits.float(), dim=-1)[:, class_id].tolist()
    return out


def load_classifier(path: str, device: Any) -> tuple[Any, Any]:
    """A sequence classifier and its tokenizer from ``path`` (safetensors only, no remote code), in eval mode."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if looks_like_path(path):
        check_model_dir(path)
    try:
        model = AutoModelForSequenceClassification.from_pretrained(path, use_safetensors=True, trust_remote_code=False)
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot load the classifier '{path}' (eval.classifier_model): {detail}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device).eval(), tokenizer
