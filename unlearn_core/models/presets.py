"""Model presets: a name selecting model arguments and the prompt template (``model=Llama-3.2-1B-Instruct``)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

RAW_TAGS = {"user_start_tag": "Question: ", "user_end_tag": "\n", "asst_start_tag": "Answer: ", "asst_end_tag": "\n\n"}
"""The reference's raw template (its Llama-2-7b-hf and phi-1_5 presets)."""
TEMPLATE_DEFAULTS = {
    "apply_chat_template": False,
    "system_prompt": None,
    "system_prompt_with_special_tokens": None,
    "date_string": None,
    **RAW_TAGS,
}


@dataclass(frozen=True)
class ModelPreset:
    """A named model: where to load it from, how to call from_pretrained, and its template arguments."""

    name: str
    pretrained_model_name_or_path: str | None
    template_args: dict[str, Any] = field(default_factory=dict)
    model_args: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def config(self) -> dict[str, Any]:
        """The ``model`` section this preset stands for."""
        template = {**TEMPLATE_DEFAULTS, **self.template_args}
        return copy.deepcopy(
            {
                "name": self.name,
                "model_args": {
                    "pretrained_model_name_or_path": self.pretrained_model_name_or_path,
                    "torch_dtype": "bfloat16" if self.pretrained_model_name_or_path else "float32",
                    **self.model_args,
                },
                "tokenizer_args": {"pretrained_model_name_or_path": None},  # the model's own, wherever it is
                "template_args": template,
            }
        )
