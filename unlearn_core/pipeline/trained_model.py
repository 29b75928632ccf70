"""The model a command trains: LoRA adapters added to it under ``peft=lora``, and what is saved of it at the end."""

from __future__ import annotations

from typing import Any

from unlearn_core.config import ExperimentConfig
from unlearn_core.config.peft import uses_lora
from unlearn_core.errors import ConfigError
from unlearn_core.pipeline.environment import seed_everything
from unlearn_core.pipeline.outputs import save_model_atomic


def with_lora(cfg: ExperimentConfig, model: Any, method: Any) -> Any:
    """``model`` with fresh LoRA adapters under ``peft=lora`` (a method that picks its own trainable parameters is
    refused: LoRA decides what trains), else ``model``."""
    if not uses_lora(cfg.values):
        return model
    if method is not None and method.trainable_parameters() is not None:
        raise ConfigError(f"method '{method.name}' chooses the parameters it trains, so it cannot train LoRA adapters")
    from unlearn_core.models.lora import with_adapters  # heavy (torch): loaded on first use

    args = cfg.get("trainer.args")
    seed_everything(args["seed"], bool(args.get("full_determinism")))  # the same initial adapters on any world size
    return with_adapters(model, cfg.get("peft"))


def save_final(accelerator: Any, result: Any, tokenizer: Any, path: Any, cfg: ExperimentConfig) -> Any:
    """Every process takes part in gathering the weights (ZeRO-3 shards them); process 0 writes them. A LoRA run
    saves its adapter, or with ``peft.merge_on_save`` the merged model. Returns the model to evaluate: the trained
    one, with LoRA adapters merged in (what the saved directory loads as)."""
    from unlearn_core.hidden_states import unwrap  # heavy (torch): loaded on first use
    from unlearn_core.models.lora import is_peft_model, merged  # heavy (torch): loaded on first use

    plugin = getattr(getattr(accelerator, "state", None), "deepspeed_plugin", None)
    sharded = plugin is not None and getattr(plugin, "zero_stage", 0) == 3
    state_dict = accelerator.get_state_dict(result.model) if sharded else None
    trained = accelerator.unwrap_model(result.model)
    lora = is_peft_model(trained)
    if lora and cfg.get("peft.merge_on_save"):
        trained = merged(trained)
    if accelerator.is_main_process:
        save_model_atomic(trained, tokenizer, path, state_dict=state_dict)
    accelerator.wait_for_everyone()
    return merged(trained) if is_peft_model(trained) else unwrap(trained)
