"""Built-in model presets: the embedded tiny Llama and the real models users run, with the reference's templates."""

from __future__ import annotations

from typing import Any

from unlearn_core.hookspecs import hookimpl
from unlearn_core.models.presets import ModelPreset

EMBEDDED_MODEL = "tiny-llama"
TINY_TEMPLATE = {"asst_start_tag": "Answer:"}
"""The embedded model's tags: no space before the answer, so the prompt's tokens stay a prefix of the scored
sequence with its byte-level BPE (a tag ending in a space is merged into the answer's first word, which is then
never a target: see ``token_rules``)."""


def uses_embedded_model(cfg: dict[str, Any]) -> bool:
    """True when no model path was given and the embedded tiny model is selected."""
    return cfg["model"]["name"] == EMBEDDED_MODEL and not cfg["model"]["model_args"].get(
        "pretrained_model_name_or_path"
    )


def _chat(system: str | None, user: tuple[str, str], asst: tuple[str, str], **extra: Any) -> dict[str, Any]:
    """A chat preset's template arguments (the tags are the reference's, kept for its raw fallback)."""
    args: dict[str, Any] = {"apply_chat_template": True, "system_prompt": system}
    if system is not None and "system_with_tokens" in extra:
        args["system_prompt_with_special_tokens"] = extra.pop("system_with_tokens")
    args.update(user_start_tag=user[0], user_end_tag=user[1], asst_start_tag=asst[0], asst_end_tag=asst[1], **extra)
    return args


HELPFUL = "You are a helpful assistant."
LLAMA3 = _chat(
    HELPFUL,
    ("<|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>"),
    ("<|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>"),
    system_with_tokens=f"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{HELPFUL}<|eot_id|>",
    date_string="10 Apr 2025",
)
QWEN = _chat(
    HELPFUL,
    ("<|im_start|>user\n", "<|im_end|>\n"),
    ("<|im_start|>assistant\n", "<|im_end|>\n"),
    system_with_tokens=f"<|im_start|>system\n{HELPFUL}<|im_end|>\n",
)
PHI35 = _chat(
    HELPFUL,
    ("<|user|>\n", "<|end|>\n"),
    ("<|assistant|>\n", "<|end|>\n"),
    system_with_tokens=f"<|system|>\n{HELPFUL}<|end|>\n",
)
GEMMA = _chat(None, ("<bos><start_of_turn>user\n", "<end_of_turn>\n"), ("<start_of_turn>model\n", "<end_of_turn>\n"))
ZEPHYR = _chat(
    HELPFUL,
    ("<|user|>\n", "</s>"),
    ("<|assistant|>\n", "</s>"),
    system_with_tokens=f"<|system|>\n{HELPFUL}</s>\n",
    date_string="10 Apr 2025",
)
LLAMA2_CHAT = {"user_start_tag": "[INST] ", "user_end_tag": " [/INST]", "asst_start_tag": "", "asst_end_tag": " "}

HUB_PRESETS: list[tuple[str, str, dict[str, Any]]] = [
    ("Llama-3.2-1B-Instruct", "meta-llama/Llama-3.2-1B-Instruct", LLAMA3),
    ("Llama-3.2-3B-Instruct", "meta-llama/Llama-3.2-3B-Instruct", LLAMA3),
    ("Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct", LLAMA3),
    ("Llama-2-7b-chat-hf", "meta-llama/Llama-2-7b-chat-hf", LLAMA2_CHAT),
    ("Llama-2-7b-hf", "meta-llama/Llama-2-7b-hf", {}),
    ("Llama-2-13b-hf", "meta-llama/Llama-2-13b-hf", {}),
    ("Qwen2.5-1.5B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct", QWEN),
    ("Qwen2.5-3B-Instruct", "Qwen/Qwen2.5-3B-Instruct", QWEN),
    ("Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct", QWEN),
    ("Phi-3.5-mini-instruct", "microsoft/Phi-3.5-mini-instruct", PHI35),
    ("phi-1_5", "microsoft/phi-1_5", {}),
    ("gemma-7b-it", "google/gemma-7b-it", GEMMA),
    ("zephyr-7b-beta", "HuggingFaceH4/zephyr-7b-beta", ZEPHYR),
]
"""(name, hub id, template arguments): the reference's model presets, with the same template arguments."""


@hookimpl
def register_models(register: Any) -> None:
    """Register the presets above and the embedded tiny model."""
    register(
        EMBEDDED_MODEL,
        ModelPreset(EMBEDDED_MODEL, None, TINY_TEMPLATE, description="embedded tiny Llama, trained by the benchmark"),
    )
    for name, hub_id, template in HUB_PRESETS:
        register(name, ModelPreset(name, hub_id, dict(template)))
