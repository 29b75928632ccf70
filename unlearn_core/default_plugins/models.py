"""Built-in model presets: the embedded tiny Llama and the real models users run."""

from __future__ import annotations

from typing import Any

from unlearn_core.hookspecs import hookimpl

EMBEDDED_MODEL = "tiny-llama"


def uses_embedded_model(cfg: dict[str, Any]) -> bool:
    """True when no model path was given and the embedded tiny model is selected."""
    return cfg["model"]["name"] == EMBEDDED_MODEL and not cfg["model"]["model_args"].get(
        "pretrained_model_name_or_path"
    )


@hookimpl
def register_models(register: Any) -> None:
    """Register the presets below."""
    from unlearn_core.models.presets import ModelPreset

    llama3 = {
        "apply_chat_template": True,
        "system_prompt": "You are a helpful assistant.",
        "date_string": "10 Apr 2025",
    }
    llama2_chat = {"user_start_tag": "[INST] ", "user_end_tag": " [/INST]", "asst_start_tag": "", "asst_end_tag": " "}
    presets = [
        ModelPreset(EMBEDDED_MODEL, None, description="embedded tiny Llama, trained by the benchmark's own recipe"),
        ModelPreset("Llama-3.2-1B-Instruct", "meta-llama/Llama-3.2-1B-Instruct", llama3),
        ModelPreset("Llama-3.2-3B-Instruct", "meta-llama/Llama-3.2-3B-Instruct", llama3),
        ModelPreset("Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct", llama3),
        ModelPreset("Llama-2-7b-chat-hf", "meta-llama/Llama-2-7b-chat-hf", llama2_chat),
        ModelPreset("Llama-2-7b-hf", "meta-llama/Llama-2-7b-hf", {}),
        ModelPreset(
            "Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct", {"apply_chat_template": True, "system_prompt": None}
        ),
        ModelPreset("phi-1_5", "microsoft/phi-1_5", {}),
        ModelPreset("gemma-7b-it", "google/gemma-7b-it", {"apply_chat_template": True}),
    ]
    for preset in presets:
        register(preset.name, preset)
